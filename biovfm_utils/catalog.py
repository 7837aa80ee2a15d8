"""The catalog of the 61 sources of BioVFM-21M, loaded from a CSV file and validated.

The catalog reproduces Table 1 of Liu et al., "BioVFM-21M: Benchmarking and Scaling
Self-Supervised Vision Foundation Models for Biomedical Image Analysis" (arXiv
2505.09329), one row per source in the paper's order. It adds what the table leaves
out: the year, the access route, the licence and how well each of these is
confirmed. The data lives in ``biovfm_utils/data/catalog.csv``, and this module
only reads and checks it.
"""

from __future__ import annotations

import csv
import difflib
import functools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import ClassVar

import pandas as pd

#: Canonical modality names, in the order the book lists them.
MODALITIES = (
    "X-ray",
    "CT",
    "MR",
    "Ultrasound",
    "Endoscopy",
    "Dermoscopy",
    "Microscopy",
    "Fundus",
    "OCTA",
    "Nuclear medicine",
)

#: The group of a source that lists more than one modality.
MULTI_MODALITY = "Multi-modality"

#: Modality labels as Table 1 prints them, mapped to the canonical names.
#: "Dermascopy" is the paper's spelling of dermoscopy.
PRINTED_MODALITIES = {
    "X-Ray": "X-ray",
    "CT": "CT",
    "MR": "MR",
    "US": "Ultrasound",
    "Endoscopy": "Endoscopy",
    "Dermascopy": "Dermoscopy",
    "Microscopy": "Microscopy",
    "Fundus": "Fundus",
    "OCTA": "OCTA",
    "NM": "Nuclear medicine",
}

#: Access routes and the labels the book shows for them.
ACCESS_TYPES = {
    "open": "open download",
    "registration": "registration",
    "credentialed": "credentialed",
    "kaggle": "Kaggle",
    "huggingface": "Hugging Face",
    "challenge": "challenge",
}

#: Evidence grades of a fact: confirmed on the owner's own page, stated by a third
#: party only, or not confirmed at all.
EVIDENCE_GRADES = ("official", "secondary", "unverified")

#: Relations of a listed count to the official release, as far as they are known.
COUNT_RELATIONS = (
    "full",
    "subset",
    "training split",
    "sliced volumes",
    "sampled frames",
    "differs",
    "unknown",
)

#: Units of one counted image: a 2-D file, a slice of a volume or a video frame.
COUNTING_UNITS = ("file", "slice", "frame")

COLUMNS = (
    "name",
    "aliases",
    "modality",
    "n_images",
    "year",
    "reference_numbers",
    "citation_keys",
    "url",
    "url_as_printed",
    "access",
    "access_evidence",
    "access_details",
    "licence",
    "licence_evidence",
    "licence_details",
    "evidence_urls",
    "count_relation",
    "counting_unit",
    "count_note",
)

#: Plausible years of release or publication of a source.
FIRST_YEAR, LAST_YEAR = 1950, 2100

#: Fields that every row must fill.
REQUIRED = ("name", "modality", "n_images", "year", "citation_keys", "url", "access")


class CatalogError(ValueError):
    """An invalid catalog file, with the file, row and field at fault."""


@dataclass(frozen=True)
class RowLocation:
    """A row of a data file, for error messages. ``row`` is 1-based, header excluded.

    Subclasses set ``error_type`` to the exception their module raises.
    """

    path: str
    row: int
    label: str

    error_type: ClassVar[type[ValueError]] = CatalogError

    def error(self, field: str, message: str) -> ValueError:
        """Return an error naming the file, row, label and field."""
        where = f"{self.path}, row {self.row}"
        if self.label:
            where += f" ({self.label})"
        return self.error_type(f"{where}, field {field!r}: {message}")


def default_catalog_path() -> Path:
    """Return the path of the catalog CSV shipped with the package."""
    return Path(str(resources.files("biovfm_utils") / "data" / "catalog.csv"))


