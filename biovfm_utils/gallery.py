"""Sample images for a modality chapter: real samples first, stand-ins offline.

For each source of a modality, :func:`gather_samples` reads a sample from the
user's local copy (``BIOVFM_DATA_ROOT``) when there is one, else downloads the
registered sample of an open source. It never contacts a source that needs an
account. When no real image can be had, typically because the machine is
offline, it falls back to the modality's stand-ins: real images shipped inside
installed packages, each labelled with its true origin and licence. The
``*_markdown`` functions render the results as MyST Markdown for the chapters.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pandas as pd

from biovfm_utils.access import DATA_ROOT_VARIABLE, access_steps
from biovfm_utils.catalog import MULTI_MODALITY, load_catalog, sources_for_modality
from biovfm_utils.tables import cite_role, escape_cell, format_count

logger = logging.getLogger(__name__)

#: Kinds of :class:`GallerySample`.
DOWNLOADED, LOCAL_COPY, STANDIN = "download", "local copy", "stand-in"


@dataclass(frozen=True)
class GallerySample:
    """One image of a chapter's gallery, with where its bytes came from.

    Attributes
    ----------
    label
        The source dataset, or the package of a stand-in.
    kind
        ``"download"``, ``"local copy"`` or ``"stand-in"``.
    image
        The decoded image (:class:`biovfm_utils.display.DisplayImage`).
    origin
        Markdown: the URL and checksum status, the local path, or the stand-in's
        admonition text with its origin and licence.
    """

    label: str
    kind: str
    image: object
    origin: str


@dataclass(frozen=True)
class SourceAttempt:
    """The outcome of requesting one source's sample."""

    source: str
    status: str
    detail: str


@functools.lru_cache(maxsize=64)
def _host_reachable(host: str, port: int) -> bool:
    from biovfm_utils.network import network_available

    return network_available(host, port)


def _sample_address(sample) -> tuple[str, int]:
    url = urlsplit(sample.url)
    return url.hostname or "", url.port or (443 if url.scheme == "https" else 80)


def _probe_hosts(names, registry) -> None:
    """Check the sample hosts of ``names`` at once, filling the reachability cache.

    Each check may wait up to its timeout when a firewall drops packets, so
    they run in parallel: a chapter then waits one timeout, not one per host.
    """
    from concurrent.futures import ThreadPoolExecutor

    from biovfm_utils.sample_registry import samples_for

    addresses = set()
    for name in names:
        samples = samples_for(name, registry)
        if samples:
            addresses.add(_sample_address(samples[0]))
    if addresses:
        with ThreadPoolExecutor(max_workers=min(8, len(addresses))) as pool:
            list(pool.map(lambda address: _host_reachable(*address), addresses))


def _try_source(name, local, offline, catalog, registry, progress, local_root, cache_dir):
    """Fetch and decode one source's sample: (GallerySample or None, SourceAttempt)."""
    from biovfm_utils import fetch
    from biovfm_utils.fetch_errors import FetchError
    from biovfm_utils.imaging import try_load_image
    from biovfm_utils.sample_registry import samples_for

    if not local:
        samples = samples_for(name, registry)
        if not samples:
            return None, SourceAttempt(name, "no sample registered", "")
        if offline:
            return None, SourceAttempt(name, "not downloaded", "offline")
        host, port = _sample_address(samples[0])
        if not _host_reachable(host, port):
            detail = f"{host} is not reachable"
            return None, SourceAttempt(name, "not downloaded", detail)

    try:
        result = fetch.fetch_source_sample(
            name,
            catalog=catalog,
            registry=registry,
            offline=offline,
            progress=progress,
            local_root=local_root,
            cache_dir=cache_dir,
        )
    except FetchError as exc:
        logger.info("No sample of %s: %s", name, exc)
        return None, SourceAttempt(name, "failed", str(exc))

    image = try_load_image(result.path)
    if not hasattr(image, "pixels"):
        return None, SourceAttempt(name, "not displayable", image.note())

    if result.url is None:
        kind, origin = LOCAL_COPY, f"local copy `{result.path}`"
    else:
        member = f" (member `{result.member}`)" if result.member else ""
        origin = f"downloaded from <{result.url}>{member}, sha256 {result.checksum}"
        kind = DOWNLOADED
    attempt = SourceAttempt(name, kind, result.checksum)
    return GallerySample(name, kind, image, origin), attempt


