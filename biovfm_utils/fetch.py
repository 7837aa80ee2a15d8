"""Sample files of the open sources: registry, cache, checksums and local copies.

The sample registry ``biovfm_utils/data/samples.csv`` lists one or more sample
files per open source: a direct URL, or an archive URL plus the member path, with
a published sha256 where one was confirmed. :func:`fetch_sample` downloads a
sample into a per-user cache and checks it. :func:`fetch_source_sample` picks the
sample of a source by name, and it reads the sample from a local copy of the
dataset when one is configured. A local copy is the only way to use sources that
need registration or credentials, because those sources are never contacted.

Only a few registry rows publish a sha256, so for most samples the first file
downloaded becomes the reference (a pin). Before a file is pinned, or reused from
the cache without a published sha256, it must be a complete file of the
registry's format (:func:`~biovfm_utils.sample_cache.check_sample_file`).

Cache folder: the ``cache_dir`` argument, else the environment variable
``BIOVFM_CACHE_DIR``, else ``pooch.os_cache("biovfm")`` (for example
``~/.cache/biovfm`` on Linux). Files are stored as ``<cache>/<source slug>/<file>``.

How a file enters the cache, and the pins, are in :mod:`biovfm_utils.sample_cache`.
The HTTP transfer itself is in :mod:`biovfm_utils.download`, and archive members
come from :mod:`biovfm_utils.remote_archives`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from biovfm_utils.archives import extract_archive
from biovfm_utils.catalog import find_source, slugify
from biovfm_utils.download import DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT
from biovfm_utils.fetch_errors import (
    AccessRequiredError,
    ArchiveError,
    ChecksumMismatchError,
    DownloadError,
    FetchError,
    IncompleteDownloadError,
    InvalidSampleFileError,
    LocalCopyNotFoundError,
    OfflineError,
    RegistryError,
    SampleNotRegisteredError,
    UnsafeArchiveError,
    WebPageError,
)
from biovfm_utils.local_copies import (
    DATA_ROOT_VARIABLE,
    local_copy_folder,
    local_copy_names,
    local_sample_path,
)
from biovfm_utils.network import is_offline, network_available
from biovfm_utils.remote_archives import read_zip_member
from biovfm_utils.sample_cache import (
    cache_directory,
    download_into_cache,
    expected_sha256,
    file_sha256,
    reuse_cached,
    write_pin,
)
from biovfm_utils.sample_registry import Sample, load_registry, samples_for

__all__ = [
    "AccessRequiredError",
    "ArchiveError",
    "ChecksumMismatchError",
    "DownloadError",
    "FetchError",
    "FetchResult",
    "IncompleteDownloadError",
    "InvalidSampleFileError",
    "LocalCopyNotFoundError",
    "OfflineError",
    "RegistryError",
    "Sample",
    "SampleNotRegisteredError",
    "UnsafeArchiveError",
    "WebPageError",
    "cache_directory",
    "extract_archive",
    "fetch_sample",
    "fetch_source_sample",
    "is_offline",
    "load_registry",
    "local_copy_folder",
    "local_sample_path",
    "network_available",
    "read_zip_member",
    "samples_for",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchResult:
    """A sample file on disk and how its bytes were checked.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    sha256 : str
        sha256 of the file.
    size : int
        Size in bytes.
    checksum : str
        ``"verified"``: matches the sha256 published in the registry.
        ``"pinned"``: no sha256 is published, so the file was checked against
        the sha256 recorded on its first download in this cache (or recorded
        now). The first file is pinned only if it is a complete file of the
        registry's format. Even so, a pin cannot tell whether it is the file
        that the dataset's owners published, so it guards only against later
        changes.
        ``"unchecked"``: a local copy with no published sha256 to compare.
    from_cache : bool
        True if no download happened because the cache already had the file.
    source : str
        Catalog name of the source.
    url : str or None
        URL the file came from, or None for a local copy.
    member : str
        Path inside the archive, or ``""``.
    """

    path: Path
    sha256: str
    size: int
    checksum: str
    from_cache: bool
    source: str
    url: str | None = None
    member: str = ""


# --- Fetching -------------------------------------------------------------------


def _access_required_error(row) -> AccessRequiredError:
    from biovfm_utils.access import access_steps

    steps = "\n".join(
        f"  {number}. {step}" for number, step in enumerate(access_steps(row), 1)
    )
    return AccessRequiredError(
        f"{row['name']} is not an open download (access: {row['access']}), so it "
        f"is never downloaded by this package. To use it:\n{steps}"
    )


def fetch_sample(
    sample: Sample,
    *,
    cache_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
    progress: bool = True,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
    catalog=None,
) -> FetchResult:
    """Download a registry sample into the cache, or reuse the cached copy.

    A cached file is returned without any request if its sha256 matches the
    published one, or the pinned one when none is published. Without either,
    the first download pins its sha256 and size in ``pins.json`` in the cache.
    A file without a published sha256 is pinned or reused only if it is a
    complete file of the registry's format: not empty, not a web page, and not
    cut short where the header reader can tell. A cached file that fails is
    deleted with its pin and downloaded again. Offline mode still returns files
    already in the cache.

    Parameters
    ----------
    sample
        A row of the registry.
    cache_dir
        Cache folder; by default ``BIOVFM_CACHE_DIR`` or the per-user cache.
    offline
        True to fail instead of downloading; None reads ``BIOVFM_OFFLINE``.
    progress
        Show a progress bar (terminal or notebook).
    timeout
        ``(connect, read)`` timeouts in seconds.
    attempts
        Attempts per request, counting the first one.
    catalog
        Catalog frame used to check the source's access, the packaged one by
        default.

    Raises
    ------
    AccessRequiredError
        If the catalog does not list the source as an open download.
    OfflineError
        If the file is not cached and offline mode is on.
    ChecksumMismatchError
        If the bytes differ from the published or pinned sha256. Nothing is kept.
    InvalidSampleFileError
        If a download without a published sha256 is not a complete file of the
        registry's format. Nothing is kept and nothing is pinned.
    DownloadError
        For HTTP errors, timeouts, broken transfers and web pages served in
        place of the file. Nothing is kept.
    ArchiveError
        If an archive member is missing or corrupt.
    """
    row = find_source(sample.source, catalog)
    if row["access"] != "open":
        raise _access_required_error(row)

    cache = cache_directory(cache_dir)
    target = cache / slugify(row["name"]) / sample.file
    checksum = "verified" if sample.sha256 else "pinned"

    def result(sha256: str, size: int, from_cache: bool) -> FetchResult:
        return FetchResult(
            path=target,
            sha256=sha256,
            size=size,
            checksum=checksum,
            from_cache=from_cache,
            source=row["name"],
            url=sample.url,
            member=sample.member,
        )

    if target.is_file():
        cached = reuse_cached(sample, target, cache)
        if cached is not None:
            return result(*cached, from_cache=True)

    if is_offline(offline):
        raise OfflineError.for_url(sample.url)
    # A pin may have been removed with a bad cached file, so it is read now.
    expected = expected_sha256(sample, cache)
    sha256, size = download_into_cache(
        sample, target, cache, progress=progress, timeout=timeout, attempts=attempts
    )

    if expected is None:
        write_pin(cache, sample, sha256, size)
        logger.info(
            "Pinned sha256 %s (%d bytes) of %s on first download: the registry "
            "publishes no checksum, so later downloads are checked against this "
            "pin, not against a published value",
            sha256,
            size,
            sample.key,
        )
    else:
        logger.info("Checked sha256 %s of %s (%s)", sha256, sample.key, checksum)
    return result(sha256, size, from_cache=False)


def fetch_source_sample(
    source_name: str,
    *,
    local_root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
    progress: bool = True,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
    catalog=None,
    registry: list[Sample] | None = None,
) -> FetchResult:
    """Return a sample file of a source, from a local copy or by download.

    A local copy (see :func:`local_sample_path`) is used whenever its folder
    exists: a folder in the data root named after the slug of the catalog name
    or of a catalog alias (:func:`local_copy_folder`). Otherwise an open
    source's first registry sample is fetched with :func:`fetch_sample`, and any
    other source raises :class:`AccessRequiredError` without a request.

    Raises
    ------
    KeyError
        If the catalog has no source of that name.
    AccessRequiredError
        For a source that is not an open download and has no local copy.
    SampleNotRegisteredError
        For an open source without a registry sample or local copy.
    FetchError
        Any error of :func:`fetch_sample` or :func:`local_sample_path`.
    """
    row = find_source(source_name, catalog)
    name = row["name"]
    samples = samples_for(name, registry)

    folder = local_copy_folder(name, local_root, catalog=catalog)
    if folder is not None:
        root = folder.parent
        path = local_sample_path(name, root, catalog=catalog, registry=samples)
        sha256, size = file_sha256(path)
        published = {sample.sha256 for sample in samples if sample.sha256}
        checksum = "verified" if sha256 in published else "unchecked"
        logger.info("Using local copy %s of %s (%s)", path, name, checksum)
        return FetchResult(
            path=path,
            sha256=sha256,
            size=size,
            checksum=checksum,
            from_cache=False,
            source=name,
        )

    if row["access"] != "open":
        raise _access_required_error(row)
    if not samples:
        folder_name = local_copy_names(name, catalog=catalog)[0]
        raise SampleNotRegisteredError(
            f"No sample file of {name} is registered for download. Download one "
            f"from {row['url']}, put it in a folder named '{folder_name}' inside a "
            f"data folder, and set {DATA_ROOT_VARIABLE} to that data folder (or "
            "pass local_root= in Python)."
        )
    return fetch_sample(
        samples[0],
        cache_dir=cache_dir,
        offline=offline,
        progress=progress,
        timeout=timeout,
        attempts=attempts,
        catalog=catalog,
    )
