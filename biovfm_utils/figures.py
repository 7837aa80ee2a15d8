"""Figures of the catalog statistics, drawn with matplotlib and seaborn.

Each function takes the catalog (or a frame from :mod:`biovfm_utils.stats`) and
returns a :class:`matplotlib.figure.Figure`. Colours come from seaborn's
``colorblind`` palette, and no figure relies on colour alone: bars carry their
values and categories are named on an axis.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from biovfm_utils import stats
from biovfm_utils.catalog import MODALITIES, MULTI_MODALITY

PALETTE = "colorblind"

#: seaborn's "colorblind" palette as hex colours, for figures drawn with
#: matplotlib alone, which then load without importing seaborn (and SciPy).
#: A test checks them against ``seaborn.color_palette("colorblind")``.
COLORBLIND = (
    "#0173b2",
    "#de8f05",
    "#029e73",
    "#d55e00",
    "#cc78bc",
    "#ca9161",
    "#fbafe4",
    "#949494",
    "#ece133",
    "#56b4e9",
)


#: Colour of the multi-modality collections: dark grey, apart from the ten
#: colours that the ten modalities take.
COLLECTIONS_COLOUR = "#4d4d4d"


def group_colour(group: str) -> str:
    """Return the colour of a modality group, the same in every figure."""
    if group == MULTI_MODALITY:
        return COLLECTIONS_COLOUR
    return COLORBLIND[MODALITIES.index(group)]


def _seaborn():
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette=PALETTE)
    return sns


def _thousands(value, _position=None) -> str:
    return f"{value:,.0f}"


def _percent(share: float) -> str:
    """Format a share with enough decimals that small groups do not show 0.0 %."""
    return f"{share:.1%}" if share >= 0.01 else f"{share:.2%}"


def _new_figure(width: float = 7.5, height: float = 4.0) -> tuple[Figure, plt.Axes]:
    _seaborn()
    figure, axes = plt.subplots(figsize=(width, height), layout="constrained")
    return figure, axes


def plot_images_per_group(catalog: pd.DataFrame) -> Figure:
    """Draw a horizontal bar of images per modality group on a log axis."""
    grouped = stats.by_group(catalog)
    figure, axes = _new_figure(height=4.5)
    colours = [group_colour(group) for group in grouped.index]
    axes.barh(grouped.index, grouped["n_images"], color=colours)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("Images (log scale)")
    axes.set_ylabel("")
    axes.xaxis.set_major_formatter(FuncFormatter(_thousands))
    for y, (count, share) in enumerate(zip(grouped["n_images"], grouped["share"])):
        axes.text(count * 1.1, y, f"{count:,} ({_percent(share)})", va="center", fontsize=9)
    axes.set_xlim(right=grouped["n_images"].max() * 30)
    return figure


def plot_source_sizes(catalog: pd.DataFrame) -> Figure:
    """Draw every source as a point at its size, one row per modality group, log axis."""
    order = [group for group in stats.GROUPS if group in set(catalog["group"])]
    figure, axes = _new_figure(height=5.0)
    sns = _seaborn()
    sns.boxplot(
        data=catalog,
        x="n_images",
        y="group",
        order=order,
        log_scale=True,
        color="white",
        fliersize=0,
        linewidth=1,
        ax=axes,
    )
    sns.stripplot(
        data=catalog,
        x="n_images",
        y="group",
        order=order,
        hue="group",
        hue_order=order,
        palette=[group_colour(group) for group in order],
        size=6,
        jitter=0.15,
        legend=False,
        ax=axes,
    )
    axes.set_xlabel("Images per source (log scale)")
    axes.set_ylabel("")
    axes.xaxis.set_major_formatter(FuncFormatter(_thousands))
    return figure


def plot_cumulative_share(catalog: pd.DataFrame) -> Figure:
    """Draw the cumulative share of all images held by the largest sources."""
    ranked = stats.ranked_sources(catalog)
    figure, axes = _new_figure()
    axes.step(ranked["rank"], ranked["cumulative_share"], where="post", linewidth=2)
    axes.plot(ranked["rank"], ranked["cumulative_share"], "o", markersize=3)
    for k in (1, 3, 6):
        share = ranked["cumulative_share"].iloc[k - 1]
        axes.annotate(
            f"largest {k}: {share:.2%}",
            xy=(k, share),
            xytext=(k + 6, share - 0.1),
            arrowprops={"arrowstyle": "->", "color": "0.3", "linewidth": 0.8},
            fontsize=9,
        )
    axes.set_xlabel("Sources ranked by number of images (1 = largest)")
    axes.set_ylabel("Cumulative share of images")
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_ylim(0, 1.02)
    axes.set_xlim(0, len(ranked) + 1)
    return figure


def plot_by_year(catalog: pd.DataFrame) -> Figure:
    """Draw sources per year and images per year (log axis) in two panels."""
    yearly = stats.by_year(catalog)
    sns = _seaborn()
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(7.5, 5.5), sharex=True, layout="constrained"
    )
    colours = sns.color_palette(PALETTE, 2)
    top.bar(yearly.index, yearly["n_sources"], color=colours[0])
    top.set_ylabel("Sources")
    bottom.bar(yearly.index, yearly["n_images"], color=colours[1])
    bottom.set_yscale("log")
    bottom.set_ylabel("Images (log scale)")
    bottom.yaxis.set_major_formatter(FuncFormatter(_thousands))
    bottom.set_xlabel("Year given for the source")
    bottom.set_xticks(yearly.index, [str(year) for year in yearly.index], rotation=45)
    return figure


def plot_by_access(catalog: pd.DataFrame) -> Figure:
    """Draw images per access route as horizontal bars, with source counts."""
    access = stats.by_access(catalog)
    access = access[access["n_sources"] > 0]
    figure, axes = _new_figure(height=3.5)
    colours = _seaborn().color_palette(PALETTE, len(access))
    axes.barh(access.index, access["n_images"], color=colours)
    axes.invert_yaxis()
    axes.set_xlabel("Images")
    axes.xaxis.set_major_formatter(FuncFormatter(_thousands))
    for y, row in enumerate(access.itertuples()):
        label = f"{row.n_images:,} ({_percent(row.share)}), {row.n_sources} sources"
        axes.text(row.n_images, y, "  " + label, va="center", fontsize=9)
    axes.set_xlim(right=access["n_images"].max() * 1.6)
    return figure


def plot_gallery(samples, columns: int = 3) -> Figure:
    """Draw sample images in a grid, each above its intensity histogram.

    Parameters
    ----------
    samples
        :class:`biovfm_utils.gallery.GallerySample` objects; each panel is titled
        with its number, source and the image's caption.
    columns
        Images per row.

    Notes
    -----
    RGB images are histogrammed by luminance (ITU-R BT.601 weights). Greyscale
    images are histogrammed by their stored or physical values, for example
    Hounsfield units. Counts are on a log axis.
    """
    import numpy as np

    from biovfm_utils.imaging import intensity_histogram

    rows = -(-len(samples) // columns)
    figure, axes = plt.subplots(
        rows * 2,
        columns,
        figsize=(3.6 * columns, 5.2 * rows),
        gridspec_kw={"height_ratios": [3, 1.2] * rows},
        layout="constrained",
        squeeze=False,
    )
    for number, axis in enumerate(axes.flat):
        axis.set_visible(False)

    colour = COLORBLIND[0]
    for number, sample in enumerate(samples):
        row, column = divmod(number, columns)
        image_axes, histogram_axes = axes[2 * row, column], axes[2 * row + 1, column]
        image_axes.set_visible(True)
        histogram_axes.set_visible(True)

        pixels = sample.image.pixels
        if pixels.ndim == 2:
            image_axes.imshow(pixels, cmap="gray", vmin=0, vmax=255, interpolation="antialiased")
        else:
            image_axes.imshow(pixels, interpolation="antialiased")
        image_axes.set_xticks([])
        image_axes.set_yticks([])
        caption = sample.image.caption().replace(" · ", "\n", 1)
        label = f"{number + 1}. {sample.label}"
        if sample.kind == "stand-in":
            label += " (stand-in)"
        image_axes.set_title(f"{label}\n{caption}", fontsize=8)

        histogram = intensity_histogram(sample.image, per_channel=False)
        centres = (histogram.edges[:-1] + histogram.edges[1:]) / 2
        histogram_axes.fill_between(centres, np.asarray(histogram.counts), step="mid", color=colour)
        histogram_axes.set_yscale("log")
        units = sample.image.metadata.value_units or "stored value"
        if pixels.ndim == 3:
            units = "luminance"
        histogram_axes.set_xlabel(units, fontsize=8)
        histogram_axes.set_ylabel("pixels", fontsize=8)
        histogram_axes.tick_params(labelsize=7)
    return figure
