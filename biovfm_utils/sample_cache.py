"""The download cache: its folder, the files that enter it, and pinned sha256 values.

A sample without a published sha256 gets its sha256 and size recorded in
``pins.json`` in the cache folder on its first download. Later downloads of the
same URL (and archive member) must match that record. Because the first file
becomes the reference, `check_sample_file` first makes sure it is a complete
file of the registry's format.

`download_into_cache` runs the transfer through pooch's ``retrieve``, which
downloads into a temporary file in the target folder, checks the sha256, and
moves the file into place only if it matches. The move is ``shutil.move`` within
one folder, which is an atomic rename on POSIX. pooch deletes the temporary file
on any failure.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from biovfm_utils.download import HTTPClient, HTTPFileDownloader
from biovfm_utils.fetch_errors import (
    ChecksumMismatchError,
    InvalidSampleFileError,
    RegistryError,
)
from biovfm_utils.remote_archives import ArchiveMemberDownloader
from biovfm_utils.sample_registry import REGISTRY_FORMATS, SHA256_PATTERN, Sample

logger = logging.getLogger(__name__)

CACHE_VARIABLE = "BIOVFM_CACHE_DIR"

#: File in the cache folder that stores checksums pinned on first download.
PINS_FILE = "pins.json"


def cache_directory(cache_dir: str | os.PathLike | None = None) -> Path:
    """Return the cache folder: the argument, ``BIOVFM_CACHE_DIR``, or the default."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from_environment = os.environ.get(CACHE_VARIABLE, "").strip()
    if from_environment:
        return Path(from_environment).expanduser()
    import pooch

    return Path(pooch.os_cache("biovfm"))


def read_pins(cache: Path) -> dict[str, dict]:
    """Return the pins of a cache folder, keyed by :attr:`Sample.key`.

    Raises
    ------
    RegistryError
        If the pins file is not valid JSON or has records without sha256 and size.
    """
    path = cache / PINS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        pins = json.loads(text)
        valid = isinstance(pins, dict) and all(
            isinstance(pin, dict)
            and SHA256_PATTERN.fullmatch(str(pin.get("sha256", "")))
            and isinstance(pin.get("size"), int)
            for pin in pins.values()
        )
    except json.JSONDecodeError as error:
        raise RegistryError(
            f"{path} is not valid JSON ({error}). Delete it to pin the checksums "
            "again on the next download."
        ) from error
    if not valid:
        raise RegistryError(
            f"{path} does not map keys to {{sha256, size}} records. Delete it to "
            "pin the checksums again on the next download."
        )
    return pins


def expected_sha256(sample: Sample, cache: Path) -> str | None:
    """Return the published sha256 of a sample, else its pinned one, else None."""
    if sample.sha256:
        return sample.sha256
    pin = read_pins(cache).get(sample.key)
    return pin["sha256"] if pin else None


def remove_pin(cache: Path, sample: Sample) -> None:
    """Remove the pin of a sample from the pins file, if it has one."""
    pins = read_pins(cache)
    if pins.pop(sample.key, None) is not None:
        _write_pins(cache, pins)


def write_pin(cache: Path, sample: Sample, sha256: str, size: int) -> None:
    """Record the sha256 and size of a sample in the pins file, atomically.

    NOTE: two processes pinning at the same moment can each drop the other's
    new entry, because the file is read, changed and replaced without a lock.
    The dropped sample is pinned again on its next fetch.
    """
    pins = read_pins(cache)
    pins[sample.key] = {
        "sha256": sha256,
        "size": size,
        "source": sample.source,
        "file": sample.file,
        "pinned_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
    }
    _write_pins(cache, pins)


