"""The sample registry: which file of each open source to download, and its sha256.

The registry ``biovfm_utils/data/samples.csv`` is data, with one row per sample
file. A row contains the source's catalog name, a short file name and the direct URL
(or the archive URL plus the member path). It also contains the sha256 or
``unknown``, the size in bytes if known, the format, and the evidence for the
URL and checksum. Sources
that need registration or credentials have no rows.

The file is read as UTF-8, with or without the byte-order mark that Excel
writes, and every ``source`` must be a catalog name spelled as the catalog
prints it.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from biovfm_utils.catalog import find_source, slugify
from biovfm_utils.fetch_errors import RegistryError

REGISTRY_COLUMNS = (
    "source",
    "file",
    "url",
    "member",
    "sha256",
    "size_bytes",
    "format",
    "evidence",
)

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")

#: The formats a registry row may name, each with the format names that
#: `biovfm_utils.signatures.detect_format` gives such a file. A row with another
#: format is downloaded without a check of its content beyond size and HTML.
REGISTRY_FORMATS = {
    "png": ("PNG",),
    "jpeg": ("JPEG",),
    "jpg": ("JPEG",),
    "tiff": ("TIFF",),
    "tif": ("TIFF",),
    "gif": ("GIF",),
    "bmp": ("BMP",),
    "webp": ("WebP",),
    "jpeg2000": ("JPEG 2000",),
    "jp2": ("JPEG 2000",),
    "pbm": ("PBM",),
    "pgm": ("PGM",),
    "ppm": ("PPM",),
    "pfm": ("PFM",),
    "dicom": ("DICOM",),
    "nifti": ("NIfTI-1", "NIfTI-2"),
}


@dataclass(frozen=True)
class Sample:
    """One sample file of an open source, as listed in the registry.

    Attributes
    ----------
    source : str
        Name of the source as the catalog's ``name`` column spells it.
    file : str
        Short file name, used in captions and as the name in the cache.
    url : str
        Direct URL of the file, or of the archive that contains it.
    member : str
        Path of the file inside the archive, or ``""`` for a plain file.
    sha256 : str or None
        Published sha256 (lower-case hex), or None if no one confirmed it.
    size_bytes : int or None
        Size in bytes, or None if unknown.
    format : str
        File format, such as ``png``, ``jpeg``, ``tiff``, ``ppm`` or ``dicom``.
    evidence : str
        Where the URL and the checksum come from.
    """

    source: str
    file: str
    url: str
    member: str
    sha256: str | None
    size_bytes: int | None
    format: str
    evidence: str

    @property
    def key(self) -> str:
        """Identifier of the remote bytes: the URL, plus ``" :: member"``."""
        return f"{self.url} :: {self.member}" if self.member else self.url


def default_registry_path() -> Path:
    """Return the path of the sample registry shipped with the package."""
    return Path(str(resources.files("biovfm_utils") / "data" / "samples.csv"))


def load_registry(
    path: str | os.PathLike | None = None, *, catalog=None
) -> list[Sample]:
    """Load and check the sample registry.

    Parameters
    ----------
    path
        A registry CSV, by default the packaged ``samples.csv``.
    catalog
        The catalog that the ``source`` column must match, the packaged one by
        default.

    Raises
    ------
    RegistryError
        For text that is not UTF-8, a missing column, an empty field, or a URL
        that is not http(s). Also for a file name with a folder in it, a sha256
        that is neither 64 hex digits nor ``unknown``, a size that is not an
        integer, or a (source, file) pair listed twice. Also for a source that
        is not in the catalog, or that is spelled otherwise than the catalog's
        name. The message names the file, row and field.
    OSError
        If the file cannot be read.
    """
    path = default_registry_path() if path is None else Path(path)
    key = str(path.resolve())
    if catalog is None:
        return list(_load_checked_registry(key))
    samples = _load_registry_cached(key)
    _check_sources(samples, key, catalog)
    return list(samples)


@functools.lru_cache(maxsize=8)
def _load_checked_registry(path: str) -> tuple[Sample, ...]:
    """Load a registry and check its sources against the packaged catalog."""
    samples = _load_registry_cached(path)
    _check_sources(samples, path, None)
    return samples


def _check_sources(samples: tuple[Sample, ...], path: str, catalog) -> None:
    """Check that each row names a catalog source as the catalog spells it."""
    for number, sample in enumerate(samples, start=1):
        where = f"{path}, row {number}, field source"
        try:
            row = find_source(sample.source, catalog)
        except KeyError as error:
            raise RegistryError(
                f"{where}: {error.args[0]} Use the source's name as Table 1 "
                "prints it (see `biovfm table`)."
            ) from None
        if row["name"] != sample.source:
            raise RegistryError(
                f"{where}: write {row['name']!r}, the catalog's name, instead of "
                f"{sample.source!r}."
            )


def _decode(path: str) -> str:
    """Return the text of a registry file, without a UTF-8 byte-order mark."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        location = f"line {line}"
        # Parse the text with the bad bytes replaced, to name the row and field.
        text = data.decode("utf-8-sig", errors="replace")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for number, row in enumerate(reader, start=1):
            fields = [name for name, value in row.items() if "\ufffd" in (value or "")]
            if fields:
                location = f"row {number}, field {fields[0]}"
                break
        byte = data[error.start : error.start + 1].hex()
        raise RegistryError(
            f"{path}, {location}: byte 0x{byte} is not valid UTF-8, so the file is "
            "in another encoding. Save it as UTF-8 (in Excel: CSV UTF-8)."
        ) from None


