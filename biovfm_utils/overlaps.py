"""Images that two rows of Table 1 may both count, and how well each claim is backed.

``biovfm_utils/data/overlaps.csv`` has one row per relation between two sources,
read as a sentence: *source* *relation* *other source* ("Endo-FM includes
Kvasir-Capsule"). Each row carries an evidence grade
(:data:`~biovfm_utils.composition_data.EVIDENCE_GRADES`), its evidence URLs, the
number of shared images (``unknown`` for every relation so far) and the data that
would settle it. Rows with the relation ``no overlap found with`` record checks that
found nothing; their other source may be ``any other source``.

MIMIC-CXR and MIMIC-CXR-JPG share all their images, but Table 1 lists them as one
row, so that relation is no pair here.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from biovfm_utils.catalog import MULTI_MODALITY, load_catalog
from biovfm_utils.composition_data import (
    EVIDENCE_GRADES,
    DataLocation,
    check_choice,
    parse_count,
    parse_urls,
    read_data_rows,
    resolve_source_name,
)

#: Relations under which two rows may count the same images.
OVERLAP_RELATIONS = ("includes", "shares source scans with", "may share images with")

#: The relation of a check that found no shared images.
NO_OVERLAP = "no overlap found with"

#: Other source of a check made against every other row of Table 1.
ANY_OTHER_SOURCE = "any other source"

OVERLAP_COLUMNS = (
    "source",
    "relation",
    "other_source",
    "via",
    "evidence_grade",
    "evidence_urls",
    "shared_images",
    "note",
    "needed_to_close",
)


def default_overlaps_path() -> Path:
    """Return the path of the overlap CSV shipped with the package."""
    return Path(str(resources.files("biovfm_utils") / "data" / "overlaps.csv"))


def _parse_overlap(
    raw: dict[str, str], where: DataLocation, catalog: pd.DataFrame
) -> dict:
    for field in ("source", "relation", "other_source", "shared_images"):
        if not raw[field]:
            raise where.error(field, "is empty; every row needs a value here.")

    row: dict = dict(raw)
    check_choice(raw["relation"], (*OVERLAP_RELATIONS, NO_OVERLAP), where, "relation")
    check_choice(raw["evidence_grade"], EVIDENCE_GRADES, where, "evidence_grade")

    first = resolve_source_name(raw["source"], catalog, where, "source")
    if raw["other_source"] == ANY_OTHER_SOURCE:
        if raw["relation"] != NO_OVERLAP:
            raise where.error(
                "other_source",
                f"{ANY_OTHER_SOURCE!r} is allowed only with the relation "
                f"{NO_OVERLAP!r}.",
            )
        second = None
    else:
        second = resolve_source_name(
            raw["other_source"], catalog, where, "other_source"
        )
        if second["name"] == first["name"]:
            raise where.error("other_source", "names the same source as 'source'.")

    row["evidence_urls"] = parse_urls(raw["evidence_urls"], where, "evidence_urls")
    if raw["evidence_grade"] != "inferred" and not row["evidence_urls"]:
        raise where.error(
            "evidence_urls",
            f"is empty; a {raw['evidence_grade']} claim needs the page that states it.",
        )

    shared = parse_count(raw["shared_images"], where, "shared_images")
    if shared is not None and second is not None:
        smaller = min(int(first["n_images"]), int(second["n_images"]))
        if shared > smaller:
            raise where.error(
                "shared_images",
                f"{shared:,} exceeds the smaller row's {smaller:,} images in Table 1.",
            )
    row["shared_images"] = shared

    if (
        raw["relation"] in OVERLAP_RELATIONS
        and shared is None
        and not raw["needed_to_close"]
    ):
        raise where.error(
            "needed_to_close",
            "is empty; say which data would give the number of shared images.",
        )
    return row


def load_overlaps(
    path: str | Path | None = None, catalog: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Load and validate the relations between pairs of Table 1 sources.

    Returns
    -------
    pandas.DataFrame
        One row per file row, with the CSV columns. ``evidence_urls`` is a list
        and ``shared_images`` a nullable integer (``<NA>`` for ``unknown``).
        ``row`` is the 1-based data row of the file.

    Raises
    ------
    CompositionDataError
        Naming the file, row and field: a missing column or value, a source that
        is not in the catalog or not spelled as Table 1 prints it, a pair of one
        source with itself, an unknown relation or evidence grade, a documented or
        third-party claim without a URL, a malformed URL, a shared-image count
        that is not an integer or ``unknown`` or exceeds the smaller row, an
        overlap of unknown size without ``needed_to_close``, or a pair listed
        twice in either order.
    """
    catalog = load_catalog() if catalog is None else catalog
    path = default_overlaps_path() if path is None else Path(path)
    raw_rows = read_data_rows(path, OVERLAP_COLUMNS)

    rows = []
    first_row_of: dict[frozenset, int] = {}
    for number, raw in enumerate(raw_rows, start=1):
        label = f"{raw['source']} / {raw['other_source']}"
        where = DataLocation(str(path), number, label)
        row = _parse_overlap(raw, where, catalog)

        pair = frozenset((raw["source"], raw["other_source"]))
        if pair in first_row_of:
            raise where.error(
                "other_source",
                f"the pair is already listed in row {first_row_of[pair]}; keep one "
                "row per pair.",
            )
        first_row_of[pair] = number
        row["row"] = number
        rows.append(row)

    frame = pd.DataFrame(rows, columns=[*OVERLAP_COLUMNS, "row"])
    frame["shared_images"] = frame["shared_images"].astype("Int64")
    return frame


