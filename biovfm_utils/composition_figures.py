"""Figures of the per-modality ranges from :mod:`biovfm_utils.composition`.

Colours come from seaborn's ``colorblind`` palette, and each marker also differs in
shape, so no reading depends on colour alone.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from biovfm_utils.composition import UNASSIGNED, format_estimate

PALETTE = "colorblind"

#: Left edge of the log axis, where a bound of zero is drawn with a "<" marker.
AXIS_MINIMUM = 300


def _thousands(value, _position=None) -> str:
    return f"{value:,.0f}"


def plot_modality_ranges(ranges: pd.DataFrame) -> Figure:
    """Draw each modality's images as a range from lower to upper bound, log axis.

    A line runs from the lower bound (circle) to the upper bound (bar), with the
    estimate (diamond) and, where it differs from the lower bound, the lower bound
    plus the collections' minimum (square). Modalities are sorted by estimate,
    largest first. Each row is labelled with its estimate, or with its exact count
    where no collection lists the modality.

    Parameters
    ----------
    ranges
        The frame from :func:`biovfm_utils.composition.modality_ranges`; its
        unassigned row is left out.
    """
    modalities = ranges.drop(index=UNASSIGNED, errors="ignore")
    modalities = modalities.sort_values("estimate", ascending=False)
    sns.set_theme(style="whitegrid", palette=PALETTE)
    colours = sns.color_palette(PALETTE, 4)
    figure, axes = plt.subplots(figsize=(8.0, 5.5), layout="constrained")

    def edge(value: int) -> int:
        return max(int(value), AXIS_MINIMUM)

    for y, (_, row) in enumerate(modalities.iterrows()):
        lower, upper = edge(row["lower_bound"]), edge(row["upper_bound"])
        axes.plot(
            [lower, upper], [y, y], color="0.75", linewidth=6, solid_capstyle="butt"
        )
        lower_marker = "<" if row["lower_bound"] < AXIS_MINIMUM else "o"
        axes.plot(lower, y, lower_marker, color=colours[0], markersize=8)
        if row["with_minimum"] != row["lower_bound"]:
            axes.plot(edge(row["with_minimum"]), y, "s", color=colours[1], markersize=7)
        axes.plot(upper, y, "|", color=colours[3], markersize=16, markeredgewidth=2.5)
        axes.plot(edge(row["estimate"]), y, "D", color=colours[2], markersize=7)
        if row["collections"]:
            label = format_estimate(int(row["estimate"]))
        else:
            label = f"{int(row['estimate']):,} (exact)"
        axes.text(upper * 1.5, y, label, va="center", fontsize=9)

    legend = [
        ("o", colours[0], "lower bound: single-modality sources"),
        ("<", colours[0], "lower bound of 0, drawn at the axis edge"),
        ("s", colours[1], "lower bound plus the collections' minimum"),
        ("D", colours[2], "estimate"),
        ("|", colours[3], "upper bound"),
    ]
    for marker, colour, text in legend:
        axes.plot([], [], marker, color=colour, linestyle="none", label=text)
    figure.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)

    axes.set_yticks(range(len(modalities)), list(modalities.index))
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlim(AXIS_MINIMUM * 0.7, modalities["upper_bound"].max() * 10)
    axes.xaxis.set_major_formatter(FuncFormatter(_thousands))
    axes.set_xlabel("Images (log scale)")
    return figure
