"""Specification of NRRD and FastMRI HDF5 rows of a verify scan."""

from __future__ import annotations

import gzip

import h5py
import nrrd
import numpy as np
import pytest

from biovfm_utils.headers import read_header
from biovfm_utils.verify import verify_source

LPS = "left-posterior-superior"


def write_nrrd(path, data, **fields):
    """Write ``data`` as NRRD, with raw encoding unless ``fields`` set another."""
    nrrd.write(str(path), data, {"encoding": "raw", **fields})
    return path


def write_fastmri(path, *, slices=10, coils=4, kspace_size=(64, 32), image=True):
    """Write an HDF5 file in the FastMRI layout, multi-coil unless ``coils`` is 0."""
    coil_axis = (coils,) if coils else ()
    with h5py.File(path, "w") as file:
        file.create_dataset(
            "kspace", data=np.zeros((slices, *coil_axis, *kspace_size), np.complex64)
        )
        if image:
            file.create_dataset(
                "reconstruction_rss", data=np.zeros((slices, 32, 32), np.float32)
            )
        file.attrs["acquisition"] = "CORPD_FBK"
    return path


def cut(path, n_bytes):
    """Write a copy of ``path`` without its last ``n_bytes`` and return it."""
    short = path.with_name(f"cut-{path.name}")
    short.write_bytes(path.read_bytes()[:-n_bytes])
    return short


def test_nrrd_raw_fields(tmp_path):
    data = np.zeros((40, 30, 12), np.uint8)
    record = read_header(write_nrrd(tmp_path / "a.nrrd", data))
    assert record["error"] is None
    assert record["format"] == "NRRD"
    assert (record["width"], record["height"], record["frames"]) == (40, 30, 12)
    assert record["bit_depth"] == 8
    assert record["colour_mode"] == "greyscale"


def test_nrrd_gzip_fields(tmp_path):
    data = np.zeros((40, 30, 12), np.int16)
    record = read_header(write_nrrd(tmp_path / "a.nrrd", data, encoding="gzip"))
    assert record["error"] is None
    assert record["frames"] == 12
    assert record["bit_depth"] == 16


def test_nrrd_inside_gzip(tmp_path):
    path = write_nrrd(tmp_path / "a.nrrd", np.zeros((40, 30, 12), np.uint8))
    (tmp_path / "a.nrrd.gz").write_bytes(gzip.compress(path.read_bytes()))
    record = read_header(tmp_path / "a.nrrd.gz")
    assert record["error"] is None
    assert record["format"] == "NRRD (gzip)"
    assert record["frames"] == 12


def test_nrrd_slices_along_superior_axis(tmp_path):
    # Voxel axis 0 points superior, so slices are taken along it.
    directions = [[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]]
    data = np.zeros((12, 30, 40), np.uint8)
    path = write_nrrd(
        tmp_path / "a.nrrd", data, space=LPS, **{"space directions": directions}
    )
    record = read_header(path)
    assert record["frames"] == 12
    assert (record["width"], record["height"]) == (40, 30)


def test_nrrd_colour_axis(tmp_path):
    data = np.zeros((3, 40, 30, 12), np.uint8)
    kinds = ["RGB-color", "domain", "domain", "domain"]
    record = read_header(write_nrrd(tmp_path / "a.nrrd", data, kinds=kinds))
    assert record["colour_mode"] == "RGB"
    assert record["frames"] == 12


def test_nrrd_time_axis_multiplies_slices(tmp_path):
    data = np.zeros((16, 16, 5, 3), np.uint8)
    directions = [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [np.nan, np.nan, np.nan]]
    fields = {
        "space directions": directions,
        "kinds": ["domain", "domain", "domain", "time"],
    }
    record = read_header(write_nrrd(tmp_path / "a.nrrd", data, space=LPS, **fields))
    assert record["frames"] == 15


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("raw", "truncated: the voxel data end at byte"),
        ("gzip", "damaged: the gzip data are truncated or damaged"),
    ],
)
def test_nrrd_truncated(tmp_path, encoding, expected):
    data = np.random.default_rng(0).integers(0, 255, (40, 30, 12), np.uint8)
    path = write_nrrd(tmp_path / "a.nrrd", data, encoding=encoding)
    record = read_header(cut(path, 50))
    assert record["format"] == "NRRD"
    assert record["frames"] == 12
    assert record["error"].startswith(expected)