def slugify(name: str) -> str:
    """Turn a source name into a folder-safe slug ("Montgomery CXR" -> "montgomery-cxr")."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def parse_modalities(printed: str) -> list[str]:
    """Map a printed modality cell such as ``"CT, MR, US"`` to canonical names.

    Raises
    ------
    KeyError
        If a label is not one of :data:`PRINTED_MODALITIES`.
    """
    labels = [label.strip() for label in printed.split(",")]
    return [PRINTED_MODALITIES[label] for label in labels]


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _parse_row(raw: dict[str, str], where: RowLocation) -> dict:
    for field in REQUIRED:
        if not (raw.get(field) or "").strip():
            raise where.error(field, "is empty; every source needs a value here.")

    row: dict = {column: (raw.get(column) or "").strip() for column in COLUMNS}

    try:
        row["modalities"] = parse_modalities(row["modality"])
    except KeyError as exc:
        known = ", ".join(PRINTED_MODALITIES)
        raise where.error(
            "modality", f"unknown modality {exc.args[0]!r}; use one of: {known}."
        ) from None

    for field in ("n_images", "year"):
        text = row[field]
        if not re.fullmatch(r"\d+", text) or int(text) <= 0:
            raise where.error(
                field, f"{text!r} is not a positive integer (write digits only)."
            )
        row[field] = int(text)
    if not FIRST_YEAR <= row["year"] <= LAST_YEAR:
        raise where.error(
            "year", f"{row['year']} is not a year between {FIRST_YEAR} and {LAST_YEAR}."
        )
    if not re.match(r"https?://\S+$", row["url"]):
        raise where.error("url", f"{row['url']!r} is not an http(s) URL.")

    numbers = _split(row["reference_numbers"])
    keys = _split(row["citation_keys"])
    if not all(number.isdigit() for number in numbers):
        raise where.error("reference_numbers", f"{numbers} are not all integers.")
    if len(numbers) != len(keys):
        raise where.error(
            "citation_keys",
            f"{len(keys)} keys for {len(numbers)} reference numbers; "
            "list one key per number, in the same order.",
        )
    row["reference_numbers"] = [int(number) for number in numbers]
    row["citation_keys"] = keys
    row["aliases"] = _split(row["aliases"])
    row["evidence_urls"] = _split(row["evidence_urls"])

    choices = {
        "access": tuple(ACCESS_TYPES),
        "access_evidence": EVIDENCE_GRADES,
        "licence_evidence": EVIDENCE_GRADES,
        "count_relation": COUNT_RELATIONS,
        "counting_unit": COUNTING_UNITS,
    }
    for field, allowed in choices.items():
        if row[field] not in allowed:
            raise where.error(
                field, f"{row[field]!r} is not one of: {', '.join(allowed)}."
            )
    return row


def read_catalog_rows(path: str | Path) -> list[dict]:
    """Read and validate the rows of a catalog CSV without the bibliography check.

    Raises
    ------
    CatalogError
        Naming the file, row and field. The file may be missing, not UTF-8, or
        without rows or a required column. A row may have an empty required
        field, a count that is not a positive integer, a year outside 1950-2100,
        a URL that is not http(s), or an unknown modality or access type. A name
        or alias may repeat another row's, ignoring case, spaces and punctuation.
    """
    path = Path(path)
    try:
        # utf-8-sig also reads files that spreadsheet programs save with a BOM.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [
                column for column in COLUMNS if column not in (reader.fieldnames or [])
            ]
            if missing:
                raise CatalogError(f"{path}: missing columns {missing}.")
            raw_rows = list(reader)
    except (FileNotFoundError, IsADirectoryError):
        raise CatalogError(
            f"{path}: file not found; give the path of a catalog CSV."
        ) from None
    except UnicodeDecodeError as exc:
        raise CatalogError(
            f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8."
        ) from None
    if not raw_rows:
        raise CatalogError(f"{path}: the catalog has a header but no rows.")

    rows = []
    first_row_of: dict[str, int] = {}
    for number, raw in enumerate(raw_rows, start=1):
        name = (raw.get("name") or "").strip()
        where = RowLocation(str(path), number, name)
        row = _parse_row(raw, where)

        for spelling in [name, *row["aliases"]]:
            field = "name" if spelling == name else "aliases"
            normalised = _normalise(spelling)
            if first_row_of.get(normalised, number) != number:
                raise where.error(
                    field,
                    f"{spelling!r} matches a name or alias of row "
                    f"{first_row_of[normalised]} (case, spaces and punctuation are "
                    "ignored when names are looked up); rename one of them.",
                )
            first_row_of[normalised] = number
        row["row"] = number
        rows.append(row)
    return rows


def check_citation_keys(
    rows: list[dict], bib_keys: set[str], catalog_path: str, bib_path: str
) -> None:
    """Raise :class:`CatalogError` for a row that cites a key missing from the bib."""
    for row in rows:
        for key in row["citation_keys"]:
            if key not in bib_keys:
                where = RowLocation(catalog_path, row["row"], row["name"])
                raise where.error(
                    "citation_keys",
                    f"key {key!r} is not in {bib_path}; add the entry there "
                    "or fix the key.",
                )


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, bib_path: str | None) -> pd.DataFrame:
    rows = read_catalog_rows(path)
    if bib_path is not None:
        from biovfm_utils.bibliography import load_bibliography

        bibliography = load_bibliography(bib_path)
        check_citation_keys(rows, set(bibliography.entries), path, bib_path)

    frame = pd.DataFrame(rows)
    frame["group"] = [
        modalities[0] if len(modalities) == 1 else MULTI_MODALITY
        for modalities in frame["modalities"]
    ]
    frame["access_label"] = frame["access"].map(ACCESS_TYPES)
    frame["verified"] = (frame["access_evidence"] == "official") & (
        frame["licence_evidence"] == "official"
    )
    frame["slug"] = frame["name"].map(slugify)
    return frame.set_index("row")


def load_catalog(
    path: str | Path | None = None, *, bib_path: str | Path | None = "default"
) -> pd.DataFrame:
    """Load and validate the catalog, one row per source in the paper's order.

    Parameters
    ----------
    path
        A catalog CSV; the packaged catalog by default.
    bib_path
        The BibTeX file that must contain every citation key; the packaged
        ``references.bib`` by default, or ``None`` to skip this check.

    Returns
    -------
    pandas.DataFrame
        Indexed by the 1-based row of Table 1. Besides the CSV columns it has
        ``modalities`` (list of canonical names), ``group`` (the single modality,
        or ``"Multi-modality"``), ``access_label``, ``verified`` (access and licence
        both confirmed by the owner) and ``slug``. List columns hold Python lists.
        Each call returns a copy of a cached frame.

    Raises
    ------
    CatalogError
        For any invalid row; the message names the file, row and field.
    """
    from biovfm_utils.bibliography import default_bib_path

    path = default_catalog_path() if path is None else Path(path)
    if bib_path == "default":
        bib_path = default_bib_path()
    bib = None if bib_path is None else str(bib_path)
    # A copy, so that a caller who edits the frame cannot change later loads.
    return _load_cached(str(path), bib).copy()


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


def find_source(name: str, catalog: pd.DataFrame | None = None) -> pd.Series:
    """Return the catalog row of a source, matched case-insensitively.

    Punctuation and spaces are ignored, and the catalog's aliases (the dataset's
    own spelling where Table 1 prints another one) match too, so "e-ophtha",
    "E-optha" and "eoptha" all find the same row.

    Raises
    ------
    KeyError
        If nothing matches; the message lists the closest names.
    """
    catalog = load_catalog() if catalog is None else catalog
    query = _normalise(name)
    spellings: dict[str, int] = {}
    for row, source in catalog.iterrows():
        for spelling in [source["name"], *source["aliases"]]:
            spellings.setdefault(_normalise(spelling), row)
    if query in spellings:
        return catalog.loc[spellings[query]]

    close = difflib.get_close_matches(query, list(spellings), n=3, cutoff=0.5)
    suggestions = list(dict.fromkeys(catalog.loc[spellings[c], "name"] for c in close))
    hint = f" Closest: {', '.join(suggestions)}." if suggestions else ""
    raise KeyError(f"No source named {name!r} in the catalog.{hint}")


def sources_for_modality(
    modality: str, catalog: pd.DataFrame | None = None, *, collections: bool = True
) -> pd.DataFrame:
    """Return the sources that list ``modality``, in the paper's order.

    With ``collections=False`` the multi-modality collections are left out, so
    "Fundus" gives the 20 fundus-only sources.

    Raises
    ------
    KeyError
        If ``modality`` is not a canonical name or printed label.
    """
    catalog = load_catalog() if catalog is None else catalog
    canonical = canonical_modality(modality)
    mask = catalog["modalities"].map(lambda listed: canonical in listed)
    if not collections:
        mask &= catalog["group"] != MULTI_MODALITY
    return catalog[mask]


def canonical_modality(label: str) -> str:
    """Return the canonical name of a modality given either spelling, any case."""
    folded = label.strip().casefold()
    for candidate in (*MODALITIES, *PRINTED_MODALITIES):
        if candidate.casefold() == folded:
            return PRINTED_MODALITIES.get(candidate, candidate)
    known = ", ".join(MODALITIES)
    raise KeyError(f"Unknown modality {label!r}; use one of: {known}.")


def citation_numbers(catalog: pd.DataFrame | None = None) -> dict[str, int]:
    """Map each citation key to its reference number in the paper's list.

    Raises
    ------
    CatalogError
        If a key has two numbers or a number two keys.
    """
    catalog = load_catalog() if catalog is None else catalog
    number_of: dict[str, int] = {}
    key_of: dict[int, str] = {}
    for row, source in catalog.iterrows():
        where = RowLocation("catalog", row, source["name"])
        for number, key in zip(source["reference_numbers"], source["citation_keys"]):
            if number_of.setdefault(key, number) != number:
                raise where.error(
                    "reference_numbers",
                    f"key {key!r} is numbered both {number_of[key]} and {number}.",
                )
            if key_of.setdefault(number, key) != key:
                raise where.error(
                    "citation_keys",
                    f"reference {number} is both {key_of[number]!r} and {key!r}.",
                )
    return number_of
