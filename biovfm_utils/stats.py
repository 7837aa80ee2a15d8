"""Statistics of BioVFM-21M, computed from the catalog.

Every function is pure: it takes the catalog frame from
:func:`biovfm_utils.catalog.load_catalog` and returns a small frame or a number,
with no I/O and no plotting.

Counting rule for the multi-modality collections (RadImageNet, RP3D-DiagDS
and SAM-Med2D-20M): their images count once, in a group of their own, because the
paper gives no per-modality split of them; when counting *sources* per modality,
each collection counts once for every modality it lists.
"""

from __future__ import annotations

import pandas as pd

from biovfm_utils.catalog import ACCESS_TYPES, MODALITIES, MULTI_MODALITY

#: The rule above, in one sentence, for pages and captions.
COUNTING_RULE = (
    "Images of the multi-modality collections count once, in a group of "
    "their own, because the paper gives no per-modality split of them; in the "
    "per-modality source counts, each collection counts once for every modality "
    "it lists."
)

#: Groups in display order: the ten modalities, then the collections.
GROUPS = (*MODALITIES, MULTI_MODALITY)


def totals(catalog: pd.DataFrame) -> dict[str, int]:
    """Return the number of sources and of images."""
    return {
        "n_sources": len(catalog),
        "n_images": int(catalog["n_images"].sum()),
    }


def by_group(catalog: pd.DataFrame) -> pd.DataFrame:
    """Count sources and images per modality group.

    Returns
    -------
    pandas.DataFrame
        Indexed by group (the ten modalities, then ``"Multi-modality"``), with
        columns ``n_sources``, ``n_images`` and ``share`` (fraction of all images),
        sorted by ``n_images``, largest first. Groups without sources are left out.
    """
    grouped = catalog.groupby("group").agg(
        n_sources=("name", "size"), n_images=("n_images", "sum")
    )
    grouped["share"] = grouped["n_images"] / catalog["n_images"].sum()
    grouped = grouped.sort_values("n_images", ascending=False)
    grouped.index.name = "group"
    return grouped


def sources_per_modality(catalog: pd.DataFrame) -> pd.DataFrame:
    """Count the sources that list each modality.

    Returns
    -------
    pandas.DataFrame
        Indexed by modality, in :data:`MODALITIES` order, with columns
        ``single`` (sources of that modality alone), ``collections`` (the
        multi-modality collections that list it) and ``total``.
    """
    rows = []
    for modality in MODALITIES:
        lists_it = catalog["modalities"].map(lambda listed, m=modality: m in listed)
        in_collection = lists_it & (catalog["group"] == MULTI_MODALITY)
        rows.append(
            {
                "modality": modality,
                "single": int((lists_it & ~in_collection).sum()),
                "collections": int(in_collection.sum()),
            }
        )
    frame = pd.DataFrame(rows).set_index("modality")
    frame["total"] = frame["single"] + frame["collections"]
    return frame


def ranked_sources(catalog: pd.DataFrame) -> pd.DataFrame:
    """Rank the sources by size, largest first, with their cumulative share.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank`` (1 = largest), ``name``, ``group``, ``n_images``,
        ``share`` and ``cumulative_share``. Ties keep the paper's order.
    """
    ranked = catalog.sort_values("n_images", ascending=False, kind="stable")
    ranked = ranked[["name", "group", "n_images"]].reset_index(drop=True)
    total = ranked["n_images"].sum()
    ranked["share"] = ranked["n_images"] / total
    ranked["cumulative_share"] = ranked["n_images"].cumsum() / total
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    return ranked


def concentration(
    catalog: pd.DataFrame, top: tuple[int, ...] = (1, 3, 6)
) -> pd.DataFrame:
    """Return the images held by the largest ``k`` sources, for each ``k`` in ``top``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``k``, with columns ``n_images``, ``share`` and ``sources``
        (their names, largest first).
    """
    ranked = ranked_sources(catalog)
    rows = []
    for k in top:
        largest = ranked.head(k)
        rows.append(
            {
                "k": k,
                "n_images": int(largest["n_images"].sum()),
                "share": float(largest["cumulative_share"].iloc[-1]),
                "sources": ", ".join(largest["name"]),
            }
        )
    return pd.DataFrame(rows).set_index("k")


def small_sources(catalog: pd.DataFrame, threshold: int = 1000) -> pd.DataFrame:
    """Return the sources with fewer than ``threshold`` images, smallest first."""
    small = catalog[catalog["n_images"] < threshold]
    return small.sort_values("n_images", kind="stable")[["name", "group", "n_images"]]


def by_year(catalog: pd.DataFrame) -> pd.DataFrame:
    """Count sources and images per year.

    The year is the one the authors' own table gives for each source (mostly the
    year of its release or main publication).

    Returns
    -------
    pandas.DataFrame
        Indexed by year, ascending, with columns ``n_sources``, ``n_images`` and
        ``share``. Years without sources are left out.
    """
    grouped = catalog.groupby("year").agg(
        n_sources=("name", "size"), n_images=("n_images", "sum")
    )
    grouped["share"] = grouped["n_images"] / catalog["n_images"].sum()
    return grouped.sort_index()


def by_access(catalog: pd.DataFrame) -> pd.DataFrame:
    """Count sources and images per access route.

    Returns
    -------
    pandas.DataFrame
        Indexed by the access label ("open download", "registration",
        "credentialed", "Kaggle", "Hugging Face", "challenge"), in that order,
        with columns ``n_sources``, ``n_images``, ``share`` and ``unconfirmed``
        (sources whose access route is not confirmed by the owner).
    """
    rows = []
    for access, label in ACCESS_TYPES.items():
        selected = catalog[catalog["access"] == access]
        rows.append(
            {
                "access": label,
                "n_sources": len(selected),
                "n_images": int(selected["n_images"].sum()),
                "unconfirmed": int((selected["access_evidence"] != "official").sum()),
            }
        )
    frame = pd.DataFrame(rows).set_index("access")
    frame["share"] = frame["n_images"] / catalog["n_images"].sum()
    return frame[["n_sources", "n_images", "share", "unconfirmed"]]


def verification_summary(catalog: pd.DataFrame) -> pd.DataFrame:
    """Count how many access routes and licences each evidence grade covers.

    Returns
    -------
    pandas.DataFrame
        Indexed by grade ("official", "secondary", "unverified"), with columns
        ``access`` and ``licence`` (numbers of sources).
    """
    grades = ["official", "secondary", "unverified"]
    return pd.DataFrame(
        {
            "access": catalog["access_evidence"]
            .value_counts()
            .reindex(grades, fill_value=0),
            "licence": catalog["licence_evidence"]
            .value_counts()
            .reindex(grades, fill_value=0),
        }
    )