def test_nrrd_truncated_names_file_size(tmp_path):
    path = write_nrrd(tmp_path / "a.nrrd", np.zeros((40, 30, 12), np.uint8))
    short = cut(path, 50)
    record = read_header(short)
    assert record["error"].endswith(f"but the file has {short.stat().st_size:,}")


def test_nrrd_tensor_axis(tmp_path):
    data = np.zeros((7, 6, 5, 4), np.float32)
    kinds = ["3D-masked-symmetric-matrix", "space", "space", "space"]
    record = read_header(write_nrrd(tmp_path / "a.nrrd", data, kinds=kinds))
    assert record["frames"] == 4
    assert record["colour_mode"] == "7-channel"


def test_nrrd_time_axis_by_kind(tmp_path):
    # No space directions, so only the kinds mark the first axis as time.
    data = np.zeros((4, 5, 6, 7), np.uint8)
    kinds = ["time", "domain", "domain", "domain"]
    record = read_header(write_nrrd(tmp_path / "a.nrrd", data, kinds=kinds))
    assert (record["width"], record["height"], record["frames"]) == (5, 6, 28)


NRRD_HEADER = b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 6 7\nencoding: raw\n"


def test_nrrd_crlf_header(tmp_path):
    # The voxel data contain LF LF, which must not be taken for the header's end.
    header = NRRD_HEADER.replace(b"\n", b"\r\n") + b"\r\n"
    (tmp_path / "a.nrrd").write_bytes(header + b"\n\n" + bytes(5 * 6 * 7 - 2))
    record = read_header(tmp_path / "a.nrrd")
    assert record["error"] is None
    assert record["frames"] == 7


def test_nrrd_cut_in_header(tmp_path):
    (tmp_path / "a.nrrd").write_bytes(NRRD_HEADER[: NRRD_HEADER.index(b"raw") + 1])
    record = read_header(tmp_path / "a.nrrd")
    assert record["error"].startswith("truncated: the NRRD header ends with the file")


def test_nrrd_negative_size(tmp_path):
    header = NRRD_HEADER.replace(b"5 6 7", b"5 -6 7")
    (tmp_path / "a.nrrd").write_bytes(header + b"\n" + bytes(210))
    record = read_header(tmp_path / "a.nrrd")
    assert record["error"] == "damaged: invalid NRRD sizes (5, -6, 7)"


def test_nrrd_too_few_directions(tmp_path):
    fields = b"space: RAS\nspace directions: (1,0,0) (0,1,0)\n"
    header = NRRD_HEADER.replace(b"encoding", fields + b"encoding")
    (tmp_path / "a.nrrd").write_bytes(header + b"\n" + bytes(210))
    record = read_header(tmp_path / "a.nrrd")
    assert record["format"] == "NRRD"
    assert record["error"].startswith("damaged: ")
    assert "directions" in record["error"]


def test_nrrd_detached_header(tmp_path):
    (tmp_path / "a.raw").write_bytes(bytes(16 * 16 * 4))
    header = "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 16 16 4\nencoding: raw\ndata file: a.raw\n"
    (tmp_path / "a.nhdr").write_text(header)
    record = read_header(tmp_path / "a.nhdr")
    assert record["error"] is None
    assert record["frames"] == 4


def test_nrrd_damaged_header(tmp_path):
    (tmp_path / "a.nrrd").write_bytes(
        b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 16 x\n\n"
    )
    record = read_header(tmp_path / "a.nrrd")
    assert record["format"] == "NRRD"
    assert record["error"].startswith("damaged: the NRRD header could not be read")


