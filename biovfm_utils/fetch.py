"""Sample files of the open sources: registry, cache, checksums and local copies.

The sample registry ``biovfm_utils/data/samples.csv`` lists one or more sample
files per open source: a direct URL, or an archive URL plus the member path, with
a published sha256 where one was confirmed. :func:`fetch_sample` downloads a
sample into a per-user cache and checks it. :func:`fetch_source_sample` picks the
sample of a source by name, and it reads the sample from a local copy of the
dataset when one is configured. A local copy is the only way to use sources that
need registration or credentials, because those sources are never contacted.

Cache folder: the ``cache_dir`` argument, else the environment variable
``BIOVFM_CACHE_DIR``, else ``pooch.os_cache("biovfm")`` (for example
``~/.cache/biovfm`` on Linux). Files are stored as ``<cache>/<source slug>/<file>``.

pooch's ``retrieve`` downloads into a temporary file in the target folder,
checks the sha256, and moves the file into place only if it matches. The move is
``shutil.move`` within one folder, which is an atomic rename on POSIX. pooch
deletes the temporary file on any failure. The HTTP transfer itself is in
:mod:`biovfm_utils.download`, and archive members come from
:mod:`biovfm_utils.remote_archives`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from biovfm_utils.archives import extract_archive
from biovfm_utils.catalog import find_source, slugify
from biovfm_utils.download import (
    DEFAULT_ATTEMPTS,
    DEFAULT_TIMEOUT,
    HTTPClient,
    HTTPFileDownloader,
)
from biovfm_utils.fetch_errors import (
    AccessRequiredError,
    ArchiveError,
    ChecksumMismatchError,
    DownloadError,
    FetchError,
    IncompleteDownloadError,
    LocalCopyNotFoundError,
    OfflineError,
    RegistryError,
    SampleNotRegisteredError,
    UnsafeArchiveError,
    WebPageError,
)
from biovfm_utils.local_copies import (
    DATA_ROOT_VARIABLE,
    data_root,
    local_sample_path,
)
from biovfm_utils.network import is_offline, network_available, require_online
from biovfm_utils.remote_archives import ArchiveMemberDownloader, read_zip_member
from biovfm_utils.sample_cache import (
    PINS_FILE,
    cache_directory,
    file_sha256,
    read_pins,
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
        now). A pin guards against later changes, not against a wrong first
        file.
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


@contextlib.contextmanager
def _quiet_pooch():
    """Raise pooch's logger to WARNING for the duration of a download.

    pooch attaches its own stderr handler and logs every download at INFO, which
    would repeat in notebooks what this module already logs.
    """
    import pooch

    pooch_logger = pooch.get_logger()
    level = pooch_logger.level
    pooch_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        pooch_logger.setLevel(level)


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


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


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
    Offline mode still returns files already in the cache.

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
    if sample.sha256:
        expected, checksum = sample.sha256, "verified"
    else:
        pin = read_pins(cache).get(sample.key)
        expected = pin["sha256"] if pin else None
        checksum = "pinned"

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
        actual, size = file_sha256(target)
        if expected is None:
            write_pin(cache, sample, actual, size)
            logger.warning(
                "Cached %s had no pinned sha256, so its sha256 %s is now pinned",
                target,
                actual,
            )
            return result(actual, size, from_cache=True)
        if actual == expected:
            logger.info("Using cached %s (sha256 %s, %s)", target, actual, checksum)
            return result(actual, size, from_cache=True)
        logger.warning(
            "Cached %s has sha256 %s but %s is expected, so it is downloaded again",
            target,
            actual,
            expected,
        )
        target.unlink()

    require_online(sample.url, offline)
    sha256, size = _download(sample, target, expected, progress, timeout, attempts)

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


def _download(sample, target, expected, progress, timeout, attempts) -> tuple[str, int]:
    import pooch

    with HTTPClient(timeout=timeout, attempts=attempts) as client:
        if sample.member:
            downloader = ArchiveMemberDownloader(
                client,
                sample.member,
                expected_size=sample.size_bytes,
                progress=progress,
                scratch_dir=target.parent,
            )
        else:
            downloader = HTTPFileDownloader(
                client,
                expected_size=sample.size_bytes,
                progress=progress,
                description=sample.file,
            )
        try:
            with _quiet_pooch():
                pooch.retrieve(
                    sample.url,
                    known_hash=f"sha256:{expected}" if expected else None,
                    fname=sample.file,
                    path=target.parent,
                    downloader=downloader,
                    progressbar=False,
                )
        except ValueError as error:
            _remove_if_empty(target.parent)
            if downloader.sha256 is None:
                raise
            raise _mismatch_error(sample, expected, downloader) from error
        except BaseException:
            _remove_if_empty(target.parent)
            raise
    return downloader.sha256, downloader.size


def _mismatch_error(sample: Sample, expected: str, downloader) -> ChecksumMismatchError:
    where = f"{sample.member} in {sample.url}" if sample.member else sample.url
    if sample.sha256:
        origin = "published in the registry"
        advice = (
            "The file changed on the server or the download was corrupted. Run "
            "again, and if it fails the same way, the registry needs updating."
        )
    else:
        origin = "pinned on the first download in this cache"
        advice = (
            "The file changed on the server since then. If the change is expected, "
            f"remove its entry from {PINS_FILE} in the cache folder to pin it again."
        )
    return ChecksumMismatchError(
        f"sha256 mismatch for {where}: expected {expected} ({origin}), got "
        f"{downloader.sha256} for {downloader.size} bytes. Nothing was kept. "
        f"{advice}",
        url=sample.url,
        expected=expected,
        actual=downloader.sha256,
        size=downloader.size,
    )


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
    exists. Otherwise an open source's first registry sample is fetched with
    :func:`fetch_sample`, and any other source raises
    :class:`AccessRequiredError` without a request.

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
    slug = slugify(name)
    samples = samples_for(name, registry)

    root = data_root(local_root)
    if root is not None and (root / slug).is_dir():
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
        raise SampleNotRegisteredError(
            f"No sample file of {name} is registered for download. Download one "
            f"from {row['url']}, put it in a folder named '{slug}' inside a data "
            f"folder, and set {DATA_ROOT_VARIABLE} to that data folder or pass "
            "local_root=."
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
