"""Exports of the catalog and its citations: CSV, JSON, JSON-LD and BibTeX.

Every export is built from the packaged catalog and ``references.bib``, so the
book's downloads, the command line and the tests share one source.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
from pybtex.richtext import Text

from biovfm_utils import __version__
from biovfm_utils.bibliography import Bibliography, load_bibliography
from biovfm_utils.catalog import (
    MODALITIES,
    MULTI_MODALITY,
    citation_numbers,
    load_catalog,
    slugify,
)

#: Citation key of the BioVFM-21M paper in ``references.bib``.
PAPER_KEY = "liu2025biovfm"

#: Columns of the CSV and JSON exports, in order.
EXPORT_COLUMNS = (
    "row",
    "name",
    "modality",
    "modalities",
    "group",
    "n_images",
    "year",
    "reference_numbers",
    "citation_keys",
    "url",
    "url_as_printed",
    "access",
    "access_details",
    "access_evidence",
    "licence",
    "licence_details",
    "licence_evidence",
    "verified",
    "count_relation",
    "counting_unit",
    "count_note",
    "evidence_urls",
)


def catalog_records(catalog: pd.DataFrame | None = None) -> list[dict]:
    """Return the catalog as plain dicts with JSON types, in Table 1 order."""
    catalog = load_catalog() if catalog is None else catalog
    records = []
    for row, source in catalog.iterrows():
        record = {"row": int(row)}
        for column in EXPORT_COLUMNS[1:]:
            value = source[column]
            if hasattr(value, "item"):
                value = value.item()
            record[column] = list(value) if isinstance(value, list) else value
        records.append(record)
    return records


def catalog_json(catalog: pd.DataFrame | None = None) -> str:
    """Return the catalog as a JSON array, one object per source."""
    return json.dumps(catalog_records(catalog), indent=2, ensure_ascii=False) + "\n"


def catalog_csv(catalog: pd.DataFrame | None = None) -> str:
    """Return the catalog as CSV; list fields are joined with ``"; "``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in catalog_records(catalog):
        flat = {
            key: "; ".join(str(item) for item in value) if isinstance(value, list) else value
            for key, value in record.items()
        }
        writer.writerow(flat)
    return buffer.getvalue()


def plain_text(latex: str) -> str:
    """Render a BibTeX field as plain text: braces dropped, accents decoded."""
    return Text.from_latex(latex).render_as("text")


def _creative_work(key: str, bibliography: Bibliography, number: int | None) -> dict:
    entry = bibliography.entries[key]
    work: dict = {"@type": "ScholarlyArticle" if entry.type != "misc" else "CreativeWork"}
    work["name"] = plain_text(entry.fields.get("title", key))
    if "year" in entry.fields:
        work["datePublished"] = entry.fields["year"]
    if "doi" in entry.fields:
        work["identifier"] = f"https://doi.org/{entry.fields['doi']}"
    if "url" in entry.fields:
        work["url"] = entry.fields["url"]
    authors = entry.persons.get("author", [])
    if authors:
        work["author"] = [
            {"@type": "Person", "name": str(person)}
            for person in authors
            if str(person) != "others"
        ]
    if number is not None:
        work["position"] = number
    return work


def collection_jsonld(
    catalog: pd.DataFrame | None = None, bibliography: Bibliography | None = None
) -> dict:
    """Describe BioVFM-21M as a schema.org ``Dataset`` with one part per source.

    Each part carries its name, official URL, modality, image count, access
    conditions, licence text and citations. Licences are free text
    (``CreativeWork`` names), because most sources publish no licence URL; the
    evidence grade of each fact is kept as an ``additionalProperty``.
    """
    catalog = load_catalog() if catalog is None else catalog
    bibliography = load_bibliography() if bibliography is None else bibliography
    numbers = citation_numbers(catalog)
    parts = []
    for row, source in catalog.iterrows():
        parts.append(
            {
                "@type": "Dataset",
                "@id": f"#source-{source['slug']}",
                "name": source["name"],
                "alternateName": list(source["aliases"]),
                "url": source["url"],
                "description": (
                    f"Row {row} of Table 1 of BioVFM-21M: "
                    f"{source['n_images']:,} images ({source['modality']})."
                ),
                "measurementTechnique": list(source["modalities"]),
                "temporalCoverage": str(source["year"]),
                "license": {"@type": "CreativeWork", "name": source["licence"]},
                "conditionsOfAccess": source["access_details"],
                "citation": [
                    _creative_work(key, bibliography, numbers.get(key))
                    for key in source["citation_keys"]
                ],
                "additionalProperty": [
                    {"@type": "PropertyValue", "name": "n_images", "value": int(source["n_images"])},
                    {"@type": "PropertyValue", "name": "access_route", "value": source["access"]},
                    {"@type": "PropertyValue", "name": "access_evidence", "value": source["access_evidence"]},
                    {"@type": "PropertyValue", "name": "licence_evidence", "value": source["licence_evidence"]},
                ],
            }
        )
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": "BioVFM-21M",
        "description": (
            "The pre-training dataset of BioVFM: "
            f"{int(catalog['n_images'].sum()):,} biomedical images from "
            f"{len(catalog)} public sources. The images are not redistributed; each "
            "part links to its official source."
        ),
        "citation": _creative_work(PAPER_KEY, bibliography, None),
        "version": __version__,
        "hasPart": parts,
    }


def bib_keys(catalog: pd.DataFrame, *, with_paper: bool = False) -> list[str]:
    """Return the citation keys of the given sources, deduplicated, paper first."""
    keys = [PAPER_KEY] if with_paper else []
    for source_keys in catalog["citation_keys"]:
        keys.extend(source_keys)
    return list(dict.fromkeys(keys))


def bib_downloads(catalog: pd.DataFrame | None = None) -> dict[str, list[str]]:
    """Return the downloadable ``.bib`` files: file name -> citation keys.

    One file covers all sources and one each modality group: the sources of that
    modality alone, and the multi-modality collections in a file of their own, so
    that a reader who used only the fundus sources cites no collection.
    """
    catalog = load_catalog() if catalog is None else catalog
    files = {"biovfm-21m-all-sources.bib": bib_keys(catalog)}
    for group in (*MODALITIES, MULTI_MODALITY):
        sources = catalog[catalog["group"] == group]
        if not sources.empty:
            files[f"biovfm-21m-{slugify(group)}.bib"] = bib_keys(sources)
    return files


def write_bib_downloads(
    folder: str | Path,
    catalog: pd.DataFrame | None = None,
    bibliography: Bibliography | None = None,
) -> dict[str, Path]:
    """Write the files of :func:`bib_downloads` into ``folder`` and return their paths.

    Each file contains the entries exactly as written in ``references.bib``.
    """
    bibliography = load_bibliography() if bibliography is None else bibliography
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, keys in bib_downloads(catalog).items():
        path = folder / name
        text = bibliography.to_bibtex(keys)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written[name] = path
    return written
