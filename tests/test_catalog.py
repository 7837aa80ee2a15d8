"""The catalog against the published Table 1, and its validation errors."""

import csv
from pathlib import Path

import pytest

from biovfm_utils.catalog import (
    CatalogError,
    citation_numbers,
    default_catalog_path,
    find_source,
    load_catalog,
    parse_modalities,
    slugify,
    sources_for_modality,
)

PUBLISHED = Path(__file__).parent / "data" / "table1_published.tsv"


def read_published():
    with PUBLISHED.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_catalog_has_61_rows(catalog):
    assert len(catalog) == 61


def test_catalog_matches_published_table(catalog):
    published = read_published()
    assert len(published) == len(catalog)
    for (_, source), row in zip(catalog.iterrows(), published):
        assert source["name"] == row["dataset"]
        assert source["modality"] == row["modality"]
        assert source["n_images"] == int(row["n_images"])
        expected_numbers = [int(n) for n in row["references"].split(",")]
        assert source["reference_numbers"] == expected_numbers, source["name"]


def test_catalog_total_is_published_total(catalog):
    assert catalog["n_images"].sum() == 21_472_715


def test_catalog_index_is_table_row(catalog):
    assert list(catalog.index) == list(range(1, 62))


def test_multi_modality_rows(catalog):
    multi = catalog[catalog["group"] == "Multi-modality"]
    assert list(multi["name"]) == ["RadImageNet", "RP3D-DiagDS", "SAM-Med2D-20M"]
    assert multi.loc[22, "modalities"] == ["CT", "MR", "Ultrasound"]


def test_citation_numbers_cover_1_to_66(catalog):
    numbers = citation_numbers(catalog)
    assert sorted(numbers.values()) == list(range(1, 67))


def test_shared_reference_has_one_number(catalog):
    # Montgomery and Shenzhen share reference 25.
    assert citation_numbers(catalog)["jaeger2014two"] == 25


@pytest.mark.parametrize(
    "column, allowed",
    [
        ("access", {"open", "registration", "credentialed", "kaggle", "huggingface", "challenge"}),
        ("access_evidence", {"official", "secondary", "unverified"}),
        ("licence_evidence", {"official", "secondary", "unverified"}),
    ],
)
def test_catalog_categories(catalog, column, allowed):
    assert set(catalog[column]) <= allowed


def test_unverified_flags_are_kept(catalog):
    radimagenet = find_source("RadImageNet", catalog)
    assert radimagenet["access_evidence"] == "unverified"
    assert radimagenet["licence_evidence"] == "unverified"
    assert not radimagenet["verified"]


def test_repaired_links(catalog):
    repaired = catalog[catalog["url_as_printed"] != ""]
    assert list(repaired["name"]) == ["DCA1", "DRIONS-DB", "STARE"]
    for url in repaired["url"]:
        assert "$" not in url
        assert "~" in url


@pytest.mark.parametrize(
    "query, expected",
    [
        ("chexpert", "CheXpert"),
        ("e-ophtha", "E-optha"),
        ("E-optha", "E-optha"),
        ("SA-Med2D-20M", "SAM-Med2D-20M"),
        ("montgomery cxr", "Montgomery CXR"),
        ("VinDr-SpineXR", "VinDr-SpineXr"),
        ("fastmri", "FastMRI"),
    ],
)
def test_find_source_tolerates_spelling(catalog, query, expected):
    assert find_source(query, catalog)["name"] == expected


def test_find_source_unknown_lists_close_names(catalog):
    with pytest.raises(KeyError, match="CheXpert"):
        find_source("chexpret", catalog)


def test_fundus_without_collections_is_20(catalog):
    assert len(sources_for_modality("Fundus", catalog, collections=False)) == 20


def test_fundus_with_collections_adds_sam_med2d(catalog):
    names = list(sources_for_modality("fundus", catalog)["name"])
    assert len(names) == 21
    assert "SAM-Med2D-20M" in names