@functools.lru_cache(maxsize=8)
def _load_registry_cached(path: str) -> tuple[Sample, ...]:
    reader = csv.DictReader(io.StringIO(_decode(path), newline=""))
    missing = [
        name for name in REGISTRY_COLUMNS if name not in (reader.fieldnames or [])
    ]
    if missing:
        raise RegistryError(
            f"{path}: missing columns {missing}. The first line must name the "
            f"columns {', '.join(REGISTRY_COLUMNS)}."
        )
    rows = list(reader)

    samples = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(rows, start=1):
        sample = _parse_registry_row(raw, path, number)
        identity = (slugify(sample.source), sample.file)
        if identity in seen:
            raise RegistryError(
                f"{path}, row {number}: {sample.source} / {sample.file} is already "
                f"listed in row {seen[identity]}. Give each file a unique name."
            )
        seen[identity] = number
        samples.append(sample)
    return tuple(samples)


def _parse_registry_row(raw: dict, path: str, number: int) -> Sample:
    values = {name: (raw.get(name) or "").strip() for name in REGISTRY_COLUMNS}

    def invalid(field: str, problem: str) -> RegistryError:
        where = f"{path}, row {number}"
        if values["source"]:
            where += f" ({values['source']})"
        return RegistryError(f"{where}, field {field}: {problem}")

    for field in ("source", "file", "url", "sha256", "format", "evidence"):
        if not values[field]:
            raise invalid(field, "is empty.")
    if not values["url"].startswith(("http://", "https://")):
        raise invalid("url", f"{values['url']!r} is not an http or https URL.")
    if re.search(r"[/\\]", values["file"]) or values["file"] in (".", ".."):
        raise invalid(
            "file", f"{values['file']!r} must be a file name without folders."
        )

    sha256 = values["sha256"].lower()
    if sha256 == "unknown":
        sha256 = None
    elif not SHA256_PATTERN.fullmatch(sha256):
        raise invalid(
            "sha256", f"{values['sha256']!r} is not 64 hex digits or 'unknown'."
        )

    size_text = values["size_bytes"]
    if size_text and not size_text.isdigit():
        raise invalid("size_bytes", f"{size_text!r} is not a whole number of bytes.")

    return Sample(
        source=values["source"],
        file=values["file"],
        url=values["url"],
        member=values["member"],
        sha256=sha256,
        size_bytes=int(size_text) if size_text else None,
        format=values["format"],
        evidence=values["evidence"],
    )


def samples_for(source_name: str, registry: list[Sample] | None = None) -> list[Sample]:
    """Return the registry samples of a source, matched by slug (case-insensitive).

    Returns an empty list for a source without registered samples, which includes
    every source that is not an open download.
    """
    registry = load_registry() if registry is None else registry
    slug = slugify(source_name)
    return [sample for sample in registry if slugify(sample.source) == slug]
