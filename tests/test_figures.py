"""Figures of the statistics and the sample gallery, drawn off screen."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402

from biovfm_utils import figures, stats  # noqa: E402
from biovfm_utils.catalog import load_catalog  # noqa: E402
from biovfm_utils.gallery import gather_samples  # noqa: E402


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_colorblind_constant_is_seaborn_palette():
    assert list(figures.COLORBLIND) == sns.color_palette("colorblind").as_hex()


def test_images_per_group_log_bars(catalog):
    figure = figures.plot_images_per_group(catalog)
    (axes,) = figure.axes
    assert axes.get_xscale() == "log"
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert labels == list(stats.by_group(catalog).index)
    assert len(axes.patches) == len(labels)


def test_source_sizes_has_a_point_per_source(catalog):
    figure = figures.plot_source_sizes(catalog)
    (axes,) = figure.axes
    assert axes.get_xscale() == "log"
    points = sum(len(collection.get_offsets()) for collection in axes.collections)
    assert points == len(catalog)


def test_cumulative_share_ends_at_one(catalog):
    figure = figures.plot_cumulative_share(catalog)
    (axes,) = figure.axes
    line = axes.lines[0]
    assert line.get_ydata()[-1] == pytest.approx(1.0)
    texts = [text.get_text() for text in axes.texts]
    assert "largest 6: 84.95%" in texts


def test_by_year_has_two_panels(catalog):
    figure = figures.plot_by_year(catalog)
    top, bottom = figure.axes
    assert bottom.get_yscale() == "log"
    assert len(top.patches) == len(stats.by_year(catalog))


def test_by_access_labels_every_route(catalog):
    figure = figures.plot_by_access(catalog)
    (axes,) = figure.axes
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert labels == list(stats.by_access(catalog).query("n_sources > 0").index)


def test_gallery_has_image_and_histogram_per_sample(catalog):
    samples, _ = gather_samples("X-ray", offline=True, catalog=catalog)
    figure = figures.plot_gallery(samples, columns=2)
    visible = [axes for axes in figure.axes if axes.get_visible()]
    assert len(visible) == 2 * len(samples)
    titles = [axes.get_title() for axes in visible if axes.get_title()]
    assert all("(stand-in)" in title for title in titles)
    assert len(titles) == len(samples)


def test_group_colours_are_distinct():
    colours = [figures.group_colour(group) for group in stats.GROUPS]
    assert len(set(colours)) == len(colours)


def test_group_keeps_its_colour_across_figures(catalog):
    from matplotlib.colors import to_hex

    bars = figures.plot_images_per_group(catalog).axes[0]
    labels = [label.get_text() for label in bars.get_yticklabels()]
    bar_colours = {label: to_hex(patch.get_facecolor()) for label, patch in zip(labels, bars.patches)}
    for group, colour in bar_colours.items():
        assert colour == figures.group_colour(group)
