"""Generated .bib files, the JSON-LD description and CITATION.cff."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from biovfm_utils.bibliography import load_bibliography, parse_bibliography
from biovfm_utils.catalog import MODALITIES, load_catalog
from biovfm_utils.exports import (
    PAPER_KEY,
    bib_downloads,
    catalog_csv,
    catalog_records,
    collection_jsonld,
    write_bib_downloads,
)

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def expected_keys(sources) -> set[str]:
    return {key for keys in sources["citation_keys"] for key in keys}


def test_bib_files_parse_with_expected_keys(tmp_path, catalog):
    written = write_bib_downloads(tmp_path, catalog)
    for name, path in written.items():
        parsed = parse_bibliography(path.read_text(encoding="utf-8"), str(path))
        if name == "biovfm-21m-all-sources.bib":
            sources = catalog
        else:
            group = name.removeprefix("biovfm-21m-").removesuffix(".bib")
            sources = catalog[catalog["group"].map(lambda g: g.lower().replace(" ", "-")) == group]
        assert set(parsed.entries) == expected_keys(sources), name


def test_bib_files_copy_entries_verbatim(tmp_path, catalog):
    bibliography = load_bibliography()
    path = write_bib_downloads(tmp_path, catalog)["biovfm-21m-fundus.bib"]
    text = path.read_text(encoding="utf-8")
    for key in ("staal2004ridge", "decenciere2014feedback", "abramoff2013automated"):
        assert bibliography.raw[key].text in text


def test_bib_downloads_cover_every_group(catalog):
    names = set(bib_downloads(catalog))
    present = set(catalog["group"])
    for modality in MODALITIES:
        slug = modality.lower().replace(" ", "-")
        assert (f"biovfm-21m-{slug}.bib" in names) == (modality in present)


def test_fundus_bib_has_21_entries(catalog):
    assert len(bib_downloads(catalog)["biovfm-21m-fundus.bib"]) == 21


def test_all_sources_bib_excludes_paper(catalog):
    keys = bib_downloads(catalog)["biovfm-21m-all-sources.bib"]
    assert len(keys) == 66
    assert PAPER_KEY not in keys


def test_catalog_records_are_json_serialisable(catalog):
    records = catalog_records(catalog)
    assert json.loads(json.dumps(records)) == records
    assert records[0]["row"] == 1


def test_catalog_csv_has_one_line_per_source(catalog):
    assert len(catalog_csv(catalog).strip().splitlines()) == 62


# JSON-LD


@pytest.fixture(scope="module")
def jsonld(catalog):
    return collection_jsonld(catalog)


def test_jsonld_matches_profile_schema(jsonld):
    schema = json.loads((SCHEMAS / "dataset-jsonld.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(jsonld)]
    assert errors == []


def test_jsonld_uses_schema_org_terms_only(jsonld):
    # Properties of schema.org Dataset/CreativeWork/Thing, PropertyValue and Person
    # used by this export.
    allowed = {
        "@context", "@type", "@id", "name", "alternateName", "url", "description",
        "measurementTechnique", "temporalCoverage", "license", "conditionsOfAccess",
        "citation", "additionalProperty", "value", "version", "hasPart",
        "datePublished", "identifier", "author", "position",
    }

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                assert key in allowed, key
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(jsonld)


def test_jsonld_parts_carry_citations_and_access(jsonld, catalog):
    parts = jsonld["hasPart"]
    assert len(parts) == len(catalog)
    for part, (_, source) in zip(parts, catalog.iterrows()):
        assert part["name"] == source["name"]
        assert part["url"] == source["url"]
        assert len(part["citation"]) == len(source["citation_keys"])
        assert part["conditionsOfAccess"] == source["access_details"]
        assert part["license"]["name"] == source["licence"]


def test_jsonld_rejects_broken_document(jsonld):
    schema = json.loads((SCHEMAS / "dataset-jsonld.schema.json").read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(jsonld))
    del broken["hasPart"][3]["url"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


# CITATION.cff


def cff_schema():
    spec = importlib.util.find_spec("cffconvert")
    if spec is None:
        pytest.skip("cffconvert is not installed; `make test` installs it for its CFF 1.2 schema")
    folder = Path(spec.submodule_search_locations[0])
    return json.loads((folder / "schemas" / "1.2.0" / "schema.json").read_text(encoding="utf-8"))


def load_cff():
    return yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))


def test_citation_cff_is_valid_cff_1_2():
    validator = jsonschema.Draft7Validator(
        cff_schema(), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    errors = [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(load_cff())]
    assert errors == []


def test_citation_cff_schema_rejects_bad_version():
    cff = load_cff()
    cff["cff-version"] = "9.9.9"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cff, cff_schema())


def test_citation_cff_prefers_the_paper():
    preferred = load_cff()["preferred-citation"]
    paper = load_bibliography().entries[PAPER_KEY]
    title = " ".join(preferred["title"].split())
    assert title == paper.fields["title"].replace("{", "").replace("}", "")
    families = [author["family-names"] for author in preferred["authors"]]
    assert families == [" ".join(person.last_names) for person in paper.persons["author"]]
    assert str(preferred["year"]) == paper.fields["year"]


def test_citation_cff_version_matches_package():
    from biovfm_utils import __version__

    assert load_cff()["version"] == __version__
