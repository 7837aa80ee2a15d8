"""The download cache folder and the sha256 values pinned on first download.

A sample without a published sha256 gets its sha256 and size recorded in
``pins.json`` in the cache folder on its first download. Later downloads of the
same URL (and archive member) must match that record.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import tempfile
from pathlib import Path

from biovfm_utils.fetch_errors import RegistryError
from biovfm_utils.sample_registry import SHA256_PATTERN, Sample

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
