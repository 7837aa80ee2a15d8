"""Figures of a verify report: image sizes and bit depths of a local copy.

Both functions take a :class:`~biovfm_utils.verify_report.VerifyReport` and return
a :class:`matplotlib.figure.Figure`. Colours come from seaborn's ``colorblind``
palette, and every bar carries its count, so no reading depends on colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from biovfm_utils.verify_report import VerifyReport

PALETTE = "colorblind"


def _bars(
    labels: list[str], files: list[int], frames: list[int], xlabel: str
) -> Figure:
    """Draw files per label as horizontal bars, annotated with frames and slices."""
    sns.set_theme(style="whitegrid", palette=PALETTE)
    height = 1.2 + 0.45 * max(len(labels), 1)
    figure, axes = plt.subplots(figsize=(7.5, height), layout="constrained")
    colours = sns.color_palette(PALETTE, max(len(labels), 1))
    axes.barh(labels, files, color=colours[: len(labels)])
    axes.invert_yaxis()
    axes.set_xlabel("Readable files")
    axes.set_ylabel(xlabel)
    for y, (count, frame_count) in enumerate(zip(files, frames)):
        label = f"  {count:,} file" + ("" if count == 1 else "s")
        if frame_count != count:
            label += f", {frame_count:,} frames and slices"
        axes.text(count, y, label, va="center", fontsize=9)
    axes.set_xlim(right=max(files, default=1) * 1.8)
    axes.xaxis.get_major_locator().set_params(integer=True)
    return figure


def plot_sizes(report: VerifyReport, top: int = 12) -> Figure:
    """Draw the ``top`` most common image sizes (width x height in pixels)."""
    sizes = report.sizes.head(top)
    labels = [f"{row.width} x {row.height}" for row in sizes.itertuples()]
    return _bars(
        labels, list(sizes["files"]), list(sizes["frames"]), "Width x height (pixels)"
    )


def plot_bit_depths(report: VerifyReport) -> Figure:
    """Draw the bit depths (bits per sample) of the readable files."""
    depths = report.bit_depths
    labels = [
        "unknown" if pd.isna(value) else f"{value} bits"
        for value in depths["bit_depth"]
    ]
    return _bars(labels, list(depths["files"]), list(depths["frames"]), "Bit depth")
