"""Statistics of the catalog, checked against sums over the published table.

The expected values are recomputed here from ``tests/data/table1_published.tsv``,
a transcription of the printed table, with plain Python instead of pandas, plus a
few totals quoted from the paper.
"""

import csv
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from biovfm_utils import stats
from biovfm_utils.catalog import load_catalog

PUBLISHED = Path(__file__).parent / "data" / "table1_published.tsv"
LABELS = {
    "X-Ray": "X-ray",
    "US": "Ultrasound",
    "NM": "Nuclear medicine",
    "Dermascopy": "Dermoscopy",
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def published():
    with PUBLISHED.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    for row in rows:
        row["n_images"] = int(row["n_images"])
        row["modalities"] = [LABELS.get(m.strip(), m.strip()) for m in row["modality"].split(",")]
    return rows


def test_totals(catalog):
    assert stats.totals(catalog) == {"n_sources": 61, "n_images": 21_472_715}


def test_by_group_sums_match_table(catalog, published):
    images = defaultdict(int)
    sources = Counter()
    for row in published:
        group = row["modalities"][0] if len(row["modalities"]) == 1 else "Multi-modality"
        images[group] += row["n_images"]
        sources[group] += 1
    grouped = stats.by_group(catalog)
    assert grouped["n_images"].to_dict() == dict(images)
    assert grouped["n_sources"].to_dict() == dict(sources)


def test_by_group_shares_sum_to_one(catalog):
    assert stats.by_group(catalog)["share"].sum() == pytest.approx(1.0)


def test_by_group_is_sorted_largest_first(catalog):
    counts = list(stats.by_group(catalog)["n_images"])
    assert counts == sorted(counts, reverse=True)


def test_collections_hold_47_percent(catalog):
    # RadImageNet + RP3D-DiagDS + SAM-Med2D-20M = 10,122,581 images.
    collections = stats.by_group(catalog).loc["Multi-modality"]
    assert collections["n_images"] == 1_078_477 + 5_274_618 + 3_769_486
    assert collections["share"] == pytest.approx(0.4714, abs=1e-4)


def test_sources_per_modality_counts_collections_per_listed_modality(catalog, published):
    expected = Counter(m for row in published for m in row["modalities"])
    per_modality = stats.sources_per_modality(catalog)
    assert per_modality["total"].to_dict() == {m: expected.get(m, 0) for m in per_modality.index}


def test_nuclear_medicine_only_in_collections(catalog):
    row = stats.sources_per_modality(catalog).loc["Nuclear medicine"]
    assert row["single"] == 0
    assert row["collections"] == 2


def test_fundus_sources(catalog):
    row = stats.sources_per_modality(catalog).loc["Fundus"]
    assert (row["single"], row["collections"], row["total"]) == (20, 1, 21)


def test_largest_six_hold_84_95_percent(catalog):
    top = stats.concentration(catalog, top=(6,))
    assert top.loc[6, "n_images"] == 18_241_389
    assert round(top.loc[6, "share"] * 100, 2) == 84.95


def test_concentration_matches_sorted_counts(catalog, published):
    counts = sorted((row["n_images"] for row in published), reverse=True)
    total = sum(counts)
    top = stats.concentration(catalog, top=(1, 3, 6))
    for k in (1, 3, 6):
        assert top.loc[k, "n_images"] == sum(counts[:k])
        assert top.loc[k, "share"] == pytest.approx(sum(counts[:k]) / total)


def test_largest_source_is_rp3d(catalog):
    assert stats.concentration(catalog, top=(1,)).loc[1, "sources"] == "RP3D-DiagDS"


def test_small_sources_under_1000(catalog, published):
    expected = sorted(row["dataset"] for row in published if row["n_images"] < 1000)
    small = stats.small_sources(catalog, threshold=1000)
    assert sorted(small["name"]) == expected
    assert len(small) == 26


def test_ranked_sources_cumulative_share_ends_at_one(catalog):
    ranked = stats.ranked_sources(catalog)
    assert ranked["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    assert list(ranked["rank"]) == list(range(1, 62))


def test_by_year_sums(catalog):
    yearly = stats.by_year(catalog)
    assert yearly["n_sources"].sum() == 61
    assert yearly["n_images"].sum() == 21_472_715
    assert list(yearly.index) == sorted(yearly.index)


def test_by_year_matches_catalog_years(catalog):
    expected = defaultdict(int)
    for _, source in catalog.iterrows():
        expected[source["year"]] += source["n_images"]
    assert stats.by_year(catalog)["n_images"].to_dict() == dict(expected)


def test_by_access_covers_every_source(catalog):
    access = stats.by_access(catalog)
    assert list(access.index) == [
        "open download",
        "registration",
        "credentialed",
        "Kaggle",
        "Hugging Face",
        "challenge",
    ]
    assert access["n_sources"].sum() == 61
    assert access["n_images"].sum() == 21_472_715


def test_by_access_hugging_face_is_the_two_collections(catalog):
    row = stats.by_access(catalog).loc["Hugging Face"]
    assert row["n_sources"] == 2
    assert row["n_images"] == 5_274_618 + 3_769_486


def test_verification_summary_counts_every_source(catalog):
    summary = stats.verification_summary(catalog)
    assert summary["access"].sum() == 61
    assert summary["licence"].sum() == 61
