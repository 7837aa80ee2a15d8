"""Specification of biovfm_utils.standins, on the images installed packages ship."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest

from biovfm_utils.imaging import ImagingError
from biovfm_utils.standins import (
    MODALITIES,
    Standin,
    StandinNotInstalledError,
    all_standins,
    evidence_paths,
    load_standin,
    missing_standin_note,
    standin_path,
    standins_for,
)

# Colour mode (DICOM Photometric Interpretation or Pillow mode) of each stand-in.
EXPECTED_MODES = {
    "pydicom.data:RG1_UNCR.dcm": "MONOCHROME1",
    "pydicom.data:RG3_UNCR.dcm": "MONOCHROME1",
    "pydicom.data:CT_small.dcm": "MONOCHROME2",
    "pydicom.data:MR2_UNCR.dcm": "MONOCHROME2",
    "pydicom.data:gdcm-US-ALOKA-16.dcm": "PALETTE COLOR",
    "pydicom.data:US1_UNCR.dcm": "RGB",
    "pydicom.data:JPEG2000_UNC.dcm": "MONOCHROME2",
    "skimage.data:ihc.png": "RGB",
    "skimage.data:cell.png": "L",
    "skimage.data:retina.jpg": "RGB",
    "skimage.data:microaneurysms.png": "L",
}
COLOUR_MODES = ("PALETTE COLOR", "RGB")
MODALITIES_WITHOUT_STANDINS = ("Endoscopy", "Dermoscopy", "OCTA")
MODALITIES_WITH_STANDINS = tuple(
    modality for modality in MODALITIES if modality not in MODALITIES_WITHOUT_STANDINS
)
STANDINS = all_standins()


def require_package(standin: Standin) -> None:
    try:
        importlib.metadata.distribution(standin.package)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{standin.package} is not installed")


@pytest.mark.parametrize("standin", STANDINS, ids=lambda standin: standin.file_name)
def test_standin_loads_with_expected_mode(standin):
    require_package(standin)

    image = load_standin(standin)

    expected_mode = EXPECTED_MODES[standin.loader]
    assert image.metadata.colour_mode == expected_mode
    assert image.pixels.dtype == np.uint8
    assert image.pixels.ndim == (3 if expected_mode in COLOUR_MODES else 2)
    assert image.metadata.file_name == standin.file_name


@pytest.mark.parametrize(
    "loader",
    [loader for loader in EXPECTED_MODES if loader.endswith(".dcm")],
)
def test_dicom_standin_photometric_interpretation(loader):
    standin = next(standin for standin in STANDINS if standin.loader == loader)
    require_package(standin)

    image = load_standin(standin)

    assert image.metadata.photometric_interpretation == EXPECTED_MODES[loader]


def test_monochrome1_standin_shows_lungs_dark():
    standin = next(s for s in STANDINS if s.file_name == "RG1_UNCR.dcm")
    require_package(standin)

    image = load_standin(standin)

    # Stored values are high where the film is dark, so inversion makes the
    # centre of each lung field darker than the spine between them.
    middle_row = image.pixels[image.pixels.shape[0] // 2]
    width = middle_row.size
    lung = middle_row[width // 4]
    spine = middle_row[width // 2]
    assert lung < spine


def test_expected_modes_cover_every_row():
    assert {standin.loader for standin in STANDINS} == set(EXPECTED_MODES)


@pytest.mark.parametrize("modality", MODALITIES_WITH_STANDINS)
def test_modality_has_standin(modality):
    assert standins_for(modality)


@pytest.mark.parametrize("modality", MODALITIES_WITHOUT_STANDINS)
def test_modality_without_standin_returns_none(modality):
    assert standins_for(modality) == []


@pytest.mark.parametrize("modality", MODALITIES_WITHOUT_STANDINS)
def test_missing_standin_note_explains(modality):
    note = missing_standin_note(modality)

    assert "ships a real" in note
    assert "synthetic" in note
    assert "fetch_source_sample" in note


def test_missing_note_keeps_acronym():
    assert "a real OCTA image" in missing_standin_note("octa")


def test_missing_note_rejects_covered_modality():
    with pytest.raises(ValueError, match="has stand-ins"):
        missing_standin_note("CT")


def test_unknown_modality_rejected():
    with pytest.raises(ValueError, match="unknown modality 'PET'"):
        standins_for("PET")


def test_modality_match_ignores_case():
    assert standins_for("nuclear MEDICINE") == standins_for("Nuclear medicine")


def test_cq500_files_excluded():
    assert not [s.loader for s in STANDINS if "693_" in s.loader]


@pytest.mark.parametrize("standin", STANDINS, ids=lambda standin: standin.file_name)
def test_evidence_files_installed(standin):
    require_package(standin)

    for path in evidence_paths(standin):
        assert path.is_file(), f"{path} no longer exists: recheck origin and licence"


@pytest.mark.parametrize("standin", STANDINS, ids=lambda standin: standin.file_name)
def test_standin_file_inside_site_packages(standin):
    require_package(standin)
    site_packages = Path(
        importlib.metadata.distribution(standin.package).locate_file("")
    )

    path = standin_path(standin)

    assert path.resolve().is_relative_to(site_packages.resolve())


def test_standin_note_states_origin_and_licence():
    standin = standins_for("Fundus")[0]

    note = standin.note()

    assert note.startswith("**Offline stand-in, not a sample fetched from a source of Table 1.**")
    assert standin.origin in note
    assert standin.licence in note
    assert "`skimage/data/_fetchers.py`" in note


@pytest.mark.parametrize(
    ("loader", "package"),
    [
        ("pydicom.data:not-shipped.dcm", "pydicom-data"),
        ("skimage.data:not-shipped.png", "scikit-image"),
        ("package_that_is_not_installed.data:image.png", "not-installed"),
    ],
)
def test_missing_file_names_package(loader, package):
    standin = Standin("CT", package, loader, "d", "o", "l", "e")

    with pytest.raises(StandinNotInstalledError) as raised:
        standin_path(standin)

    assert isinstance(raised.value, ImagingError)
    assert f"pip install {package}" in str(raised.value)
