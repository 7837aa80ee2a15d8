"""Known discrepancies of Table 1, as MyST Markdown built from the data files.

The notes page of the book shows four lists: links that had to be repaired, typos
in the table, corrections to the printed reference list, and counts that are not
the whole official dataset. Each comes from a data file of the package, so the
page cannot drift from the catalog.
"""

from __future__ import annotations

import csv
from importlib import resources

import pandas as pd

from biovfm_utils.catalog import load_catalog
from biovfm_utils.tables import cite_role, escape_cell, format_count

#: Count relations that the notes page explains, in display order.
NOTED_RELATIONS = (
    "training split",
    "subset",
    "differs",
    "sampled frames",
    "sliced volumes",
)


def read_data_csv(name: str) -> list[dict[str, str]]:
    """Read a CSV file from the package's ``data`` folder as a list of dicts."""
    path = resources.files("biovfm_utils") / "data" / name
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def catalog_values(catalog: pd.DataFrame | None = None) -> dict[str, str]:
    """Return the catalog figures that prose pages quote, formatted for display."""
    catalog = load_catalog() if catalog is None else catalog
    keys = {key for keys in catalog["citation_keys"] for key in keys}
    return {
        "n_sources": format_count(len(catalog)),
        "n_images": format_count(catalog["n_images"].sum()),
        "n_references": format_count(len(keys)),
        "n_modalities": format_count(
            len({modality for listed in catalog["modalities"] for modality in listed})
        ),
        "n_collections": format_count((catalog["group"] == "Multi-modality").sum()),
    }


def repaired_links_markdown(catalog: pd.DataFrame | None = None) -> str:
    """List the sources whose printed link was broken, with the repaired link."""
    catalog = load_catalog() if catalog is None else catalog
    repaired = catalog[catalog["url_as_printed"] != ""]
    if repaired.empty:
        return "No printed link needed repair."
    lines = []
    for _, source in repaired.iterrows():
        lines.append(
            f"- **{source['name']}**: printed as `{source['url_as_printed']}`, "
            f"repaired to <{source['url']}>."
        )
    return "\n".join(lines)


def table_corrections_markdown() -> str:
    """Render the typos of Table 1 as a Markdown table."""
    lines = [
        "| Row | Field | As printed | Correct form | Why |",
        "| --: | :-- | :-- | :-- | :-- |",
    ]
    for row in read_data_csv("table_corrections.csv"):
        cells = [
            row["row"],
            row["field"],
            f"`{row['as_printed']}`",
            f"`{row['corrected']}`",
            escape_cell(row["explanation"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _describe_correction(row: dict[str, str]) -> str:
    printed = row["as_printed"].strip()
    corrected = row["corrected"].strip()
    if row["field"] == "author" and printed == "et al.":
        count = corrected.count(" and ") + 1
        names = "name" if count == 1 else "names"
        return f"*author*: the list printed with \"et al.\" is completed ({count} {names} added)"
    before = f"`{printed}`" if printed else "(missing)"
    after = f"`{corrected}`" if corrected else "(removed)"
    return f"*{row['field']}*: {before} → {after}"


def reference_corrections_markdown() -> str:
    """List the corrections to the printed reference list, grouped by reference."""
    by_key: dict[str, list[dict[str, str]]] = {}
    for row in read_data_csv("reference_corrections.csv"):
        by_key.setdefault(row["citation_key"], []).append(row)
    ordered = sorted(by_key.items(), key=lambda item: int(item[1][0]["number"]))

    lines = []
    for key, rows in ordered:
        lines.append(f"- {cite_role([key])}")
        for row in rows:
            lines.append(f"  - {_describe_correction(row)}")
        evidence = [row["evidence_url"].strip() for row in rows]
        links = [f"<{url}>" for url in dict.fromkeys(evidence) if url.startswith("http")]
        if links:
            lines.append(f"  - evidence: {', '.join(links)}")
    return "\n".join(lines)


def count_notes_markdown(catalog: pd.DataFrame | None = None) -> str:
    """Render the sources whose count is not the whole official dataset."""
    catalog = load_catalog() if catalog is None else catalog
    lines = [
        "| Dataset | Listed | Relation to the release | Note |",
        "| :-- | --: | :-- | :-- |",
    ]
    for relation in NOTED_RELATIONS:
        for _, source in catalog[catalog["count_relation"] == relation].iterrows():
            cells = [
                f"{source['name']} {cite_role(source['citation_keys'])}",
                format_count(source["n_images"]),
                relation,
                escape_cell(source["count_note"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def link_report_markdown(catalog: pd.DataFrame | None = None) -> str:
    """Render the date and failures of the last link check, if any."""
    from biovfm_utils.linkcheck import read_report, report_markdown

    return report_markdown(read_report())


#: The lists the ``catalog-notes`` directive can render, by name.
RENDERERS = {
    "link-report": link_report_markdown,
    "repaired-links": repaired_links_markdown,
    "table-corrections": lambda catalog=None: table_corrections_markdown(),
    "reference-corrections": lambda catalog=None: reference_corrections_markdown(),
    "counts": count_notes_markdown,
}
