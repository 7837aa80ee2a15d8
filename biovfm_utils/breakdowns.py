"""Per-modality image counts that the multi-modality collections publish.

Three sources of Table 1 span several modalities: RadImageNet, RP3D-DiagDS and
SAM-Med2D-20M. Their authors publish per-modality counts of differing kinds: images
of a larger version of the collection (SAM-Med2D-20M), scans rather than slices
(RP3D-DiagDS), or none at all (RadImageNet). The counts live in
``biovfm_utils/data/modality_breakdowns.csv``, exactly as published; this module
loads and validates them and maps each published label to a Table 1 modality
(:func:`modality_rules`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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

#: Counting units of a published breakdown: 2-D images, or scans (series).
UNITS = ("images", "scans")

#: Parts of a collection that a breakdown may count separately.
SUBSETS = ("all", "abnormal", "normal")

BREAKDOWN_COLUMNS = (
    "collection",
    "version",
    "date",
    "published_modality",
    "subset",
    "count",
    "unit",
    "evidence_grade",
    "source_urls",
    "note",
)

#: The published breakdown used for each collection. RP3D-DiagDS has two figures,
#: and the one that its project page shows now is used.
PREFERRED_VERSIONS = {
    "SAM-Med2D-20M": "SA-Med2D-20M full collection",
    "RP3D-DiagDS": "project page figure Distribution_figure.png",
    "RadImageNet": "Radiology: Artificial Intelligence paper",
}

#: RP3D-DiagDS modalities that are X-ray techniques but not in Table 1's list.
RP3D_XRAY_TECHNIQUES = ("Fluoroscopy", "DSA (angiography)", "Mammography", "Barium")


@dataclass(frozen=True)
class ModalityRule:
    """Mapping of one published modality label of a collection to a Table 1 modality.

    ``modality`` is ``None`` when the label is left out of the split.
    """

    collection: str
    published_modality: str
    modality: str | None
    reason: str


def modality_rules(*, map_xray_techniques: bool = True) -> tuple[ModalityRule, ...]:
    """Return the mapping of every published modality label to a Table 1 modality.

    Parameters
    ----------
    map_xray_techniques
        If true (the default), RP3D-DiagDS's fluoroscopy, DSA, mammography and
        barium scans count as X-ray, as Table 1 labels the mammography source
        VinDr-Mammo and the angiography sources DCA1 and DrSAM "X-Ray". If false,
        they are left out of the split, as if BioVFM-21M had dropped them. The
        BioVFM-21M paper does not say whether it kept them.
    """
    same = "same modality"
    rules = [
        ModalityRule("SAM-Med2D-20M", "CT", "CT", same),
        ModalityRule("SAM-Med2D-20M", "MR", "MR", same),
        ModalityRule(
            "SAM-Med2D-20M",
            "PET",
            "Nuclear medicine",
            "PET is a nuclear medicine technique",
        ),
        ModalityRule("SAM-Med2D-20M", "Dermoscopy", "Dermoscopy", same),
        ModalityRule("SAM-Med2D-20M", "X-ray", "X-ray", same),
        ModalityRule("SAM-Med2D-20M", "Endoscopy", "Endoscopy", same),
        ModalityRule("SAM-Med2D-20M", "Fundus", "Fundus", same),
        ModalityRule("SAM-Med2D-20M", "Ultrasound", "Ultrasound", same),
    ]
    for label in ("Microscopy", "Histopathology"):
        rules.append(
            ModalityRule(
                "SAM-Med2D-20M",
                label,
                None,
                "not in the release BioVFM-21M used (third-party)",
            )
        )
    rules += [
        ModalityRule("RP3D-DiagDS", "MRI", "MR", same),
        ModalityRule("RP3D-DiagDS", "CT", "CT", same),
        ModalityRule("RP3D-DiagDS", "X-ray", "X-ray", same),
        ModalityRule("RP3D-DiagDS", "Ultrasound", "Ultrasound", same),
        ModalityRule("RP3D-DiagDS", "Nuclear medicine", "Nuclear medicine", same),
    ]
    for label in RP3D_XRAY_TECHNIQUES:
        if map_xray_techniques:
            rule = ModalityRule(
                "RP3D-DiagDS",
                label,
                "X-ray",
                "an X-ray technique",
            )
        else:
            rule = ModalityRule(
                "RP3D-DiagDS",
                label,
                None,
                "not among Table 1's modalities for this row",
            )
        rules.append(rule)
    rules += [
        ModalityRule("RadImageNet", "CT", "CT", same),
        ModalityRule("RadImageNet", "MRI", "MR", same),
        ModalityRule("RadImageNet", "US", "Ultrasound", same),
    ]
    return tuple(rules)


def default_breakdowns_path() -> Path:
    """Return the path of the breakdown CSV shipped with the package."""
    return Path(
        str(resources.files("biovfm_utils") / "data" / "modality_breakdowns.csv")
    )


def _check_date(text: str, where: DataLocation) -> str:
    parts = text.split("-")
    lengths = [len(part) for part in parts]
    valid = all(part.isdigit() for part in parts) and lengths in (
        [4],
        [4, 2],
        [4, 2, 2],
    )
    if not valid:
        raise where.error(
            "date", f"{text!r} is not a date (write YYYY, YYYY-MM or YYYY-MM-DD)."
        )
    return text


def load_breakdowns(
    path: str | Path | None = None, catalog: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Load and validate the per-modality counts published by the collections.

    Returns
    -------
    pandas.DataFrame
        One row per file row, with the CSV columns; ``count`` is a nullable
        integer (``<NA>`` where the file has ``unknown``), ``source_urls`` a
        list, and ``row`` the 1-based data row of the file.

    Raises
    ------
    CompositionDataError
        Naming the file, row and field: a missing column, a collection that is
        not a multi-modality row of the catalog (or not spelled as Table 1 prints
        it), a count that is neither a non-negative integer nor ``unknown``, an
        unknown unit, subset or evidence grade, a malformed date or URL, a
        published modality without a rule in :func:`modality_rules`, a row
        repeated, or two units within one version of a breakdown.
    """
    catalog = load_catalog() if catalog is None else catalog
    path = default_breakdowns_path() if path is None else Path(path)
    raw_rows = read_data_rows(path, BREAKDOWN_COLUMNS)
    mapped = {(rule.collection, rule.published_modality) for rule in modality_rules()}

    rows = []
    seen: dict[tuple, int] = {}
    units: dict[tuple, tuple[str, int]] = {}
    for number, raw in enumerate(raw_rows, start=1):
        where = DataLocation(str(path), number, raw["collection"])
        for field in ("collection", "version", "date", "published_modality", "count"):
            if not raw[field]:
                raise where.error(field, "is empty; every row needs a value here.")

        row = dict(raw)
        source = resolve_source_name(raw["collection"], catalog, where, "collection")
        if source["group"] != MULTI_MODALITY:
            raise where.error(
                "collection",
                f"{raw['collection']!r} lists one modality in Table 1; only the "
                "multi-modality collections need a breakdown.",
            )
        row["date"] = _check_date(raw["date"], where)
        row["count"] = parse_count(raw["count"], where, "count")
        for field, allowed in (
            ("subset", SUBSETS),
            ("unit", UNITS),
            ("evidence_grade", EVIDENCE_GRADES),
        ):
            check_choice(raw[field], allowed, where, field)
        row["source_urls"] = parse_urls(raw["source_urls"], where, "source_urls")
        if not row["source_urls"]:
            raise where.error(
                "source_urls", "is empty; give the page that publishes the count."
            )

        key = (raw["collection"], raw["published_modality"])
        if key not in mapped:
            raise where.error(
                "published_modality",
                f"no rule maps {raw['published_modality']!r} of {raw['collection']} "
                "to a Table 1 modality; add one to modality_rules().",
            )
        identity = (
            raw["collection"],
            raw["version"],
            raw["published_modality"],
            raw["subset"],
        )
        if identity in seen:
            raise where.error(
                "published_modality",
                f"repeats row {seen[identity]} (same collection, version, modality "
                "and subset).",
            )
        seen[identity] = number

        version = (raw["collection"], raw["version"])
        unit = units.setdefault(version, (raw["unit"], number))
        if unit[0] != raw["unit"]:
            raise where.error(
                "unit",
                f"{raw['unit']!r} differs from {unit[0]!r} in row {unit[1]}; one "
                "version of a breakdown must count in one unit.",
            )
        row["row"] = number
        rows.append(row)

    frame = pd.DataFrame(rows, columns=[*BREAKDOWN_COLUMNS, "row"])
    frame["count"] = frame["count"].astype("Int64")
    return frame


