"""Tables and lists of the modality ranges and overlaps, as MyST Markdown.

The book's notebooks display these strings as Markdown output, which MyST-NB parses
like page text, so the ``{cite}`` roles in them become citations. Every number comes
from the frames of :mod:`biovfm_utils.composition`,
:mod:`biovfm_utils.breakdowns` and :mod:`biovfm_utils.overlaps`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from biovfm_utils.breakdowns import PREFERRED_VERSIONS, ModalityRule, published_shares
from biovfm_utils.composition import UNASSIGNED, format_estimate
from biovfm_utils.composition_data import EVIDENCE_GRADE_MEANINGS, UNKNOWN
from biovfm_utils.overlaps import ANY_OTHER_SOURCE
from biovfm_utils.tables import cite_role, escape_cell, format_count, format_share

#: Text shown for a value that does not apply.
NOT_APPLICABLE = "n/a"


def source_with_citation(name: str, catalog: pd.DataFrame) -> str:
    """Return a source name followed by its ``{cite}`` role, e.g. for a table cell."""
    if name == ANY_OTHER_SOURCE:
        return name
    keys = catalog.loc[catalog["name"] == name, "citation_keys"].iloc[0]
    return f"{name} {cite_role(keys)}"


def share_text(value: float) -> str:
    """Format a share as a percentage whose "%" cannot wrap onto its own line."""
    return format_share(value).replace(" %", "\u00a0%")


def pair_text(
    source: str, relation: str, other_source: str, catalog: pd.DataFrame
) -> str:
    """Return a relation as a sentence with citations: "A {cite}`a` includes B ..."."""
    return (
        f"{source_with_citation(source, catalog)} {relation} "
        f"{source_with_citation(other_source, catalog)}"
    )


def links(urls: Sequence[str]) -> str:
    """Return numbered Markdown links, ``[1](url) [2](url)``, or "none"."""
    if not urls:
        return "none"
    return " ".join(f"[{number}](<{url}>)" for number, url in enumerate(urls, start=1))


def grade_definitions() -> str:
    """Return the evidence grades as a MyST definition list."""
    return "\n\n".join(
        f"{grade}\n: {meaning}." for grade, meaning in EVIDENCE_GRADE_MEANINGS.items()
    )


def ranges_frame(ranges: pd.DataFrame) -> pd.DataFrame:
    """Return the modality ranges as display text, with a total row.

    Estimates that depend on a collection's split are rounded and marked "≈".
    Counts that need no estimate are exact.
    """
    rows = []
    for modality, row in ranges.iterrows():
        estimated = modality == UNASSIGNED or row["collections"] > 0
        estimate = int(row["estimate"])
        upper = row["upper_bound"]
        rows.append(
            {
                "Modality": modality,
                "Single-modality sources": (
                    ""
                    if modality == UNASSIGNED
                    else format_count(row["single_sources"])
                ),
                "Lower bound": format_count(row["lower_bound"]),
                "Lower bound plus minimum": format_count(row["with_minimum"]),
                "Estimate": format_estimate(estimate)
                if estimated
                else format_count(estimate),
                "Upper bound": NOT_APPLICABLE
                if pd.isna(upper)
                else format_count(upper),
            }
        )
    total = ranges.drop(columns="upper_bound").sum()
    rows.append(
        {
            "Modality": "**Total**",
            "Single-modality sources": format_count(total["single_sources"]),
            "Lower bound": format_count(total["lower_bound"]),
            "Lower bound plus minimum": format_count(total["with_minimum"]),
            "Estimate": format_count(total["estimate"]),
            "Upper bound": NOT_APPLICABLE,
        }
    )
    return pd.DataFrame(rows).set_index("Modality")


def published_frame(
    breakdowns: pd.DataFrame, collection: str, rules: Sequence[ModalityRule]
) -> pd.DataFrame:
    """Return a collection's published counts with the Table 1 modality each counts as.

    The count column is named after the unit ("Images" or "Scans").
    """
    shares = published_shares(breakdowns, collection)
    rule_of = {
        rule.published_modality: rule for rule in rules if rule.collection == collection
    }
    rows = []
    for label, row in shares.iterrows():
        rule = rule_of[label]
        count = row["count"]
        rows.append(
            {
                "Published label": label,
                row["unit"].capitalize(): UNKNOWN
                if pd.isna(count)
                else format_count(count),
                "Share of published total": (
                    UNKNOWN if pd.isna(row["share"]) else share_text(row["share"])
                ),
                "Counted as": rule.modality or "left out",
                "Why": rule.reason,
            }
        )
    return pd.DataFrame(rows).set_index("Published label")


def split_frame(split: pd.DataFrame) -> pd.DataFrame:
    """Return the per-collection split as display text, estimates marked "≈"."""
    rows = []
    for _, row in split.iterrows():
        known = not pd.isna(row["estimate"])
        count = row["published_count"]
        rows.append(
            {
                "Collection": row["collection"],
                "Modality": row["modality"],
                "Published count": (
                    UNKNOWN
                    if pd.isna(count)
                    else f"{format_count(count)} {row['unit']}"
                ),
                "Share used": share_text(row["share"]) if known else "no split",
                "Estimated images": (
                    format_estimate(int(row["estimate"])) if known else "unassigned"
                ),
                "Bounds": (
                    f"{format_count(row['minimum'])} – {format_count(row['maximum'])}"
                ),
            }
        )
    return pd.DataFrame(rows).set_index("Collection")


def variants_frame(variants: pd.DataFrame, ranges: pd.DataFrame) -> pd.DataFrame:
    """Return the estimate under each set of choices as display text.

    Only modalities that a collection lists are shown, because the others are
    exact counts that no choice changes.
    """
    labels = {
        "default": "Estimate (this page)",
        "older_rp3d_figure": "With RP3D-DiagDS's December 2023 figure",
        "xray_techniques_left_out": (
            "With RP3D-DiagDS's other X-ray techniques left out"
        ),
    }
    estimated = ranges.index[(ranges["collections"] > 0) & (ranges.index != UNASSIGNED)]
    frame = variants.loc[estimated].rename(columns=labels)
    return frame.map(lambda value: format_estimate(int(value)))


def overlaps_frame(bounds: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """Return the known overlaps with grades and shared-image counts as display text."""
    rows = []
    for _, row in bounds.iterrows():
        shared = row["shared_images"]
        bound = row["max_shared_images"]
        rows.append(
            {
                "Relation": pair_text(
                    row["source"], row["relation"], row["other_source"], catalog
                ),
                "Evidence": row["evidence_grade"],
                "Shared images": UNKNOWN if pd.isna(shared) else format_count(shared),
                "At most": NOT_APPLICABLE if pd.isna(bound) else format_count(bound),
                "Bound set by": row["bound_basis"],
            }
        )
    return pd.DataFrame(rows).set_index("Relation")


def no_overlap_frame(checks: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """Return the checks that found no overlap, with grade, reason and links."""
    rows = []
    for _, row in checks.iterrows():
        rows.append(
            {
                "Pair checked": (
                    f"{source_with_citation(row['source'], catalog)} and "
                    f"{source_with_citation(row['other_source'], catalog)}"
                ),
                "Evidence": row["evidence_grade"],
                "Why no overlap is assumed": row["note"],
                "Links": links(row["evidence_urls"]),
            }
        )
    return pd.DataFrame(rows).set_index("Pair checked")


def overlap_details(bounds: pd.DataFrame, catalog: pd.DataFrame) -> str:
    """Return one list item per known overlap, with grade, note and links."""
    items = []
    for _, row in bounds.iterrows():
        pair = pair_text(row["source"], row["relation"], row["other_source"], catalog)
        item = f"- **{pair}** (evidence: {row['evidence_grade']})."
        if row["via"]:
            item += f" Through {escape_cell(row['via'])}."
        item += f" {escape_cell(row['note'])} Links: {links(row['evidence_urls'])}."
        items.append(item)
    return "\n".join(items)


def assumptions_list(assumptions: Sequence[tuple[str, str]]) -> str:
    """Return the assumptions as a bulleted list with bold topics."""
    return "\n".join(f"- **{topic}.** {text}" for topic, text in assumptions)


def breakdown_sources_frame(breakdowns: pd.DataFrame) -> pd.DataFrame:
    """Return one row per published breakdown, with its version, unit and grade."""
    rows = []
    for (collection, version), group in breakdowns.groupby(
        ["collection", "version"], sort=False
    ):
        first = group.iloc[0]
        rows.append(
            {
                "Collection": collection,
                "Version": f"{version} ({first['date']})",
                "Counts": first["unit"],
                "Evidence": first["evidence_grade"],
                "Used": "yes"
                if PREFERRED_VERSIONS.get(collection) == version
                else "no",
                "Links": links(first["source_urls"]),
            }
        )
    return pd.DataFrame(rows).set_index("Collection")


def gaps_frame(open_gaps: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """Return the overlaps of unknown size with the data that would settle each."""
    rows = []
    for _, row in open_gaps.iterrows():
        rows.append(
            {
                "Overlap": pair_text(
                    row["source"], row["relation"], row["other_source"], catalog
                ),
                "Evidence": row["evidence_grade"],
                "Data needed to count the shared images": row["needed_to_close"],
            }
        )
    return pd.DataFrame(rows).set_index("Overlap")


def collection_gaps_frame(
    collection_gaps: dict[str, str], catalog: pd.DataFrame
) -> pd.DataFrame:
    """Return, per collection, the data that would turn its estimate into a count."""
    rows = [
        {
            "Collection": source_with_citation(name, catalog),
            "Data needed to count its images per modality": needed,
        }
        for name, needed in collection_gaps.items()
    ]
    return pd.DataFrame(rows).set_index("Collection")