def known_overlaps(overlaps: pd.DataFrame) -> pd.DataFrame:
    """Return the relations under which two rows may count the same images."""
    return overlaps[overlaps["relation"].isin(OVERLAP_RELATIONS)]


def checks_without_overlap(overlaps: pd.DataFrame) -> pd.DataFrame:
    """Return the checks that found no shared images, with their grades."""
    return overlaps[overlaps["relation"] == NO_OVERLAP]


def shared_image_bounds(
    overlaps: pd.DataFrame, catalog: pd.DataFrame, split: pd.DataFrame
) -> pd.DataFrame:
    """Bound the number of images that each known overlap counts twice.

    Two rows cannot share more images than the smaller of them contains. When one
    side is a collection with published image counts, the shared images are also
    at most the collection's images of the other side's modality (the ``maximum``
    column of :func:`biovfm_utils.composition.collection_split`). Sources that
    share scans but not images (crops against whole slices) get no bound.

    Parameters
    ----------
    split
        The frame from :func:`biovfm_utils.composition.collection_split`.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`known_overlaps` with two more columns:
        ``max_shared_images`` (nullable integer) and ``bound_basis`` (the count
        that sets it, in words).
    """
    known = known_overlaps(overlaps).copy()
    by_name = catalog.set_index("name")
    maximum = split.set_index(["collection", "modality"])["maximum"]

    bounds, bases = [], []
    for _, overlap in known.iterrows():
        if overlap["relation"] == "shares source scans with":
            bounds.append(pd.NA)
            bases.append("none: the rows hold different images of the same scans")
            continue

        names = [overlap["source"], overlap["other_source"]]
        candidates = [
            (int(by_name.loc[name, "n_images"]), f"{name} in Table 1") for name in names
        ]
        for collection, single in (names, names[::-1]):
            if by_name.loc[collection, "group"] != MULTI_MODALITY:
                continue
            modality = by_name.loc[single, "group"]
            if (collection, modality) in maximum.index:
                cap = int(maximum.loc[(collection, modality)])
                candidates.append((cap, f"{collection}'s published {modality} images"))
        bound, basis = min(candidates)
        bounds.append(bound)
        bases.append(basis)

    known["max_shared_images"] = pd.array(bounds, dtype="Int64")
    known["bound_basis"] = bases
    return known


def bounds_by_grade(bounds: pd.DataFrame) -> pd.DataFrame:
    """Add up the shared-image bounds per evidence grade.

    The sum over all relations bounds the images counted more than once through
    these relations. An image in ``k`` rows is counted ``k - 1`` times too often,
    and the listed pairs that link those rows add at least ``k - 1`` to the sum.
    Relations without a bound (shared scans) and relations not yet found are not
    covered.

    Returns
    -------
    pandas.DataFrame
        Indexed by grade in :data:`EVIDENCE_GRADES` order, with columns
        ``relations`` (how many), ``bounded`` (how many have a bound) and
        ``max_shared_images`` (sum of the bounds).
    """
    rows = []
    for grade in EVIDENCE_GRADES:
        selected = bounds[bounds["evidence_grade"] == grade]
        rows.append(
            {
                "grade": grade,
                "relations": len(selected),
                "bounded": int(selected["max_shared_images"].notna().sum()),
                "max_shared_images": int(selected["max_shared_images"].sum()),
            }
        )
    return pd.DataFrame(rows).set_index("grade")


def gaps(overlaps: pd.DataFrame) -> pd.DataFrame:
    """Return, for each overlap of unknown size, the data that would settle it.

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``relation``, ``other_source``, ``evidence_grade``
        and ``needed_to_close``, one row per known overlap whose shared-image
        count is unknown.
    """
    known = known_overlaps(overlaps)
    open_rows = known[known["shared_images"].isna()]
    columns = [
        "source",
        "relation",
        "other_source",
        "evidence_grade",
        "needed_to_close",
    ]
    return open_rows[columns].reset_index(drop=True)
