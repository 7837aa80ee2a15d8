"""Offline stand-in images: real images that ship inside installed Python packages.

When the machine is offline, each modality chapter of the book shows one of these,
labelled with its true origin and licence, in place of a sample of BioVFM-21M.
``biovfm_utils/data/standins.csv`` lists them, one row per image, with the file
inside the package that states the origin and licence. None of the packages the
book installs (pydicom, pydicom-data, scikit-image) ships a real endoscopy,
dermoscopy or OCTA image, so those chapters get a note (`missing_standin_note`) and
no image. Synthetic images are never substituted.

Files are located without any network access: pydicom's ``get_testdata_file`` is
always called with ``download=False``, and scikit-image's data folder is read
directly, never through the ``skimage.data`` functions, which download missing
files.
"""

from __future__ import annotations

import csv
import functools
import importlib.metadata
import importlib.util
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from biovfm_utils.catalog import MODALITIES
from biovfm_utils.display import DisplayImage, ImageNotFoundError

_CSV_NAME = "standins.csv"


class StandinNotInstalledError(ImageNotFoundError):
    """Error raised when the package that ships a stand-in image is not installed."""


@dataclass(frozen=True)
class Standin:
    """One row of standins.csv: a real image shipped inside a Python package.

    Attributes
    ----------
    modality : str
        One of `MODALITIES`.
    package : str
        Distribution name on PyPI, for example "pydicom-data".
    loader : str
        "<module>:<file>", for example "pydicom.data:CT_small.dcm".
    description : str
        What the image shows.
    origin : str
        Origin of the image as the package states it.
    licence : str
        The licence as the package states it, or "unknown: ..." with what it does
        state.
    evidence : str
        Paths, relative to site-packages and separated by "; ", of the installed
        files that state the origin and licence.
    """

    modality: str
    package: str
    loader: str
    description: str
    origin: str
    licence: str
    evidence: str

    @property
    def file_name(self) -> str:
        """Name of the image file inside the package."""
        return self.loader.partition(":")[2]

    def note(self) -> str:
        """Return Markdown for the admonition that labels the image as a stand-in."""
        return (
            "**Offline stand-in, not a sample fetched from a source of Table 1.** "
            f"{self.description}.\n\n"
            f"Origin: {self.origin}.\n\n"
            f"Licence: {self.licence}.\n\n"
            f"Shipped as `{self.file_name}` in the Python package `{self.package}` "
            f"(origin and licence as stated in {', '.join(f'`{path}`' for path in self.evidence_files)})."
        )

    @property
    def evidence_files(self) -> list[str]:
        """The evidence paths, relative to site-packages."""
        return [path.strip() for path in self.evidence.split(";") if path.strip()]


@functools.cache
def _read_standins() -> tuple[Standin, ...]:
    path = resources.files("biovfm_utils") / "data" / _CSV_NAME
    expected_columns = [field.name for field in fields(Standin)]
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != expected_columns:
            raise ValueError(
                f"{_CSV_NAME} has columns {reader.fieldnames}, "
                f"expected {expected_columns}"
            )
        rows = list(reader)

    standins = []
    for line, row in enumerate(rows, start=2):
        empty = [column for column, value in row.items() if not value]
        if empty:
            raise ValueError(f"{_CSV_NAME} line {line}: empty {', '.join(empty)}")
        if row["modality"] not in MODALITIES:
            raise ValueError(
                f"{_CSV_NAME} line {line}: unknown modality {row['modality']!r}"
            )
        standins.append(Standin(**row))
    return tuple(standins)


def all_standins() -> list[Standin]:
    """Return every stand-in of standins.csv, in file order."""
    return list(_read_standins())


def standins_for(modality: str) -> list[Standin]:
    """Return the stand-ins of a modality, best first, or an empty list.

    `modality` is matched case-insensitively against `MODALITIES`.

    Raises
    ------
    ValueError
        If `modality` is not one of `MODALITIES`.
    """
    name = _modality_name(modality)
    return [standin for standin in _read_standins() if standin.modality == name]


def missing_standin_note(modality: str) -> str:
    """Return Markdown for the admonition of a modality that has no stand-in.

    Raises
    ------
    ValueError
        If `modality` is unknown or has stand-ins.
    """
    name = _modality_name(modality)
    if standins_for(name):
        raise ValueError(f"{name} has stand-ins, so label them with Standin.note()")
    term = name if name.isupper() else name.lower()
    return (
        "**No offline image.** None of the Python packages that the book installs "
        f"ships a real {term} image, so this chapter shows none rather than a "
        "synthetic one.\n\n"
        f"To see a real {term} image, run the chapter with network access. Then "
        '`biovfm_utils.fetch.fetch_source_sample("<source name>")` downloads a '
        "sample of an open source of this chapter, and "
        "`biovfm_utils.imaging.load_image` displays it."
    )


def standin_path(standin: Standin) -> Path:
    """Return the path of the stand-in image inside its installed package.

    Raises
    ------
    StandinNotInstalledError
        If the package, or the file inside it, is not installed. Nothing is
        downloaded.
    ValueError
        If the loader is not of the form "<module>:<file>".
    """
    module, _, file_name = standin.loader.partition(":")
    if not module or not file_name:
        raise ValueError(f"invalid loader {standin.loader!r}, expected <module>:<file>")
    if module == "pydicom.data":
        path = _pydicom_test_file(file_name)
    else:
        path = _package_file(module, file_name)

    if path is None or not path.is_file():
        raise StandinNotInstalledError(
            file_name,
            f"the stand-in image is not installed (loader {standin.loader})",
            f"Install it with: pip install {standin.package}",
        )
    return path


def load_standin(standin: Standin, **kwargs) -> DisplayImage:
    """Decode a stand-in image with `biovfm_utils.imaging.load_image`.

    `kwargs` go to `load_image`, for example ``index`` or ``window``.

    Raises
    ------
    StandinNotInstalledError
        If the package is not installed.
    ImagingError
        Any error of `load_image`.
    """
    from biovfm_utils.imaging import load_image

    return load_image(standin_path(standin), **kwargs)


def evidence_paths(standin: Standin) -> list[Path]:
    """Return the installed paths of the files that state origin and licence."""
    distribution = importlib.metadata.distribution(standin.package)
    return [Path(distribution.locate_file(path)) for path in standin.evidence_files]


def _modality_name(modality: str) -> str:
    for name in MODALITIES:
        if name.casefold() == modality.casefold():
            return name
    raise ValueError(
        f"unknown modality {modality!r}, expected one of {', '.join(MODALITIES)}"
    )


def _pydicom_test_file(file_name: str) -> Path | None:
    """Find a file of pydicom's test data or of pydicom-data, never downloading."""
    if importlib.util.find_spec("pydicom") is None:
        return None
    from pydicom.data import get_testdata_file

    # With download=True, pydicom 3.0 fetches a file it cannot find locally from
    # the URLs in pydicom/data/urls.json.
    path = get_testdata_file(file_name, download=False)
    return Path(path) if path else None


def _package_file(module: str, file_name: str) -> Path | None:
    """Find a file in the folder of an installed package, without importing it."""
    top_level, *subfolders = module.split(".")
    spec = importlib.util.find_spec(top_level)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder.joinpath(*subfolders, file_name)