def select_version(
    breakdowns: pd.DataFrame, collection: str, versions: Mapping[str, str]
) -> pd.DataFrame:
    """Return the breakdown rows of one collection in the version ``versions`` names.

    A collection with a single version needs no entry in ``versions``.

    Raises
    ------
    ValueError
        If the named version does not exist, or if the collection has several
        versions and none is named.
    """
    rows = breakdowns[breakdowns["collection"] == collection]
    available = list(dict.fromkeys(rows["version"]))
    version = versions.get(collection)
    if version is None:
        if len(available) == 1:
            return rows
        raise ValueError(
            f"{collection} has {len(available)} breakdown versions ({available}); "
            "name one in `versions`."
        )
    if version not in available:
        raise ValueError(
            f"No breakdown version {version!r} for {collection}; "
            f"use one of: {available}."
        )
    return rows[rows["version"] == version]


def published_shares(
    breakdowns: pd.DataFrame, collection: str, version: str | None = None
) -> pd.DataFrame:
    """Return a collection's published counts per published label, with shares.

    Counts of the subsets (abnormal and normal scans) are added. Shares are of the
    published total, before any label is mapped or left out.

    Returns
    -------
    pandas.DataFrame
        Indexed by the published modality label, in file order, with columns
        ``count``, ``unit`` and ``share``. Shares are ``<NA>`` if any count is
        unknown.
    """
    versions = dict(PREFERRED_VERSIONS)
    if version is not None:
        versions[collection] = version
    rows = select_version(breakdowns, collection, versions)
    if rows.empty:
        raise KeyError(f"No published breakdown for {collection!r}.")
    grouped = rows.groupby("published_modality", sort=False)
    frame = pd.DataFrame(
        {
            "count": grouped["count"].agg(lambda counts: counts.sum(skipna=False)),
            "unit": grouped["unit"].first(),
        }
    )
    frame["count"] = frame["count"].astype("Int64")
    if frame["count"].isna().any():
        frame["share"] = pd.array([pd.NA] * len(frame), dtype="Float64")
    else:
        frame["share"] = (frame["count"] / frame["count"].sum()).astype("Float64")
    frame.index.name = "published_modality"
    return frame
