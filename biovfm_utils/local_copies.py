"""Local copies of the datasets: the folder layout and how a sample is picked.

A local copy is the folder ``<data root>/<slug>``: the data root is the
``local_root`` argument or the environment variable ``BIOVFM_DATA_ROOT``, and the
slug is the catalog name in lower case with each run of other characters
replaced by ``-`` (``"Montgomery CXR"`` -> ``montgomery-cxr``). It is the only
way to use sources that need registration or credentials.
"""

from __future__ import annotations

import os
from pathlib import Path

from biovfm_utils.catalog import find_source, slugify
from biovfm_utils.fetch_errors import LocalCopyNotFoundError
from biovfm_utils.sample_registry import Sample, samples_for

DATA_ROOT_VARIABLE = "BIOVFM_DATA_ROOT"

#: File name endings taken as images when a local copy has no registry file.
IMAGE_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".bmp",
    ".ppm",
    ".pgm",
    ".dcm",
    ".nii",
    ".nii.gz",
)


def data_root(local_root: str | os.PathLike | None = None) -> Path | None:
    """Return the data root: ``local_root``, else ``BIOVFM_DATA_ROOT``, else None."""
    if local_root is not None:
        return Path(local_root).expanduser()
    from_environment = os.environ.get(DATA_ROOT_VARIABLE, "").strip()
    return Path(from_environment).expanduser() if from_environment else None


def _first_image(folder: Path) -> Path | None:
    for directory, subfolders, files in os.walk(folder):
        subfolders.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_SUFFIXES):
                return Path(directory) / name
    return None


def local_sample_path(
    source_name: str,
    local_root: str | os.PathLike | None = None,
    *,
    catalog=None,
    registry: list[Sample] | None = None,
) -> Path:
    """Return a sample file from a local copy of a source.

    The local copy is the folder ``<root>/<slug>``, where ``root`` is
    ``local_root`` or ``BIOVFM_DATA_ROOT`` and ``slug`` is the catalog name in
    lower case with each run of other characters replaced by ``-``
    (``"Montgomery CXR"`` -> ``montgomery-cxr``). The registry's sample is
    preferred, found by its member path or file name. Otherwise the first image
    file in sorted order is returned.

    Raises
    ------
    KeyError
        If the catalog has no source of that name.
    LocalCopyNotFoundError
        If no root is set, the folder is missing, or it contains no image file.
    """
    row = find_source(source_name, catalog)
    slug = slugify(row["name"])
    root = data_root(local_root)
    if root is None:
        raise LocalCopyNotFoundError(
            f"No local data folder is set for {row['name']}: pass local_root= or "
            f"set {DATA_ROOT_VARIABLE} to a folder that contains '{slug}/'."
        )
    folder = root / slug
    if not folder.is_dir():
        raise LocalCopyNotFoundError(
            f"{folder} does not exist. Put the files of {row['name']} there, or "
            "point local_root= or BIOVFM_DATA_ROOT at the folder that contains "
            f"'{slug}/'."
        )

    for sample in samples_for(row["name"], registry):
        candidates = [folder / sample.member] if sample.member else []
        candidates.append(folder / sample.file)
        for candidate in candidates:
            if candidate.is_file():
                return candidate

    image = _first_image(folder)
    if image is None:
        raise LocalCopyNotFoundError(
            f"{folder} contains no image file (looked for {', '.join(IMAGE_SUFFIXES)})."
        )
    return image
