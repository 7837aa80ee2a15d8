"""Local copies of the datasets: the folder layout and how a sample is picked.

A local copy is a folder inside the data root, which is the ``local_root``
argument or the environment variable ``BIOVFM_DATA_ROOT``. The folder is named
after the source's slug: its catalog name, or one of its aliases in the catalog
(the dataset's own spelling where Table 1 prints another), in lower case with
each run of other characters replaced by ``-``. So ``montgomery-cxr`` is the
folder of "Montgomery CXR", and both ``e-optha`` and ``e-ophtha`` are accepted
for "E-optha". A local copy is the only way to use sources that need
registration or credentials.
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


def local_copy_names(source_name: str, *, catalog=None) -> list[str]:
    """Return the folder names accepted for a local copy of a source, preferred first.

    The slug of the catalog name comes first, then the slugs of the catalog's
    aliases, without repeats: ``["sam-med2d-20m", "sa-med2d-20m", "sa-med2d-16m"]``
    for "SAM-Med2D-20M".

    Raises
    ------
    KeyError
        If the catalog has no source of that name.
    """
    row = find_source(source_name, catalog)
    spellings = [row["name"], *row["aliases"]]
    return list(dict.fromkeys(slugify(spelling) for spelling in spellings))


def local_copy_folder(
    source_name: str, local_root: str | os.PathLike | None = None, *, catalog=None
) -> Path | None:
    """Return the folder of a local copy of a source, or None if there is none.

    The data root is ``local_root`` or ``BIOVFM_DATA_ROOT``. Inside it, the first
    existing folder named by :func:`local_copy_names` is returned, so the slug of
    the catalog name wins over an alias's.

    Raises
    ------
    KeyError
        If the catalog has no source of that name.
    """
    names = local_copy_names(source_name, catalog=catalog)
    root = data_root(local_root)
    if root is None:
        return None
    for name in names:
        folder = root / name
        if folder.is_dir():
            return folder
    return None


def _quoted(names: list[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


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

    The local copy is the folder that :func:`local_copy_folder` finds in the data
    root (``local_root`` or ``BIOVFM_DATA_ROOT``): one named after the slug of the
    catalog name, such as ``montgomery-cxr`` for "Montgomery CXR", or after the
    slug of a catalog alias. The registry's sample is preferred, found by its
    member path or file name. Otherwise the first image file in sorted order is
    returned.

    Raises
    ------
    KeyError
        If the catalog has no source of that name.
    LocalCopyNotFoundError
        If no root is set, no accepted folder exists, or the folder contains no
        image file.
    """
    row = find_source(source_name, catalog)
    names = local_copy_names(row["name"], catalog=catalog)
    root = data_root(local_root)
    if root is None:
        raise LocalCopyNotFoundError(
            f"No local data folder is set for {row['name']}: set "
            f"{DATA_ROOT_VARIABLE} to a folder that contains {_quoted(names)} "
            "(or pass local_root= in Python)."
        )
    folder = local_copy_folder(row["name"], root, catalog=catalog)
    if folder is None:
        if len(names) == 1:
            missing = f"{root / names[0]} does not exist"
        else:
            missing = f"none of the folders {_quoted(names)} exists in {root}"
        raise LocalCopyNotFoundError(
            f"No local copy of {row['name']}: {missing}. Put the files of "
            f"{row['name']} in {root / names[0]}, or set {DATA_ROOT_VARIABLE} to "
            "the folder that contains the copy (or pass local_root= in Python)."
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
