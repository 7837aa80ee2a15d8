"""Table 1 and the statistics as MyST Markdown, for the book's notebooks.

The notebooks display these strings as Markdown output, which MyST-NB parses like
page text (``nb_render_markdown_format: myst``), so ``{cite}`` roles become live
citations that link into the bibliography.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pandas as pd

#: The CSS class of the rendered Table 1, used by the page's sorting and
#: filtering script.
TABLE1_CLASS = "biovfm-table1"


def format_count(value: int) -> str:
    """Return an integer with thousands separators: 21472715 -> "21,472,715"."""
    return f"{int(value):,}"


def format_share(value: float) -> str:
    """Return a fraction as a percentage with two decimals: 0.84952 -> "84.95 %"."""
    return f"{value * 100:.2f} %"


def escape_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def cite_role(keys: Sequence[str]) -> str:
    """Return a MyST ``{cite}`` role for the keys, in the given order."""
    return "{cite}`" + ",".join(keys) + "`"


def table1_rows(catalog: pd.DataFrame) -> pd.DataFrame:
    """Return Table 1 as published: Dataset, Modality, #Images and Source.

    The dataset and modality are printed as the paper prints them ("E-optha",
    "Dermascopy"), the count with thousands separators, and the source as the
    repaired official link.
    """
    return pd.DataFrame(
        {
            "Dataset": catalog["name"],
            "References": catalog["reference_numbers"],
            "Modality": catalog["modality"],
            "#Images": catalog["n_images"].map(format_count),
            "Source": catalog["url"],
        }
    )


def table1_markdown(catalog: pd.DataFrame, caption: str, name: str = "table-1") -> str:
    """Render Table 1 as a MyST ``table`` directive with citations and links."""
    lines = [
        f"```{{table}} {caption}",
        f":name: {name}",
        f":class: {TABLE1_CLASS}",
        "",
        "| Dataset | Modality | #Images | Source |",
        "| :-- | :-- | --: | :-- |",
    ]
    for _, source in catalog.iterrows():
        dataset = f"{escape_cell(source['name'])} {cite_role(source['citation_keys'])}"
        link = f"[Link](<{source['url']}>)"
        cells = [
            dataset,
            escape_cell(source["modality"]),
            format_count(source["n_images"]),
            link,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("```")
    return "\n".join(lines)


#: Headers shown for the columns of the :mod:`biovfm_utils.stats` frames.
COLUMN_LABELS = {
    "n_sources": "Sources",
    "n_images": "Images",
    "share": "Share of images",
    "sources": "Which",
    "single": "Single-modality sources",
    "collections": "Collections listing it",
    "total": "Sources listing it",
    "unconfirmed": "Access not confirmed by owner",
    "access": "Access routes",
    "licence": "Licences",
    "name": "Dataset",
    "group": "Group",
}


def table1_data_html(catalog: pd.DataFrame) -> str:
    """Return the catalog fields behind the interactive Table 1 as a JSON script tag.

    The page's ``table1.js`` reads it to filter and sort the rendered table: one
    object per row, in table order, with the name, aliases, printed modality,
    canonical modalities, group, access label, image count and URL.
    """
    from biovfm_utils.catalog import MODALITIES

    rows = [
        {
            "name": source["name"],
            "aliases": list(source["aliases"]),
            "modality": source["modality"],
            "modalities": list(source["modalities"]),
            "modality_order": list(MODALITIES) if number == 0 else None,
            "group": source["group"],
            "access": source["access_label"],
            "n_images": int(source["n_images"]),
            "url": source["url"],
        }
        for number, (_, source) in enumerate(catalog.iterrows())
    ]
    payload = json.dumps(rows, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/json" id="biovfm-table1-data">{payload}</script>'


def markdown_table(
    frame: pd.DataFrame,
    formats: dict[str, Callable[[object], str]] | None = None,
    *,
    index: str | None = None,
    align: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """Render a small frame as a Markdown pipe table.

    Parameters
    ----------
    frame
        The rows to show; the index becomes the first column when ``index`` names
        its header.
    formats
        Per-column functions that turn a value into cell text; ``str`` otherwise.
    align
        Per-column alignment, ``"left"`` or ``"right"``; numbers default to right.
    labels
        Header text per column; :data:`COLUMN_LABELS` by default, the column
        name otherwise.
    """
    formats = formats or {}
    align = align or {}
    table = frame.reset_index() if index else frame
    if index:
        table = table.rename(columns={table.columns[0]: index})

    labels = COLUMN_LABELS if labels is None else labels
    headers = [labels.get(column, str(column)) for column in table.columns]
    rules = []
    for column in table.columns:
        numeric = pd.api.types.is_numeric_dtype(table[column])
        side = align.get(column, "right" if numeric else "left")
        rules.append("--:" if side == "right" else ":--")

    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rules) + " |"]
    for row in table.itertuples(index=False):
        cells = []
        for column, value in zip(table.columns, row):
            render = formats.get(column, str)
            cells.append(escape_cell(render(value)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