def gather_samples(
    modality: str,
    *,
    offline: bool | None = None,
    local_root=None,
    catalog: pd.DataFrame | None = None,
    registry=None,
    cache_dir=None,
    progress: bool = True,
) -> tuple[list[GallerySample], list[SourceAttempt]]:
    """Collect the sample images of a modality chapter.

    Parameters
    ----------
    modality
        A canonical modality name or printed label.
    offline
        Skip every download (``BIOVFM_OFFLINE`` by default). Local copies are
        still read.
    local_root
        Folder of local copies; ``BIOVFM_DATA_ROOT`` by default.
    registry, cache_dir
        Passed to :func:`biovfm_utils.fetch.fetch_source_sample`: the sample
        registry (the packaged one by default) and the download cache.

    Returns
    -------
    samples, attempts
        The gallery (real samples, or the stand-ins when there is none) and one
        attempt per source that has a local copy or a registered sample.
    """
    from biovfm_utils.local_copies import data_root, local_copy_folder
    from biovfm_utils.network import is_offline
    from biovfm_utils.standins import load_standin, standins_for

    catalog = load_catalog() if catalog is None else catalog
    offline = is_offline(offline)
    root = data_root(local_root)
    sources = sources_for_modality(modality, catalog)
    if not offline:
        _probe_hosts(sources.loc[sources["access"] == "open", "name"], registry)

    samples: list[GallerySample] = []
    attempts: list[SourceAttempt] = []
    for _, source in sources.iterrows():
        local = local_copy_folder(source["name"], root, catalog=catalog) is not None
        if not local and source["access"] != "open":
            continue
        sample, attempt = _try_source(
            source["name"], local, offline, catalog, registry, progress, root, cache_dir
        )
        attempts.append(attempt)
        if sample is not None:
            samples.append(sample)

    if not samples:
        for standin in standins_for(modality):
            image = load_standin(standin)
            samples.append(GallerySample(standin.package, STANDIN, image, standin.note()))
    return samples, attempts