def test_nrrd_block_type_unsupported(tmp_path):
    header = b"NRRD0004\ntype: block\nblock size: 4\ndimension: 2\nsizes: 4 4\nencoding: raw\n\n"
    (tmp_path / "a.nrrd").write_bytes(header + bytes(64))
    record = read_header(tmp_path / "a.nrrd")
    assert record["error"] == "unsupported: NRRD samples of type 'block' are not read"


def test_fastmri_multicoil_fields(tmp_path):
    record = read_header(write_fastmri(tmp_path / "file1000001.h5"))
    assert record["error"] is None
    assert record["format"] == "HDF5 (FastMRI)"
    assert (record["width"], record["height"], record["frames"]) == (32, 32, 10)
    assert record["bit_depth"] == 32
    assert record["colour_mode"] == "greyscale"


def test_fastmri_test_set_without_images(tmp_path):
    path = write_fastmri(
        tmp_path / "file1.h5", coils=0, kspace_size=(64, 48), image=False
    )
    record = read_header(path)
    assert (record["width"], record["height"], record["frames"]) == (48, 64, 10)
    assert record["colour_mode"] == "complex k-space"


def test_hdf5_other_layout_unsupported(tmp_path):
    with h5py.File(tmp_path / "patches.h5", "w") as file:
        file.create_dataset("x", data=np.zeros((5, 96, 96, 3), np.uint8))
    record = read_header(tmp_path / "patches.h5")
    assert record["format"] == "HDF5"
    assert record["error"].startswith(
        "unsupported: HDF5 files are read only in the FastMRI"
    )
    assert record["error"].endswith("this one has at the top level: x")


def test_hdf5_after_user_block(tmp_path):
    with h5py.File(tmp_path / "file1.h5", "w", userblock_size=512) as file:
        file.create_dataset("kspace", data=np.zeros((5, 16, 8), np.complex64))
    record = read_header(tmp_path / "file1.h5")
    assert record["error"] is None
    assert record["frames"] == 5


def test_fastmri_flat_reconstruction(tmp_path):
    with h5py.File(tmp_path / "file1.h5", "w") as file:
        file.create_dataset("kspace", data=np.zeros((5, 16, 8), np.complex64))
        file.create_dataset("reconstruction_rss", data=np.zeros((16, 8), np.float32))
    record = read_header(tmp_path / "file1.h5")
    assert record["error"] == (
        "damaged: the FastMRI reconstruction_rss dataset has shape (16, 8), not "
        "(slices, height, width)"
    )


def test_fastmri_kspace_without_dataspace(tmp_path):
    with h5py.File(tmp_path / "file1.h5", "w") as file:
        file.create_dataset("kspace", data=h5py.Empty("f4"))
    record = read_header(tmp_path / "file1.h5")
    assert record["error"].startswith(
        "damaged: the FastMRI kspace dataset has shape None"
    )


def test_hdf5_truncated(tmp_path):
    path = write_fastmri(tmp_path / "file1.h5")
    record = read_header(cut(path, path.stat().st_size // 2))
    assert record["error"].startswith("truncated: the HDF5 file could not be opened")


def test_hdf5_damaged(tmp_path):
    (tmp_path / "noise.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    record = read_header(tmp_path / "noise.h5")
    assert record["error"].startswith("damaged: the HDF5 file could not be opened")


@pytest.mark.parametrize(
    ("name", "suffix", "write", "expected"),
    [
        (
            "TDSC-ABUS",
            ".nrrd",
            lambda path: write_nrrd(path, np.zeros((20, 16, 9), np.uint8)),
            18,
        ),
        ("FastMRI", ".h5", lambda path: write_fastmri(path, slices=9), 18),
    ],
    ids=["nrrd", "fastmri"],
)
def test_verify_counts_slices(tmp_path, name, suffix, write, expected):
    copy = tmp_path / "copy"
    copy.mkdir()
    for stem in ("one", "two"):
        write(copy / f"{stem}{suffix}")
    report = verify_source(
        name, copy, manifest=tmp_path / "manifest", workers=1, progress=False
    )
    assert report.n_unreadable == 0
    assert report.image_count == expected
