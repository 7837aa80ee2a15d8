"""Reading and checking the data files about overlaps and per-modality counts.

Both ``overlaps.csv`` and ``modality_breakdowns.csv`` name Table 1 sources, grade
their evidence and hold counts that may be ``unknown``. The helpers here parse those
fields and raise :class:`CompositionDataError` naming the file, row and field.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from biovfm_utils.catalog import RowLocation, find_source

#: Evidence grades of a claim about a source. A claim that chains several facts
#: takes the grade of its weakest fact.
EVIDENCE_GRADES = ("documented", "third-party", "inferred")

#: Meaning of each evidence grade, for pages and captions.
EVIDENCE_GRADE_MEANINGS = {
    "documented": "stated by the dataset's own authors or maintainers",
    "third-party": "stated by someone other than the dataset's authors",
    "inferred": "reasoned here from names, identifiers or sizes; no source states it",
}

#: The word a count column contains when the number is not known.
UNKNOWN = "unknown"


class CompositionDataError(ValueError):
    """An invalid overlap or breakdown file, with the file, row and field at fault."""


@dataclass(frozen=True)
class DataLocation(RowLocation):
    """A row of an overlap or breakdown file, for error messages."""

    error_type: ClassVar[type[ValueError]] = CompositionDataError


def read_data_rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Read a CSV file into dicts of stripped strings, checking its columns.

    Raises
    ------
    CompositionDataError
        If a column in ``columns`` is missing from the header.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [
            column for column in columns if column not in (reader.fieldnames or [])
        ]
        if missing:
            raise CompositionDataError(
                f"{path}: missing columns {missing}; "
                f"the header must name {list(columns)}."
            )
        return [
            {column: (raw.get(column) or "").strip() for column in columns}
            for raw in reader
        ]


def resolve_source_name(
    name: str, catalog: pd.DataFrame, where: DataLocation, field: str
) -> pd.Series:
    """Return the catalog row that ``name`` names exactly as Table 1 prints it.

    Raises
    ------
    CompositionDataError
        If no source matches, or if ``name`` matches only through an alias or a
        different spelling; the message gives the printed name to use.
    """
    try:
        source = find_source(name, catalog)
    except KeyError as exc:
        raise where.error(field, str(exc.args[0])) from None
    if source["name"] != name:
        raise where.error(
            field,
            f"{name!r} is not the name Table 1 prints; write {source['name']!r}.",
        )
    return source


def parse_count(text: str, where: DataLocation, field: str) -> int | None:
    """Return a non-negative integer count, or ``None`` for ``unknown``.

    Raises
    ------
    CompositionDataError
        If the text is neither digits nor ``unknown`` (thousands separators,
        decimals and signs are rejected).
    """
    if text == UNKNOWN:
        return None
    if not re.fullmatch(r"\d+", text):
        raise where.error(
            field,
            f"{text!r} is not a non-negative integer (digits only) or {UNKNOWN!r}.",
        )
    return int(text)


def check_choice(
    value: str, allowed: tuple[str, ...], where: DataLocation, field: str
) -> None:
    """Raise :class:`CompositionDataError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise where.error(field, f"{value!r} is not one of: {', '.join(allowed)}.")


def parse_urls(text: str, where: DataLocation, field: str) -> list[str]:
    """Split a ``;``-separated list of http(s) URLs. An empty cell gives ``[]``.

    Raises
    ------
    CompositionDataError
        If an entry does not start with ``http://`` or ``https://`` or contains
        a space.
    """
    urls = [part.strip() for part in text.split(";") if part.strip()]
    for url in urls:
        if not re.fullmatch(r"https?://\S+", url):
            raise where.error(field, f"{url!r} is not an http(s) URL.")
    return urls