def sources_markdown(modality: str, catalog: pd.DataFrame | None = None) -> str:
    """Render the sources of a modality with count, access and licence."""
    catalog = load_catalog() if catalog is None else catalog
    lines = [
        "| Dataset | Images | Access | Licence |",
        "| :-- | --: | :-- | :-- |",
    ]
    for _, source in sources_for_modality(modality, catalog).iterrows():
        name = escape_cell(source["name"])
        if source["group"] == MULTI_MODALITY:
            name += " (collection: " + escape_cell(source["modality"]) + ")"
        access = source["access_label"]
        if source["access_evidence"] != "official":
            access += f" ({source['access_evidence']})"
        licence = escape_cell(source["licence"])
        unknown = source["licence"].startswith("unknown")
        if source["licence_evidence"] != "official" and not unknown:
            licence += f" ({source['licence_evidence']})"
        cells = [
            f"{name} {cite_role(source['citation_keys'])}",
            format_count(source["n_images"]),
            access,
            licence,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def access_markdown(modality: str, catalog: pd.DataFrame | None = None) -> str:
    """List the steps to obtain each source of a modality that is not an open download."""
    catalog = load_catalog() if catalog is None else catalog
    sources = sources_for_modality(modality, catalog)
    closed = sources[sources["access"] != "open"]
    if closed.empty:
        return "Every source of this modality is an open download."
    blocks = []
    for _, source in closed.iterrows():
        steps = "\n".join(
            f"{number}. {_linked(step)}"
            for number, step in enumerate(access_steps(source), 1)
        )
        blocks.append(f"**{source['name']}** ({source['access_label']})\n\n{steps}")
    return "\n\n".join(blocks)


def _linked(step: str) -> str:
    """Turn the URLs of a plain-text step into links and names into code."""
    step = re.sub(r"(https?://[^\s)]+?)([.,;)]*)(?=\s|$)", r"<\1>\2", step)
    step = step.replace(DATA_ROOT_VARIABLE, f"`{DATA_ROOT_VARIABLE}`")
    return step.replace("local_root=", "`local_root=`")


def attempts_markdown(attempts: list[SourceAttempt]) -> str:
    """Render what happened to each source's sample as a Markdown table."""
    if not attempts:
        return (
            "No source of this modality has a registered sample or a local copy, "
            "so nothing was downloaded."
        )
    lines = ["| Source | Sample | Detail |", "| :-- | :-- | :-- |"]
    for attempt in attempts:
        detail = escape_cell(" ".join(attempt.detail.split()))
        lines.append(f"| {attempt.source} | {attempt.status} | {detail} |")
    return "\n".join(lines)


def samples_markdown(samples: list[GallerySample], modality: str) -> str:
    """Render the labels of a gallery: stand-in admonitions and a table of images.

    A chapter without any image gets an admonition that explains why and how to
    fetch a real sample.
    """
    if not samples:
        return _admonition("No image on this page", _no_image_text(modality), "warning")

    blocks = []
    advice = "\n\n".join(["To see a real sample instead:", *_real_sample_advice(modality)])
    for number, sample in enumerate(samples, start=1):
        if sample.kind == STANDIN:
            text = f"{sample.origin}\n\n{advice}"
            blocks.append(_admonition(f"Image {number} is an offline stand-in", text, "warning"))

    lines = [
        "| Image | Source | File | Size | Bit depth | Colour | Origin |",
        "| --: | :-- | :-- | :-- | --: | :-- | :-- |",
    ]
    for number, sample in enumerate(samples, start=1):
        meta = sample.image.metadata
        size = f"{meta.width} × {meta.height}"
        if meta.n_frames > 1 and meta.frame_index is not None:
            size += f", {meta.frame_label} {meta.frame_index + 1} of {meta.n_frames}"
        origin = "offline stand-in" if sample.kind == STANDIN else sample.origin
        cells = [
            str(number),
            escape_cell(sample.label),
            f"`{escape_cell(meta.file_name)}`",
            size,
            str(meta.bits_stored),
            escape_cell(meta.photometric_interpretation or meta.colour_mode),
            escape_cell(origin),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _real_sample_advice(modality: str, catalog: pd.DataFrame | None = None) -> list[str]:
    """Say how a reader gets a real sample of a modality, source by source."""
    from biovfm_utils.sample_registry import samples_for

    catalog = load_catalog() if catalog is None else catalog
    sources = sources_for_modality(modality, catalog)
    open_sources = sources[sources["access"] == "open"]
    registered = [name for name in open_sources["name"] if samples_for(name)]
    unregistered = open_sources[~open_sources["name"].isin(registered)]

    advice = []
    if registered:
        advice.append(
            "Run this chapter with network access: it then downloads the registered "
            "sample of " + ", ".join(registered) + "."
        )
    for _, source in unregistered.iterrows():
        advice.append(
            f"{source['name']} is an open download without a registered sample: "
            f"download it from <{source['url']}>, put one image in a folder named "
            f"`{source['slug']}` under the folder named by `{DATA_ROOT_VARIABLE}`, "
            "and rerun the chapter."
        )
    if not registered:
        advice.append(
            "For a source that needs an account (the steps are listed above), put "
            f"one image of your copy in its folder under `{DATA_ROOT_VARIABLE}` and "
            "rerun the chapter."
        )
    return advice


def _no_image_text(modality: str, catalog: pd.DataFrame | None = None) -> str:
    """Explain why a chapter shows no image and how to get a real one."""
    from biovfm_utils.catalog import canonical_modality

    name = canonical_modality(modality)
    term = name if name.isupper() else name.lower()
    parts = [
        f"No sample could be fetched, and none of the Python packages that the book "
        f"installs ships a real {term} image, so this chapter shows none rather than "
        "a synthetic one.",
        *_real_sample_advice(name, catalog),
    ]
    return "\n\n".join(parts)


def cite_markdown(modality: str, catalog: pd.DataFrame | None = None) -> str:
    """Render one cite block per source of a modality: citation roles and BibTeX."""
    catalog = load_catalog() if catalog is None else catalog
    blocks = []
    for _, source in sources_for_modality(modality, catalog).iterrows():
        keys = source["citation_keys"]
        blocks.append(
            f"**{source['name']}** {cite_role(keys)}\n\n"
            f"```{{bibtex-entry}} {' '.join(keys)}\n```"
        )
    return "\n\n".join(blocks)


def _admonition(title: str, body: str, kind: str) -> str:
    return f"````{{admonition}} {title}\n:class: {kind}\n\n{body}\n````"


@functools.lru_cache(maxsize=1)
def _chapters() -> dict[str, dict[str, str]]:
    from biovfm_utils.notes import read_data_csv

    return {row["modality"]: row for row in read_data_csv("modalities.csv")}


def chapter_file(modality: str) -> str:
    """Return the notebook name of a modality chapter, e.g. ``"x-ray"``."""
    from biovfm_utils.catalog import canonical_modality

    return _chapters()[canonical_modality(modality)]["chapter"]


def modality_description(modality: str) -> str:
    """Return the short description of a modality shown at the top of its chapter."""
    from biovfm_utils.catalog import canonical_modality

    return _chapters()[canonical_modality(modality)]["description"]