def _write_pins(cache: Path, pins: dict[str, dict]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".pins-", suffix=".json", dir=cache)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(pins, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, cache / PINS_FILE)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def file_sha256(path: Path) -> tuple[str, int]:
    """Return the sha256 (hex) and size in bytes of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_sample_file(path: Path, sample: Sample) -> None:
    """Check that a file is a complete file of the sample's registry format.

    The file must not be empty or an HTML page. For a format of
    :data:`~biovfm_utils.sample_registry.REGISTRY_FORMATS`, its signature must
    be that format's, and `biovfm_utils.headers.read_header` must find no error.
    That catches text and other non-images. It also catches files cut short
    wherever the header reader checks the end of the data: the PNG, JPEG and
    GIF end markers, TIFF strips, DICOM pixel data and NIfTI voxel data.

    Raises
    ------
    InvalidSampleFileError
        Naming the URL, what is wrong and what to do.
    """
    from biovfm_utils.download import looks_like_html
    from biovfm_utils.headers import read_header

    expected = REGISTRY_FORMATS.get(sample.format.lower())
    with path.open("rb") as handle:
        head = handle.read(512)
    if not head:
        problem = "the file is empty (0 bytes)"
    elif looks_like_html(head):
        problem = "the file is an HTML page, such as a login or error page"
    elif expected is None:
        return
    else:
        record = read_header(path)
        found = (record["format"] or "").removesuffix(" (gzip)")
        if record["error"] is not None:
            problem = f"the file is {record['error']}"
        elif found not in expected:
            problem = f"the file is {found}, not {sample.format}"
        else:
            return
    where = f"{sample.member} in {sample.url}" if sample.member else sample.url
    raise InvalidSampleFileError(
        f"{where} did not give a complete {sample.format} file: {problem}. Nothing "
        "was kept in the cache and no sha256 was pinned. Open the URL in a "
        "browser: if it serves the file, run again; if not, the registry entry "
        "needs a new URL.",
        url=sample.url,
        problem=problem,
    )


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


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def reuse_cached(sample: Sample, target: Path, cache: Path) -> tuple[str, int] | None:
    """Return the sha256 and size of a cached file fit to reuse, else delete it.

    The file must match the published sha256, or else the pinned one. A file
    without a published sha256 must also pass `check_sample_file`. A pinned
    file that fails loses its pin too, because the pin records a bad file.
    Without a pin, a file that passes is pinned now.
    """
    expected = expected_sha256(sample, cache)
    actual, size = file_sha256(target)
    if expected is not None and actual != expected:
        logger.warning(
            "Cached %s has sha256 %s but %s is expected, so it is downloaded again",
            target,
            actual,
            expected,
        )
        target.unlink()
        return None
    if not sample.sha256:
        try:
            check_sample_file(target, sample)
        except InvalidSampleFileError as error:
            logger.warning(
                "Cached %s is deleted and downloaded again, because %s",
                target,
                error.problem,
            )
            target.unlink()
            if expected is not None:
                remove_pin(cache, sample)
            return None
    if expected is None:
        write_pin(cache, sample, actual, size)
        logger.warning(
            "Cached %s had no pinned sha256, so its sha256 %s is now pinned",
            target,
            actual,
        )
    else:
        logger.info("Using cached %s (sha256 %s)", target, actual)
    return actual, size


class _CheckedDownloader:
    """A pooch downloader that checks the file it wrote with `check_sample_file`.

    The check runs on pooch's temporary file, so a failing file never reaches the
    cache. ``sha256`` and ``size`` are those of the wrapped downloader.
    """

    def __init__(self, downloader, sample: Sample):
        self.downloader = downloader
        self.sample = sample

    def __call__(self, url: str, output_file, pooch=None, check_only: bool = False):
        self.downloader(url, output_file, pooch, check_only)
        check_sample_file(Path(output_file), self.sample)

    @property
    def sha256(self) -> str | None:
        return self.downloader.sha256

    @property
    def size(self) -> int | None:
        return self.downloader.size


def download_into_cache(
    sample: Sample,
    target: Path,
    cache: Path,
    *,
    progress: bool,
    timeout: tuple[float, float],
    attempts: int,
) -> tuple[str, int]:
    """Download a sample to ``target`` and return its sha256 and size.

    The file is checked against the published or pinned sha256, and without a
    published one also with `check_sample_file`. pooch moves it into place only
    after the checks, so a failure leaves no file, and a pin of a bad file is
    removed.

    Raises
    ------
    ChecksumMismatchError, InvalidSampleFileError, DownloadError, ArchiveError
        As described in :func:`biovfm_utils.fetch.fetch_sample`.
    """
    import pooch

    expected = expected_sha256(sample, cache)
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
        if not sample.sha256:
            downloader = _CheckedDownloader(downloader, sample)
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
        except InvalidSampleFileError:
            _remove_if_empty(target.parent)
            if expected is not None and downloader.sha256 == expected:
                remove_pin(cache, sample)  # the pin records this bad file
            raise
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
