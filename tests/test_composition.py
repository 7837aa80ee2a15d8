"""Per-modality ranges and the published breakdowns behind them.

Expected values are recomputed here from the catalog and from the numbers that the
collections publish, typed below from their own tables and figures. None is copied
from the module's output. Validation errors are provoked on copies of the
packaged data file written to ``tmp_path``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from biovfm_utils.breakdowns import (
    BREAKDOWN_COLUMNS,
    PREFERRED_VERSIONS,
    RP3D_XRAY_TECHNIQUES,
    default_breakdowns_path,
    load_breakdowns,
    modality_rules,
    published_shares,
)
from biovfm_utils.catalog import MODALITIES, load_catalog
from biovfm_utils.composition import (
    UNASSIGNED,
    allocate,
    collection_split,
    estimate_variants,
    format_estimate,
    modality_ranges,
)
from biovfm_utils.composition_data import CompositionDataError
from biovfm_utils.composition_figures import plot_modality_ranges

TABLE1_TOTAL = 21_472_715

#: SA-Med2D-20M images per modality, full collection, from the authors' table.
SA_MED2D_IMAGES = {
    "CT": 2_338_753,
    "MR": 2_217_633,
    "PET": 11_956,
    "Dermoscopy": 7_935,
    "X-ray": 6_407,
    "Endoscopy": 5_838,
    "Fundus": 3_501,
    "Ultrasound": 2_968,
    "Microscopy": 945,
    "Histopathology": 866,
}
SA_MED2D_NOT_RELEASED = ("Microscopy", "Histopathology")

#: RP3D-DiagDS scans per modality from the project page: abnormal, normal in the
#: June 2024 figure, normal in the December 2023 figure.
RP3D_SCANS = {
    "MRI": (86_466, 1_633, 1_070),
    "CT": (58_998, 816, 816),
    "X-ray": (21_242, 2_621, 1_184),
    "Ultrasound": (13_737, 253, 253),
    "Fluoroscopy": (2_726, 135, 135),
    "DSA (angiography)": (1_479, 107, 107),
    "Nuclear medicine": (1_443, 36, 36),
    "Mammography": (1_243, 396, 61),
    "Barium": (617, 44, 44),
}
OLDER_RP3D_FIGURE = "project page figure modality_good.png"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def breakdowns(catalog):
    return load_breakdowns(catalog=catalog)


@pytest.fixture(scope="module")
def ranges(catalog, breakdowns):
    return modality_ranges(catalog, breakdowns)


@pytest.fixture(scope="module")
def split(catalog, breakdowns):
    return collection_split(catalog, breakdowns).set_index(["collection", "modality"])


def n_images(catalog, name: str) -> int:
    return int(catalog.loc[catalog["name"] == name, "n_images"].iloc[0])


def rp3d_june_total(label: str) -> int:
    abnormal, normal, _ = RP3D_SCANS[label]
    return abnormal + normal


# Published breakdowns


def test_sa_med2d_counts_match_published_table(breakdowns):
    shares = published_shares(breakdowns, "SAM-Med2D-20M")
    assert shares["count"].to_dict() == SA_MED2D_IMAGES


def test_sa_med2d_total_is_4_6_million(breakdowns):
    shares = published_shares(breakdowns, "SAM-Med2D-20M")
    assert shares["count"].sum() == sum(SA_MED2D_IMAGES.values()) == 4_596_802


def test_sa_med2d_ct_share_of_full_collection(breakdowns):
    shares = published_shares(breakdowns, "SAM-Med2D-20M")
    assert shares.loc["CT", "share"] == pytest.approx(2_338_753 / 4_596_802)


def test_rp3d_counts_add_abnormal_and_normal(breakdowns):
    shares = published_shares(breakdowns, "RP3D-DiagDS")
    expected = {label: rp3d_june_total(label) for label in RP3D_SCANS}
    assert shares["count"].to_dict() == expected
    assert set(shares["unit"]) == {"scans"}


def test_rp3d_older_figure_counts(breakdowns):
    shares = published_shares(breakdowns, "RP3D-DiagDS", OLDER_RP3D_FIGURE)
    expected = {
        label: abnormal + normal for label, (abnormal, _, normal) in RP3D_SCANS.items()
    }
    assert shares["count"].to_dict() == expected
    assert shares["count"].sum() == 191_657


def test_radimagenet_has_no_counts(breakdowns):
    shares = published_shares(breakdowns, "RadImageNet")
    assert list(shares.index) == ["CT", "MRI", "US"]
    assert shares["count"].isna().all()
    assert shares["share"].isna().all()


def test_unknown_version_is_rejected(breakdowns):
    with pytest.raises(ValueError, match="No breakdown version"):
        published_shares(breakdowns, "RP3D-DiagDS", "a figure that does not exist")


def test_rules_map_only_to_listed_modalities(catalog):
    for map_techniques in (True, False):
        for rule in modality_rules(map_xray_techniques=map_techniques):
            listed = catalog.loc[catalog["name"] == rule.collection, "modalities"].iloc[
                0
            ]
            if rule.modality is not None:
                assert rule.modality in listed, rule


def test_rules_cover_every_listed_modality(catalog):
    for collection in PREFERRED_VERSIONS:
        listed = catalog.loc[catalog["name"] == collection, "modalities"].iloc[0]
        mapped = {
            rule.modality for rule in modality_rules() if rule.collection == collection
        }
        assert set(listed) <= mapped, collection


# Ranges per modality


def test_lower_bound_for_ct_is_ct_only_rows(catalog, ranges):
    ct_only = catalog[catalog["modalities"].map(lambda listed: listed == ["CT"])]
    assert ranges.loc["CT", "lower_bound"] == ct_only["n_images"].sum() == 4_633_168


def test_lower_bounds_are_single_modality_sums(catalog, ranges):
    for modality in MODALITIES:
        rows = catalog[
            catalog["modalities"].map(lambda listed, m=modality: listed == [m])
        ]
        assert ranges.loc[modality, "lower_bound"] == rows["n_images"].sum(), modality
        assert ranges.loc[modality, "single_sources"] == len(rows), modality


@pytest.mark.parametrize("column", ["lower_bound", "with_minimum", "estimate"])
def test_column_plus_unassigned_is_table1_total(ranges, catalog, column):
    assert ranges[column].sum() == catalog["n_images"].sum() == TABLE1_TOTAL


def test_every_variant_adds_up_to_table1_total(catalog, breakdowns):
    variants = estimate_variants(catalog, breakdowns)
    for column in variants.columns:
        assert variants[column].sum() == TABLE1_TOTAL, column


def test_unassigned_estimate_is_radimagenet(ranges, catalog):
    assert ranges.loc[UNASSIGNED, "estimate"] == n_images(catalog, "RadImageNet")


def test_unassigned_lower_bound_is_all_collections(ranges, catalog):
    collections = ("RadImageNet", "RP3D-DiagDS", "SAM-Med2D-20M")
    expected = sum(n_images(catalog, name) for name in collections)
    assert ranges.loc[UNASSIGNED, "lower_bound"] == expected


def test_ranges_are_ordered(ranges):
    for modality in MODALITIES:
        row = ranges.loc[modality]
        assert row["lower_bound"] <= row["with_minimum"], modality
        assert row["with_minimum"] <= row["estimate"], modality
        assert row["estimate"] <= row["upper_bound"], modality


def test_modalities_without_collections_are_exact(ranges):
    for modality in ("Microscopy", "OCTA"):
        row = ranges.loc[modality]
        assert row["collections"] == 0
        assert row["lower_bound"] == row["estimate"] == row["upper_bound"]


def test_upper_bound_for_xray(ranges, catalog):
    expected = (
        ranges.loc["X-ray", "lower_bound"]
        + min(n_images(catalog, "SAM-Med2D-20M"), SA_MED2D_IMAGES["X-ray"])
        + n_images(catalog, "RP3D-DiagDS")
    )
    assert ranges.loc["X-ray", "upper_bound"] == expected


def test_ct_and_mr_lower_bounds_exceed_other_estimates(ranges):
    others = ranges.drop(index=["CT", "MR", UNASSIGNED])["estimate"]
    assert ranges.loc["CT", "lower_bound"] > others.max()
    assert ranges.loc["MR", "lower_bound"] > others.max()


# Split of each collection


def test_sa_med2d_estimate_uses_released_modalities(split, catalog):
    row_images = n_images(catalog, "SAM-Med2D-20M")
    released = sum(
        count
        for label, count in SA_MED2D_IMAGES.items()
        if label not in SA_MED2D_NOT_RELEASED
    )
    expected = row_images * SA_MED2D_IMAGES["CT"] / released
    assert split.loc[("SAM-Med2D-20M", "CT"), "estimate"] == pytest.approx(
        expected, abs=1
    )
    assert split.loc[("SAM-Med2D-20M", "CT"), "share"] == pytest.approx(
        SA_MED2D_IMAGES["CT"] / released
    )


def test_sa_med2d_pet_counts_as_nuclear_medicine(split):
    assert split.loc[("SAM-Med2D-20M", "Nuclear medicine"), "published_count"] == 11_956


def test_sa_med2d_ct_minimum(split, catalog):
    others = sum(SA_MED2D_IMAGES.values()) - SA_MED2D_IMAGES["CT"]
    expected = n_images(catalog, "SAM-Med2D-20M") - others
    assert split.loc[("SAM-Med2D-20M", "CT"), "minimum"] == expected


def test_sa_med2d_maximum_is_published_count(split):
    for label in ("X-ray", "Endoscopy", "Fundus"):
        assert split.loc[("SAM-Med2D-20M", label), "maximum"] == SA_MED2D_IMAGES[label]


def test_rp3d_xray_share_includes_xray_techniques(split):
    xray = sum(rp3d_june_total(label) for label in ("X-ray", *RP3D_XRAY_TECHNIQUES))
    total = sum(rp3d_june_total(label) for label in RP3D_SCANS)
    assert split.loc[("RP3D-DiagDS", "X-ray"), "published_count"] == xray
    assert split.loc[("RP3D-DiagDS", "X-ray"), "share"] == pytest.approx(xray / total)


def test_rp3d_xray_share_without_techniques(catalog, breakdowns):
    rules = modality_rules(map_xray_techniques=False)
    split = collection_split(catalog, breakdowns, rules).set_index(
        ["collection", "modality"]
    )
    mapped = [label for label in RP3D_SCANS if label not in RP3D_XRAY_TECHNIQUES]
    total = sum(rp3d_june_total(label) for label in mapped)
    assert split.loc[("RP3D-DiagDS", "X-ray"), "share"] == pytest.approx(
        rp3d_june_total("X-ray") / total
    )


def test_rp3d_has_no_bounds_from_scans(split, catalog):
    rows = split.loc["RP3D-DiagDS"]
    assert (rows["minimum"] == 0).all()
    assert (rows["maximum"] == n_images(catalog, "RP3D-DiagDS")).all()


@pytest.mark.parametrize("collection", ["RP3D-DiagDS", "SAM-Med2D-20M"])
def test_collection_estimates_add_up_to_row(split, catalog, collection):
    assert split.loc[collection, "estimate"].sum() == n_images(catalog, collection)


def test_radimagenet_estimate_is_missing(split):
    assert split.loc["RadImageNet", "estimate"].isna().all()


# Helpers


@pytest.mark.parametrize(
    "total, weights",
    [
        (10, [1, 1, 1]),
        (3_769_486, list(SA_MED2D_IMAGES.values())),
        (7, [0, 5, 2]),
        (0, [1, 2]),
    ],
)
def test_allocate_adds_up(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights):
        assert abs(part - total * weight / sum(weights)) < 1


@pytest.mark.parametrize("weights", [[], [0, 0], [3, -1]])
def test_allocate_rejects_bad_weights(weights):
    with pytest.raises(ValueError):
        allocate(10, weights)


@pytest.mark.parametrize(
    "value, text",
    [
        (1_918_612, "≈\u00a01,920,000"),
        (9_808, "≈\u00a09,810"),
        (1_198, "≈\u00a01,200"),
        (0, "0"),
    ],
)
def test_format_estimate(value, text):
    assert format_estimate(value) == text


def test_plot_modality_ranges_rows(ranges):
    figure = plot_modality_ranges(ranges)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    expected = ranges.drop(index=UNASSIGNED).sort_values("estimate", ascending=False)
    assert labels == list(expected.index)
    plt.close(figure)


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
    rows = read_rows(default_breakdowns_path())
    rows[row - 1][field] = value
    return write_rows(tmp_path / "modality_breakdowns.csv", rows, BREAKDOWN_COLUMNS)


def test_packaged_file_loads(breakdowns):
    assert len(breakdowns) == len(read_rows(default_breakdowns_path()))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("collection", "Nonexistent-Set", "No source named"),
        ("collection", "SA-Med2D-20M", "not the name Table 1 prints"),
        ("collection", "CheXpert", "lists one modality"),
        ("collection", "", "is empty"),
        ("count", "2,338,753", "not a non-negative integer"),
        ("count", "12.5", "not a non-negative integer"),
        ("count", "-3", "not a non-negative integer"),
        ("count", "", "is empty"),
        ("unit", "slices", "is not one of"),
        ("subset", "mixed", "is not one of"),
        ("evidence_grade", "official", "is not one of"),
        ("date", "Nov 2023", "is not a date"),
        ("source_urls", "github.com/openmedlab", "is not an http"),
        ("source_urls", "", "is empty"),
        ("published_modality", "Thermography", "no rule maps"),
    ],
)
def test_invalid_field_names_file_row_and_field(
    tmp_path, catalog, field, value, message
):
    path = copy_with(tmp_path, 2, field, value)
    with pytest.raises(CompositionDataError, match=message) as raised:
        load_breakdowns(path, catalog)
    assert str(path) in str(raised.value)
    assert "row 2" in str(raised.value)
    assert f"field {field!r}" in str(raised.value)


def test_repeated_row_is_rejected(tmp_path, catalog):
    rows = read_rows(default_breakdowns_path())
    path = write_rows(
        tmp_path / "modality_breakdowns.csv", [*rows, rows[0]], BREAKDOWN_COLUMNS
    )
    with pytest.raises(CompositionDataError, match="repeats row 1"):
        load_breakdowns(path, catalog)


def test_mixed_units_in_one_version_are_rejected(tmp_path, catalog):
    path = copy_with(tmp_path, 2, "unit", "scans")
    with pytest.raises(CompositionDataError, match="differs from 'images' in row 1"):
        load_breakdowns(path, catalog)


def test_missing_column_is_rejected(tmp_path, catalog):
    rows = read_rows(default_breakdowns_path())
    columns = [column for column in BREAKDOWN_COLUMNS if column != "unit"]
    for row in rows:
        del row["unit"]
    path = write_rows(tmp_path / "modality_breakdowns.csv", rows, columns)
    with pytest.raises(CompositionDataError, match=r"missing columns \['unit'\]"):
        load_breakdowns(path, catalog)
