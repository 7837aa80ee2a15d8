"""Images per modality in BioVFM-21M, as a range rather than one number.

Table 1 gives one count per source. Fifty-eight sources have a single modality, but
three are multi-modality collections (RadImageNet, RP3D-DiagDS and SAM-Med2D-20M)
that hold almost half of all images, and the BioVFM-21M paper does not split
them. This module
combines the catalog with the counts the collections publish
(:mod:`biovfm_utils.breakdowns`) and returns, per modality:

lower bound
    The single-modality sources only. It assumes nothing.
with minimum
    The lower bound plus the images a collection must hold of that modality, given
    its published image counts (only SAM-Med2D-20M publishes image counts).
estimate
    The lower bound plus each collection split by its published proportions. It is
    an estimate, resting on :data:`ASSUMPTIONS`. RadImageNet publishes no split, so
    its images stay unassigned.
upper bound
    The lower bound plus every collection that lists the modality, counted as if
    all its images were of that modality, capped by the collection's published
    image count where one exists. Upper bounds overlap, so they do not add up.

All functions are pure: they take the catalog and the breakdown frame and return
frames or strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from biovfm_utils.breakdowns import (
    PREFERRED_VERSIONS,
    ModalityRule,
    modality_rules,
    select_version,
)
from biovfm_utils.catalog import MODALITIES, MULTI_MODALITY
from biovfm_utils.tables import format_count

#: Label of the row that contains the images of collections left unsplit.
UNASSIGNED = "Unassigned"

#: The assumptions behind the estimate and the bounds, for pages and captions.
ASSUMPTIONS = (
    (
        "Lower bound",
        ("Counts the single-modality sources only, and assumes nothing."),
    ),
    (
        "Counted twice",
        (
            "Every Table 1 row counts in full: images that two rows share are not "
            "removed, because no shared count is known."
        ),
    ),
    (
        "SAM-Med2D-20M proportions",
        (
            "The published counts describe the full SA-Med2D-20M collection, not the "
            "smaller SA-Med2D-16M release on Hugging Face from which BioVFM-21M took "
            "its images. The estimate assumes that the release, and BioVFM-21M's "
            "selection from it, keep the full collection's proportions. No "
            "per-modality counts of the release are published."
        ),
    ),
    (
        "SAM-Med2D-20M microscopy and histopathology",
        (
            "Left out of the split: the release has neither (third-party), and Table 1 "
            "lists neither for this row. The other eight modalities are rescaled to "
            "sum to the whole row. PET counts as nuclear medicine."
        ),
    ),
    (
        "SAM-Med2D-20M bounds",
        (
            "The images BioVFM-21M took are assumed to be part of the full collection. "
            "Then the published count of a modality caps the row's images of that "
            "modality, and the row's images minus the published images of all other "
            "modalities give a minimum."
        ),
    ),
    (
        "RP3D-DiagDS scans and slices",
        (
            "The published counts are scans, while Table 1 counts 2-D slices. The "
            "estimate assumes that scans of every modality have the same mean number "
            "of slices. That is unlikely: a radiograph is one image while a CT or MR "
            "scan has many slices, so the estimate probably overstates X-ray and "
            "understates CT and MR (inferred)."
        ),
    ),
    (
        "RP3D-DiagDS modalities outside Table 1",
        (
            "Fluoroscopy, DSA, mammography and barium studies are X-ray techniques and "
            "count as X-ray, as Table 1 labels VinDr-Mammo, DCA1 and DrSAM X-Ray. The "
            "paper does not say whether BioVFM-21M kept these scans."
        ),
    ),
    (
        "RP3D-DiagDS figure",
        (
            "Abnormal and normal scans are added. The project page's current figure "
            "(June 2024) is used, while an older figure (December 2023) has fewer "
            "normal scans. Neither total equals a scan total given in the RP3D-DiagDS "
            "paper."
        ),
    ),
    (
        "RadImageNet",
        (
            "No per-modality count is published, so its images stay unassigned in the "
            "estimate and count towards each of CT, MR and ultrasound in the upper "
            "bound."
        ),
    ),
    (
        "Not used",
        (
            "The donut chart of the SAM-Med2D paper shows shares of the logarithm of "
            "each count, not modality shares."
        ),
    ),
)

#: Data that would turn each collection's estimate into a count, per collection.
COLLECTION_GAPS = {
    "SAM-Med2D-20M": "BioVFM-21M's file list for this row: the modality of each "
    "image is the prefix of its file name (ct_, mr_t1, ...) in SAMed2D_v1.json.",
    "RP3D-DiagDS": "The number of slices per modality among the scans BioVFM-21M "
    "kept, or its file list with each scan's modality.",
    "RadImageNet": "Per-modality image counts (the README slides or the paper's "
    "figure may hold them) and BioVFM-21M's file list for this row.",
}


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` that add up to it.

    Uses the largest-remainder method in exact integer arithmetic: every part gets
    the integer part of its quota, and the units left over go to the largest
    remainders, earlier parts first on ties.

    Raises
    ------
    ValueError
        If the weights are empty, negative or all zero.
    """
    weight_sum = sum(weights)
    if not weights or min(weights) < 0 or weight_sum == 0:
        raise ValueError(f"Cannot allocate by weights {list(weights)}.")
    quotients = [divmod(total * weight, weight_sum) for weight in weights]
    parts = [quotient for quotient, _ in quotients]
    order = sorted(range(len(weights)), key=lambda i: (-quotients[i][1], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _mapped_counts(
    collection: str,
    rows: pd.DataFrame,
    listed: list[str],
    rules: Sequence[ModalityRule],
) -> tuple[dict[str, int | None], int | None]:
    """Sum a collection's published counts per Table 1 modality.

    Returns the counts of the mapped modalities (``None`` if a count is unknown)
    and the published total including labels left out (``None`` if unknown).
    """
    rule_of = {
        rule.published_modality: rule for rule in rules if rule.collection == collection
    }
    counts: dict[str, int | None] = {}
    total: int | None = 0
    for label, group in rows.groupby("published_modality", sort=False):
        if label not in rule_of:
            raise ValueError(
                f"No rule maps {label!r} of {collection} to a Table 1 modality."
            )
        count = None if group["count"].isna().any() else int(group["count"].sum())
        total = None if total is None or count is None else total + count
        modality = rule_of[label].modality
        if modality is None:
            continue
        if modality not in listed:
            raise ValueError(
                f"The rule for {label!r} of {collection} gives {modality!r}, which "
                f"Table 1 does not list for this row ({', '.join(listed)})."
            )
        previous = counts.get(modality, 0)
        counts[modality] = (
            None if previous is None or count is None else previous + count
        )
    return counts, total


def collection_split(
    catalog: pd.DataFrame,
    breakdowns: pd.DataFrame,
    rules: Sequence[ModalityRule] | None = None,
    versions: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Split each multi-modality collection over the modalities Table 1 lists for it.

    Parameters
    ----------
    rules
        The mapping of published labels to Table 1 modalities, by default
        :func:`modality_rules`.
    versions
        The breakdown version to use per collection, by default
        :data:`~biovfm_utils.breakdowns.PREFERRED_VERSIONS`.

    Returns
    -------
    pandas.DataFrame
        One row per collection and listed modality, in Table 1 order. Columns:
        ``collection``, ``modality`` and ``n_images`` (the collection's Table 1
        count). ``published_count`` and ``unit``, after mapping, are ``<NA>`` where
        unknown. ``share`` is of the mapped published total. ``estimate`` gives
        images by largest remainder, so they add up to ``n_images``, and is
        ``<NA>`` where no split is published. ``minimum`` and ``maximum`` are
        the bounds that published image counts allow (see :data:`ASSUMPTIONS`).

    Raises
    ------
    ValueError
        If a rule maps to a modality the collection does not list, or if a
        collection's Table 1 count exceeds its published image total, which
        would contradict the assumption behind the bounds.
    """
    rules = modality_rules() if rules is None else rules
    versions = PREFERRED_VERSIONS if versions is None else versions
    collections = catalog[catalog["group"] == MULTI_MODALITY]

    records = []
    for _, source in collections.iterrows():
        name, n_images = source["name"], int(source["n_images"])
        listed = [m for m in MODALITIES if m in source["modalities"]]
        rows = breakdowns[breakdowns["collection"] == name]
        if not rows.empty:
            rows = select_version(breakdowns, name, versions)
        counts, total = _mapped_counts(name, rows, listed, rules)
        unit = rows["unit"].iloc[0] if not rows.empty else pd.NA

        published = [counts.get(m, 0) for m in listed]
        known = not rows.empty and None not in published
        estimates = allocate(n_images, published) if known else [pd.NA] * len(listed)
        bounded = known and unit == "images" and total is not None
        if bounded and n_images > total:
            raise ValueError(
                f"{name} has {n_images:,} images in Table 1 but {total:,} published; "
                "the bounds assume the Table 1 images are part of the published ones."
            )

        for modality, count, estimate in zip(listed, published, estimates):
            records.append(
                {
                    "collection": name,
                    "modality": modality,
                    "n_images": n_images,
                    "published_count": count if not rows.empty else None,
                    "unit": unit,
                    "share": count / sum(published) if known else None,
                    "estimate": estimate,
                    "minimum": max(0, n_images - (total - count)) if bounded else 0,
                    "maximum": min(n_images, count) if bounded else n_images,
                }
            )

    frame = pd.DataFrame(records)
    for column in ("published_count", "estimate"):
        frame[column] = frame[column].astype("Int64")
    frame["share"] = frame["share"].astype("Float64")
    return frame


def modality_ranges(
    catalog: pd.DataFrame,
    breakdowns: pd.DataFrame,
    rules: Sequence[ModalityRule] | None = None,
    versions: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Return the images of each modality as a lower bound, estimate and upper bound.

    Returns
    -------
    pandas.DataFrame
        Indexed by the ten modalities in :data:`~biovfm_utils.catalog.MODALITIES`
        order, then :data:`UNASSIGNED`. Columns: ``single_sources`` and
        ``collections`` (how many single-modality sources and collections list the
        modality), ``lower_bound``, ``with_minimum``, ``estimate`` and
        ``upper_bound`` (see the module docstring). The unassigned row contains
        the collection images that each column does not place in a modality, so
        every column except ``upper_bound`` adds up to the catalog total. Its
        upper bound is ``<NA>``.
    """
    split = collection_split(catalog, breakdowns, rules, versions)
    single = catalog[catalog["group"] != MULTI_MODALITY]
    lower = single.groupby("group")["n_images"].sum().reindex(MODALITIES, fill_value=0)
    by_modality = split.groupby("modality")

    def collection_sum(column: str) -> pd.Series:
        summed = by_modality[column].sum()
        return summed.reindex(MODALITIES, fill_value=0).astype("int64")

    frame = pd.DataFrame(
        {
            "single_sources": single["group"]
            .value_counts()
            .reindex(MODALITIES, fill_value=0),
            "collections": by_modality.size().reindex(MODALITIES, fill_value=0),
            "lower_bound": lower,
            "with_minimum": lower + collection_sum("minimum"),
            "estimate": lower + collection_sum("estimate"),
            "upper_bound": lower + collection_sum("maximum"),
        }
    ).astype("Int64")

    collection_images = int(
        catalog.loc[catalog["group"] == MULTI_MODALITY, "n_images"].sum()
    )
    unsplit = split.drop_duplicates("collection")
    unsplit = unsplit.loc[unsplit["estimate"].isna(), "n_images"].sum()
    frame.loc[UNASSIGNED] = [
        0,
        0,
        collection_images,
        collection_images - int(split["minimum"].sum()),
        int(unsplit),
        pd.NA,
    ]
    frame.index.name = "modality"
    return frame


def estimate_variants(catalog: pd.DataFrame, breakdowns: pd.DataFrame) -> pd.DataFrame:
    """Return the estimate under the default choices and under each alternative.

    Returns
    -------
    pandas.DataFrame
        Indexed like :func:`modality_ranges`, with columns ``default``,
        ``older_rp3d_figure`` (RP3D-DiagDS's December 2023 figure) and
        ``xray_techniques_left_out`` (RP3D-DiagDS's fluoroscopy, DSA, mammography
        and barium scans left out of its split instead of counted as X-ray).
    """
    older = dict(PREFERRED_VERSIONS)
    older["RP3D-DiagDS"] = "project page figure modality_good.png"
    variants = {
        "default": modality_ranges(catalog, breakdowns),
        "older_rp3d_figure": modality_ranges(catalog, breakdowns, versions=older),
        "xray_techniques_left_out": modality_ranges(
            catalog, breakdowns, rules=modality_rules(map_xray_techniques=False)
        ),
    }
    return pd.DataFrame({name: ranges["estimate"] for name, ranges in variants.items()})


def format_estimate(value: int, significant: int = 3) -> str:
    """Format an estimate rounded to ``significant`` figures, marked with "≈".

    ``1918612`` gives ``"≈ 1,920,000"``, with a no-break space after the sign so
    that a table cell does not wrap there; zero gives ``"0"``.
    """
    if value == 0:
        return "0"
    rounded = int(float(f"{value:.{significant}g}"))
    return f"≈\u00a0{format_count(rounded)}"
