"""Relations between pairs of Table 1 sources, their bounds and their validation.

Bounds are recomputed here from the catalog and from SA-Med2D-20M's published image
counts. Validation errors are provoked on copies of the packaged file written to
``tmp_path``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from biovfm_utils.breakdowns import load_breakdowns
from biovfm_utils.catalog import find_source, load_catalog
from biovfm_utils.composition import collection_split
from biovfm_utils.composition_data import EVIDENCE_GRADES, CompositionDataError
from biovfm_utils.overlaps import (
    ANY_OTHER_SOURCE,
    NO_OVERLAP,
    OVERLAP_COLUMNS,
    OVERLAP_RELATIONS,
    bounds_by_grade,
    checks_without_overlap,
    default_overlaps_path,
    gaps,
    known_overlaps,
    load_overlaps,
    shared_image_bounds,
)

#: SA-Med2D-20M's published images of the modalities that the overlaps involve.
SA_MED2D_IMAGES = {"Endoscopy": 5_838, "Dermoscopy": 7_935, "X-ray": 6_407}

#: Relations between two Table 1 rows that the published evidence supports.
EXPECTED_RELATIONS = {
    ("Endo-FM", "includes", "Kvasir-Capsule"): "documented",
    ("SAM-Med2D-20M", "includes", "Kvasir-Capsule"): "third-party",
    ("SAM-Med2D-20M", "includes", "ISIC-Archive"): "inferred",
    ("SAM-Med2D-20M", "includes", "Shenzhen CXR"): "third-party",
    ("SAM-Med2D-20M", "includes", "Montgomery CXR"): "inferred",
    ("SAM-Med2D-20M", "includes", "ChestXray-14"): "inferred",
    ("SAM-Med2D-20M", "shares source scans with", "ULS23"): "inferred",
    ("VinDr-CXR", "includes", "VinDr-RibCXR"): "documented",
    ("Endo-FM", "may share images with", "SAM-Med2D-20M"): "inferred",
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def relations(catalog):
    return load_overlaps(catalog=catalog)


@pytest.fixture(scope="module")
def bounds(catalog, relations):
    split = collection_split(catalog, load_breakdowns(catalog=catalog))
    return shared_image_bounds(relations, catalog, split)


def bound_of(bounds, source: str, other_source: str):
    row = bounds[
        (bounds["source"] == source) & (bounds["other_source"] == other_source)
    ]
    assert len(row) == 1, (source, other_source)
    return row["max_shared_images"].iloc[0]


def n_images(catalog, name: str) -> int:
    return int(find_source(name, catalog)["n_images"])


# The packaged data


def test_every_overlap_names_two_catalog_sources(relations, catalog):
    for _, row in known_overlaps(relations).iterrows():
        assert find_source(row["source"], catalog)["name"] == row["source"]
        assert find_source(row["other_source"], catalog)["name"] == row["other_source"]
        assert row["source"] != row["other_source"]


def test_every_check_names_catalog_sources(relations, catalog):
    for _, row in checks_without_overlap(relations).iterrows():
        assert find_source(row["source"], catalog)["name"] == row["source"]
        if row["other_source"] != ANY_OTHER_SOURCE:
            assert (
                find_source(row["other_source"], catalog)["name"] == row["other_source"]
            )


def test_expected_relations_and_grades(relations):
    found = {
        (row["source"], row["relation"], row["other_source"]): row["evidence_grade"]
        for _, row in known_overlaps(relations).iterrows()
    }
    assert found == EXPECTED_RELATIONS


def test_pairs_are_unique_in_either_order(relations):
    pairs = [
        frozenset(pair) for pair in zip(relations["source"], relations["other_source"])
    ]
    assert len(pairs) == len(set(pairs))


def test_mimic_is_not_paired_with_itself(relations):
    # MIMIC-CXR and MIMIC-CXR-JPG are one Table 1 row, so they form no pair.
    mimic = relations[
        (relations["source"] == "MIMIC-CXR")
        | (relations["other_source"] == "MIMIC-CXR")
    ]
    assert mimic.empty


def test_relations_and_grades_are_known_values(relations):
    assert set(relations["relation"]) <= {*OVERLAP_RELATIONS, NO_OVERLAP}
    assert set(relations["evidence_grade"]) <= set(EVIDENCE_GRADES)


def test_sourced_claims_have_links(relations):
    sourced = relations[relations["evidence_grade"] != "inferred"]
    for _, row in sourced.iterrows():
        assert row["evidence_urls"], (row["source"], row["other_source"])


def test_no_shared_count_is_known_yet(relations):
    assert str(relations["shared_images"].dtype) == "Int64"
    assert relations["shared_images"].isna().all()


def test_checks_include_any_other_source(relations):
    checks = checks_without_overlap(relations)
    against_all = checks[checks["other_source"] == ANY_OTHER_SOURCE]
    assert set(against_all["source"]) == {"DR-HAGIS", "RadImageNet", "RP3D-DiagDS"}


# Bounds on shared images


def test_bound_is_smaller_row(bounds, catalog):
    expected = min(n_images(catalog, "Endo-FM"), n_images(catalog, "Kvasir-Capsule"))
    assert bound_of(bounds, "Endo-FM", "Kvasir-Capsule") == expected
    expected = min(n_images(catalog, "VinDr-CXR"), n_images(catalog, "VinDr-RibCXR"))
    assert bound_of(bounds, "VinDr-CXR", "VinDr-RibCXR") == expected


def test_bound_uses_published_modality_count(bounds, catalog):
    cases = [
        ("ISIC-Archive", "Dermoscopy"),
        ("ChestXray-14", "X-ray"),
        ("Kvasir-Capsule", "Endoscopy"),
        ("Shenzhen CXR", "X-ray"),
    ]
    for other, modality in cases:
        expected = min(
            n_images(catalog, "SAM-Med2D-20M"),
            n_images(catalog, other),
            SA_MED2D_IMAGES[modality],
        )
        assert bound_of(bounds, "SAM-Med2D-20M", other) == expected, other


def test_bound_checks_both_orders(bounds):
    # The collection is the other source here.
    assert bound_of(bounds, "Endo-FM", "SAM-Med2D-20M") == SA_MED2D_IMAGES["Endoscopy"]


def test_shared_scans_have_no_bound(bounds):
    assert bound_of(bounds, "SAM-Med2D-20M", "ULS23") is pd.NA


def test_bounds_by_grade_add_up(bounds):
    by_grade = bounds_by_grade(bounds)
    assert list(by_grade.index) == list(EVIDENCE_GRADES)
    assert by_grade["relations"].sum() == len(bounds)
    assert by_grade["max_shared_images"].sum() == bounds["max_shared_images"].sum()
    assert by_grade["bounded"].sum() == bounds["max_shared_images"].notna().sum()


def test_gaps_cover_every_open_overlap(relations):
    open_gaps = gaps(relations)
    assert len(open_gaps) == len(known_overlaps(relations))
    assert (open_gaps["needed_to_close"].str.len() > 0).all()


# Validation of the data file


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]], columns) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def copy_with(tmp_path: Path, row: int, field: str, value: str) -> Path:
    rows = read_rows(default_overlaps_path())
    rows[row - 1][field] = value
    return write_rows(tmp_path / "overlaps.csv", rows, OVERLAP_COLUMNS)


def test_first_row_is_documented_inclusion(relations):
    # The cases below edit row 1, a documented inclusion of Kvasir-Capsule in Endo-FM.
    first = relations.iloc[0]
    assert (first["source"], first["other_source"]) == ("Endo-FM", "Kvasir-Capsule")
    assert first["evidence_grade"] == "documented"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("source", "Nonexistent-Set", "No source named"),
        ("source", "", "is empty"),
        ("other_source", "Kvasir Capsule", "not the name Table 1 prints"),
        ("other_source", "Endo-FM", "names the same source"),
        ("other_source", ANY_OTHER_SOURCE, "allowed only with the relation"),
        ("relation", "contains", "is not one of"),
        ("evidence_grade", "official", "is not one of"),
        ("evidence_urls", "", "needs the page that states it"),
        ("evidence_urls", "www.example.org/page", "is not an http"),
        ("shared_images", "12.5", "not a non-negative integer"),
        ("shared_images", "about 100", "not a non-negative integer"),
        ("shared_images", "100000", "exceeds the smaller row"),
        ("needed_to_close", "", "say which data"),
    ],
)
def test_invalid_field_names_file_row_and_field(
    tmp_path, catalog, field, value, message
):
    path = copy_with(tmp_path, 1, field, value)
    with pytest.raises(CompositionDataError, match=message) as raised:
        load_overlaps(path, catalog)
    assert str(path) in str(raised.value)
    assert "row 1" in str(raised.value)
    assert f"field {field!r}" in str(raised.value)


def test_known_shared_count_is_accepted(tmp_path, catalog):
    path = copy_with(tmp_path, 1, "shared_images", "500")
    assert load_overlaps(path, catalog).loc[0, "shared_images"] == 500


def test_pair_in_reverse_order_is_rejected(tmp_path, catalog):
    rows = read_rows(default_overlaps_path())
    reverse = dict(
        rows[0], source=rows[0]["other_source"], other_source=rows[0]["source"]
    )
    path = write_rows(tmp_path / "overlaps.csv", [*rows, reverse], OVERLAP_COLUMNS)
    with pytest.raises(CompositionDataError, match="already listed in row 1"):
        load_overlaps(path, catalog)


def test_missing_column_is_rejected(tmp_path, catalog):
    rows = read_rows(default_overlaps_path())
    columns = [column for column in OVERLAP_COLUMNS if column != "evidence_grade"]
    for row in rows:
        del row["evidence_grade"]
    path = write_rows(tmp_path / "overlaps.csv", rows, columns)
    with pytest.raises(
        CompositionDataError, match=r"missing columns \['evidence_grade'\]"
    ):
        load_overlaps(path, catalog)
