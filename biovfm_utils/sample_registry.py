"""The sample registry: which file of each open source to download, and its sha256.

The registry ``biovfm_utils/data/samples.csv`` is data, with one row per sample
file. A row contains the source's catalog name, a short file name and the direct URL
(or the archive URL plus the member path). It also contains the sha256 or
``unknown``, the size in bytes if known, the format, and the evidence for the
URL and checksum. Sources
that need registration or credentials have no rows.
"""

from __future__ import annotations

import csv
import functools
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from biovfm_utils.catalog import slugify
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


def load_registry(path: str | os.PathLike | None = None) -> list[Sample]:
    """Load and check the sample registry.

    Parameters
    ----------
    path
        A registry CSV, by default the packaged ``samples.csv``.

    Raises
    ------
    RegistryError
        For a missing column, an empty field, or a URL that is not http(s). Also
        for a file name with a folder in it, a sha256 that is neither 64 hex
        digits nor ``unknown``, a size that is not an integer, or a (source,
        file) pair listed twice. The message names the file, row and field.
    """
    path = default_registry_path() if path is None else Path(path)
    return list(_load_registry_cached(str(path.resolve())))


@functools.lru_cache(maxsize=8)
def _load_registry_cached(path: str) -> tuple[Sample, ...]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [
            name for name in REGISTRY_COLUMNS if name not in (reader.fieldnames or [])
        ]
        if missing:
            raise RegistryError(f"{path}: missing columns {missing}.")
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