def test_parse_modalities_maps_printed_labels():
    assert parse_modalities("US, NM, Dermascopy") == [
        "Ultrasound",
        "Nuclear medicine",
        "Dermoscopy",
    ]


def test_slugify():
    assert slugify("Montgomery CXR") == "montgomery-cxr"
    assert slugify("CHASE_DB1") == "chase-db1"


# Validation errors, each on a copy of the real catalog with one defect.


def write_variant(tmp_path, edit):
    with default_catalog_path().open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames
        rows = list(reader)
    edit(rows)
    path = tmp_path / "catalog.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def set_field(row_index, field, value):
    def edit(rows):
        rows[row_index][field] = value

    return edit


@pytest.mark.parametrize(
    "edit, pattern",
    [
        (set_field(1, "name", "BUS-B"), r"row 2 \(BUS-B\), field 'name': 'BUS-B' matches"),
        (set_field(1, "name", "bus-b"), r"row 2 \(bus-b\).*matches a name or alias of row 1"),
        (set_field(1, "name", "BUS B"), r"row 2 \(BUS B\).*of row 1"),
        (set_field(1, "aliases", "Montgomery"), r"row 14 \(Montgomery CXR\), field 'aliases': 'Montgomery' matches .* row 2"),
        (set_field(2, "year", "3024"), r"field 'year': 3024 is not a year between 1950 and 2100"),
        (set_field(2, "url", "stanfordmlgroup.github.io"), r"field 'url': .* is not an http\(s\) URL"),
        (set_field(2, "n_images", "0"), r"row 3 \(CheXpert\), field 'n_images'"),
        (set_field(2, "n_images", "-5"), r"row 3 \(CheXpert\), field 'n_images'"),
        (set_field(2, "n_images", "12.5"), r"'12.5' is not a positive integer"),
        (set_field(2, "n_images", "1,000"), r"'1,000' is not a positive integer"),
        (set_field(2, "n_images", ""), r"field 'n_images': is empty"),
        (set_field(4, "modality", "PET"), r"row 5 \(Endo-FM\), field 'modality': unknown modality 'PET'"),
        (set_field(21, "modality", "CT, MRI"), r"unknown modality 'MRI'"),
        (set_field(0, "access", "email"), r"field 'access': 'email' is not one of"),
        (set_field(0, "citation_keys", "bus_b;extra"), r"2 keys for 1 reference numbers"),
    ],
)
def test_invalid_catalog_names_row_and_field(tmp_path, edit, pattern):
    path = write_variant(tmp_path, edit)
    with pytest.raises(CatalogError, match=pattern) as error:
        load_catalog(path, bib_path=None)
    assert str(path) in str(error.value)


def test_catalog_with_bom_loads(tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_bytes(b"\xef\xbb\xbf" + default_catalog_path().read_bytes())
    assert len(load_catalog(path, bib_path=None)) == 61


def test_catalog_without_rows(tmp_path):
    path = tmp_path / "catalog.csv"
    header = default_catalog_path().read_text(encoding="utf-8").splitlines()[0]
    path.write_text(header + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="header but no rows"):
        load_catalog(path, bib_path=None)


def test_catalog_not_utf8(tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_bytes(default_catalog_path().read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(CatalogError, match="not UTF-8"):
        load_catalog(path, bib_path=None)


def test_catalog_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="file not found"):
        load_catalog(tmp_path / "none.csv", bib_path=None)


def test_loaded_catalog_is_a_copy():
    first = load_catalog()
    first.loc[1, "n_images"] = 0
    assert load_catalog()["n_images"].sum() == 21_472_715


def test_missing_citation_key_is_an_error(tmp_path):
    path = write_variant(tmp_path, set_field(5, "citation_keys", "knoll2020fastmri;no_such_key"))
    with pytest.raises(CatalogError, match=r"row 6 \(FastMRI\).*'no_such_key' is not in"):
        load_catalog(path)


def test_catalog_keys_all_in_references_bib():
    # The default load checks every key against references.bib.
    assert len(load_catalog()) == 61
