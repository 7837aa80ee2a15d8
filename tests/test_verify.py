"""Specification of the verify scan, on image trees written by the tests."""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import socket
import struct
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import nibabel
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from dicom_files import image_dataset
from PIL import Image, TiffImagePlugin
from pydicom import dcmread, dcmwrite
from pydicom.uid import (
    ExplicitVRBigEndian,
)

from biovfm_utils.file_tree import list_files, make_chunks
from biovfm_utils.headers import read_header, read_headers
from biovfm_utils.manifest import (
    MANIFEST_COLUMNS,
    ManifestMismatchError,
    manifest_schema,
    part_files,
    read_manifest,
)
from biovfm_utils.verify import count_images, verify_source
from biovfm_utils.verify_cli import add_parser, run

REPO = Path(__file__).resolve().parent.parent
BIOVFM = Path(sys.executable).with_name("biovfm")

# Sources of the packaged catalog, one per counting unit.
FILE_SOURCE = "DRIVE"
SLICE_SOURCE = "TDSC-ABUS"
FRAME_SOURCE = "EchoNet-Dynamic"


def write_dicom(path, rows, columns, *, frames=1, bits=16, photometric="MONOCHROME2"):
    """Write an uncompressed DICOM file with ``frames`` frames and return its path."""
    dataset = image_dataset(
        rows, columns, frames=frames, bits=bits, photometric=photometric
    )
    dataset.save_as(path, enforce_file_format=True)
    return Path(path)


def write_nifti(path, shape, dtype=np.int16):
    """Write a NIfTI-1 volume with an identity affine (slices along the third axis)."""
    volume = nibabel.Nifti1Image(np.zeros(shape, dtype=dtype), np.eye(4))
    nibabel.save(volume, str(path))
    return Path(path)


def noise_png(path, size=(128, 96)):
    """Write a PNG of random pixels, which compresses badly, so it has data to cut."""
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0]), np.uint8)
    Image.fromarray(pixels).save(path)
    return Path(path)


# Each readable file: (path, format, width, height, frames, bit depth, colour mode).
READABLE = [
    ("png/grey.png", "PNG", 64, 48, 1, 8, "L"),
    ("png/colour.png", "PNG", 64, 48, 1, 8, "RGB"),
    ("png/deep.png", "PNG", 64, 48, 1, 16, "I;16"),
    ("jpeg/photo.jpg", "JPEG", 80, 60, 1, 8, "RGB"),
    ("tiff/page.tif", "TIFF", 64, 48, 1, 8, "L"),
    ("tiff/stack.tif", "TIFF", 32, 16, 3, 8, "L"),
    ("dicom/ct.dcm", "DICOM", 40, 30, 1, 12, "MONOCHROME2"),
    ("dicom/cine.dcm", "DICOM", 24, 20, 4, 8, "RGB"),
    ("nifti/volume.nii.gz", "NIfTI-1 (gzip)", 20, 24, 3, 16, "greyscale"),
]

# Each unreadable file: (path, error kind).
UNREADABLE = [
    ("broken/truncated.png", "truncated"),
    ("broken/empty.dat", "empty file"),
    ("broken/notes.txt", "not an image"),
]


def build_tree(root: Path) -> Path:
    """Write the files of READABLE and UNREADABLE under ``root``, and a link loop."""
    for folder in ("png", "jpeg", "tiff", "dicom", "nifti", "broken"):
        (root / folder).mkdir(parents=True)
    Image.new("L", (64, 48), 90).save(root / "png/grey.png")
    Image.new("RGB", (64, 48), (10, 200, 30)).save(root / "png/colour.png")
    Image.fromarray(np.full((48, 64), 4000, np.uint16)).save(root / "png/deep.png")
    Image.new("RGB", (80, 60), (120, 40, 40)).save(root / "jpeg/photo.jpg")
    Image.new("L", (64, 48)).save(root / "tiff/page.tif")
    pages = [Image.new("L", (32, 16), level) for level in (0, 100, 200)]
    pages[0].save(root / "tiff/stack.tif", save_all=True, append_images=pages[1:])
    write_dicom(root / "dicom/ct.dcm", 30, 40, bits=12)
    write_dicom(root / "dicom/cine.dcm", 20, 24, frames=4, bits=8, photometric="RGB")
    write_nifti(root / "nifti/volume.nii.gz", (20, 24, 3))

    content = noise_png(root / "broken/whole.png").read_bytes()
    (root / "broken/whole.png").unlink()
    (root / "broken/truncated.png").write_bytes(content[: len(content) * 2 // 3])
    (root / "broken/empty.dat").write_bytes(b"")
    (root / "broken/notes.txt").write_text("Labels are in labels.csv\n")
    os.symlink("..", root / "broken/loop")
    return root


@pytest.fixture
def tree(tmp_path) -> Path:
    return build_tree(tmp_path / "copy")


def scan(tree, tmp_path, name=FILE_SOURCE, **options):
    options.setdefault("manifest", tmp_path / "manifest")
    options.setdefault("workers", 1)
    options.setdefault("progress", False)
    return verify_source(name, tree, **options)


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("path").reset_index(drop=True)


# Headers of single files


@pytest.mark.parametrize("case", READABLE, ids=[case[0] for case in READABLE])
def test_read_header_fields(tree, case):
    path, format_name, width, height, frames, bit_depth, colour_mode = case
    record = read_header(tree / path)
    assert record["error"] is None
    assert record["format"] == format_name
    assert record["width"] == width
    assert record["height"] == height
    assert record["frames"] == frames
    assert record["bit_depth"] == bit_depth
    assert record["colour_mode"] == colour_mode
    assert record["byte_size"] == (tree / path).stat().st_size


@pytest.mark.parametrize("case", UNREADABLE, ids=[case[0] for case in UNREADABLE])
def test_read_header_error_kind(tree, case):
    path, kind = case
    record = read_header(tree / path)
    assert record["error"].startswith(f"{kind}: ")


def test_read_header_truncated_png_keeps_size(tree):
    record = read_header(tree / "broken/truncated.png")
    assert record["format"] == "PNG"
    assert record["width"] == 128
    assert "IEND" in record["error"]


def test_read_header_png_cut_in_header(tmp_path):
    content = noise_png(tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(content[:20])
    record = read_header(tmp_path / "cut.png")
    assert record["error"].startswith("damaged: ")
    assert record["format"] == "PNG"


def test_read_header_truncated_dicom(tmp_path):
    content = write_dicom(tmp_path / "whole.dcm", 64, 64).read_bytes()
    (tmp_path / "cut.dcm").write_bytes(content[:-100])
    record = read_header(tmp_path / "cut.dcm")
    assert record["format"] == "DICOM"
    assert record["error"].startswith("truncated: the pixel data end at byte")


def test_read_header_truncated_nifti(tmp_path):
    content = write_nifti(tmp_path / "whole.nii", (16, 16, 4)).read_bytes()
    (tmp_path / "cut.nii").write_bytes(content[:-64])
    record = read_header(tmp_path / "cut.nii")
    assert record["format"] == "NIfTI-1"
    assert record["frames"] == 4
    assert record["error"].startswith("truncated: the voxel data end at byte")


def test_read_header_damaged_gzip_nifti(tmp_path):
    content = write_nifti(tmp_path / "whole.nii.gz", (16, 16, 4)).read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(content[:-30])
    record = read_header(tmp_path / "cut.nii.gz")
    assert record["error"].split(":")[0] in ("damaged", "truncated")


def test_read_header_gzip_of_short_nifti(tmp_path):
    # The gzip stream is intact, but the NIfTI inside it lacks its last voxels.
    content = write_nifti(tmp_path / "whole.nii", (16, 16, 4)).read_bytes()
    (tmp_path / "short.nii.gz").write_bytes(gzip.compress(content[:-64]))
    record = read_header(tmp_path / "short.nii.gz")
    assert record["format"] == "NIfTI-1 (gzip)"
    assert record["error"].startswith("truncated: the voxel data end at byte")


def test_read_header_gzip_of_several_members(tmp_path):
    # Parallel compressors such as pigz may write a gzip file as several members.
    content = write_nifti(tmp_path / "whole.nii", (16, 16, 4)).read_bytes()
    members = gzip.compress(content[:100]) + gzip.compress(content[100:])
    (tmp_path / "members.nii.gz").write_bytes(members)
    record = read_header(tmp_path / "members.nii.gz")
    assert record["format"] == "NIfTI-1 (gzip)"
    assert record["frames"] == 4
    assert record["error"] is None


def test_read_header_gzip_with_zero_padding(tmp_path):
    content = write_nifti(tmp_path / "whole.nii", (16, 16, 4)).read_bytes()
    (tmp_path / "padded.nii.gz").write_bytes(gzip.compress(content) + bytes(512))
    record = read_header(tmp_path / "padded.nii.gz")
    assert record["frames"] == 4
    assert record["error"] is None


def test_read_header_gzip_of_short_dicom(tmp_path):
    # The gzip stream is intact, but the DICOM inside it lacks its last pixels.
    content = write_dicom(tmp_path / "whole.dcm", 64, 64).read_bytes()
    (tmp_path / "short.dcm.gz").write_bytes(gzip.compress(content[:-100]))
    record = read_header(tmp_path / "short.dcm.gz")
    assert record["format"] == "DICOM (gzip)"
    assert record["error"].startswith("truncated: the pixel data end at byte")


def test_read_header_text_is_not_quicktime(tmp_path):
    # Bytes 4 to 8 spell "free", the type of a QuickTime atom.
    (tmp_path / "readme.txt").write_text("The free dataset is described below.\n")
    record = read_header(tmp_path / "readme.txt")
    assert record["error"].startswith("not an image: ")


def test_read_header_nifti_4d_counts_every_volume(tmp_path):
    record = read_header(write_nifti(tmp_path / "bold.nii", (8, 8, 5, 3)))
    assert record["frames"] == 15


def test_read_header_nifti_slices_along_superior_axis(tmp_path):
    # Voxel axis 0 points superior, so slices are taken along it.
    affine = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    volume = nibabel.Nifti1Image(np.zeros((7, 10, 12), np.int16), affine)
    nibabel.save(volume, str(tmp_path / "sagittal.nii"))
    record = read_header(tmp_path / "sagittal.nii")
    assert record["frames"] == 7
    assert (record["width"], record["height"]) == (12, 10)


def test_read_header_dicom_without_preamble(tmp_path):
    dataset = dcmread(write_dicom(tmp_path / "full.dcm", 30, 40))
    dataset.preamble = None
    del dataset.file_meta
    dataset.save_as(
        tmp_path / "bare.dcm",
        implicit_vr=True,
        little_endian=True,
        enforce_file_format=False,
    )
    assert (tmp_path / "bare.dcm").read_bytes()[128:132] != b"DICM"
    record = read_header(tmp_path / "bare.dcm")
    assert record["format"] == "DICOM"
    assert record["error"] is None
    assert (record["width"], record["height"]) == (40, 30)


@pytest.mark.parametrize(
    ("content", "format_name"),
    [
        (b"\x93NUMPY\x01\x00" + bytes(64), "NumPy array"),
        (b"ObjectType = Image\nNDims = 3\n", "MetaImage"),
    ],
    ids=["npy", "metaimage"],
)
def test_read_header_unread_volume_format(tmp_path, content, format_name):
    (tmp_path / "volume").write_bytes(content)
    record = read_header(tmp_path / "volume")
    assert record["format"] == format_name
    assert record["error"].startswith("unsupported: ")


def test_read_header_broken_link(tmp_path):
    os.symlink(tmp_path / "missing.png", tmp_path / "link.png")
    record = read_header(tmp_path / "link.png")
    assert record["error"] == "unreadable: a broken symbolic link"


def dicom_with_invalid_uid(path):
    """Write a readable DICOM file whose SOP Class UID has letters in it.

    The file is big endian, so pydicom reads it rather than the element walker,
    which does not read the SOP Class UID.
    """
    dataset = dcmread(write_dicom(path, 30, 40))
    dataset.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset.SOPClassUID = "1.2.abc"
        dcmwrite(
            path, dataset, implicit_vr=False, little_endian=False, force_encoding=True
        )
    return Path(path)


def tiff_cut_in_its_tags(path):
    """Write a TIFF cut inside its tag directory, before the strip byte counts.

    The header still gives the size, but Pillow warns about tags whose data lie
    past the end of the file.
    """
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[270] = "x" * 500  # ImageDescription, stored after the directory
    Image.fromarray(pixels).save(path, tiffinfo=tags)
    data = Path(path).read_bytes()
    directory = struct.unpack("<I", data[4:8])[0]
    count = struct.unpack("<H", data[directory : directory + 2])[0]
    entries = [directory + 2 + 12 * number for number in range(count)]
    numbers = [struct.unpack("<H", data[entry : entry + 2])[0] for entry in entries]
    strip_byte_counts = entries[numbers.index(279)]
    Path(path).write_bytes(data[: strip_byte_counts + 5])
    return Path(path)


def test_read_header_keeps_warnings_in(tmp_path, caplog):
    path = dicom_with_invalid_uid(tmp_path / "odd.dcm")
    caplog.clear()
    with (
        warnings.catch_warnings(record=True) as leaked,
        caplog.at_level(logging.DEBUG),
    ):
        warnings.simplefilter("always")
        record = read_header(path)
    assert [str(warning.message) for warning in leaked] == []
    assert record["error"] is None
    assert not [r for r in caplog.records if r.name == "pydicom"]
    debug = [r.getMessage() for r in caplog.records if r.name.startswith("biovfm")]
    assert any("Invalid value for VR UI" in message for message in debug)


def test_read_header_damage_warning_is_error(tmp_path):
    path = tiff_cut_in_its_tags(tmp_path / "cut.tif")
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        record = read_header(path)
    assert leaked == []
    assert record["format"] == "TIFF"
    assert record["error"].startswith("damaged: ")
    assert "larger than file" in record["error"]


def test_read_headers_gives_warnings_to_their_file(tmp_path):
    paths = [
        noise_png(tmp_path / "before.png"),
        tiff_cut_in_its_tags(tmp_path / "cut.tif"),
        noise_png(tmp_path / "after.png"),
    ]
    before, cut, after = read_headers(paths)
    assert before["error"] is None
    assert cut["error"].startswith("damaged: ")
    assert after["error"] is None


def test_cli_stderr_free_of_warnings(tmp_path):
    root = tmp_path / "copy"
    root.mkdir()
    dicom_with_invalid_uid(root / "odd.dcm")
    tiff_cut_in_its_tags(root / "cut.tif")
    command = [
        str(BIOVFM),
        "verify",
        FILE_SOURCE,
        str(root),
        "--manifest",
        str(tmp_path / "m"),
        "--workers",
        "1",
        "--no-progress",
    ]
    result = subprocess.run(
        command, check=False, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "| Readable images | 1 |" in result.stdout


# Walking and chunking


def test_list_files_skips_link_loop(tree):
    listed = list_files(tree)
    assert listed.n_files == len(READABLE) + len(UNREADABLE)
    assert ("broken/loop", "symbolic link to a directory") in listed.skipped


def test_list_files_follows_links_once(tree):
    listed = list_files(tree, follow_symlinks=True)
    assert listed.n_files == len(READABLE) + len(UNREADABLE)
    assert [path for path, _ in listed.skipped] == ["broken/loop"]


def test_list_files_skips_link_to_listed_file(tmp_path):
    noise_png(tmp_path / "ok.png")
    os.symlink("ok.png", tmp_path / "link.png")
    (tmp_path / "sub").mkdir()
    os.symlink("../ok.png", tmp_path / "sub" / "alias.png")
    listed = list_files(tmp_path)
    assert listed.paths() == ["ok.png"]
    skipped = dict(listed.skipped)
    assert skipped["link.png"] == "symbolic link to ok.png, which is listed itself"
    assert "ok.png" in skipped["sub/alias.png"]


def test_list_files_follows_link_out_of_root(tmp_path):
    outside = noise_png(tmp_path / "outside.png")
    root = tmp_path / "copy"
    root.mkdir()
    noise_png(root / "ok.png")
    os.symlink(outside, root / "link.png")
    listed = list_files(root)
    assert listed.paths() == ["link.png", "ok.png"]
    assert listed.skipped == []


def test_make_chunks_keeps_directories_together():
    directories = [("a", ["1", "2"]), ("b", ["1", "2", "3"]), ("c", ["1"])]
    assert make_chunks(directories, 4) == [["a/1", "a/2"], ["b/1", "b/2", "b/3", "c/1"]]


def test_make_chunks_splits_large_directory():
    directories = [("big", [str(i) for i in range(5)]), ("small", ["x"])]
    chunks = make_chunks(directories, 2)
    assert chunks == [["big/0", "big/1"], ["big/2", "big/3"], ["big/4", "small/x"]]


# Counting


@pytest.mark.parametrize(
    ("name", "expected"),
    [(FILE_SOURCE, 9), (SLICE_SOURCE, 16), (FRAME_SOURCE, 16)],
)
def test_verify_counts_per_unit(tree, tmp_path, name, expected):
    report = scan(tree, tmp_path, name)
    assert report.image_count == expected
    assert report.difference == expected - report.table1_count
    assert report.counting_rule


def test_verify_nifti_volume_counts_slices(tmp_path):
    root = tmp_path / "volumes"
    root.mkdir()
    write_nifti(root / "scan.nii.gz", (20, 24, 3))
    report = scan(root, tmp_path, SLICE_SOURCE)
    assert report.counting_unit == "slice"
    assert report.image_count == 3
    assert report.n_files == 1


def test_verify_report_lists_errors(tree, tmp_path):
    report = scan(tree, tmp_path)
    assert report.n_files == len(READABLE) + len(UNREADABLE)
    assert report.n_readable == len(READABLE)
    assert sorted(report.errors["path"]) == sorted(path for path, _ in UNREADABLE)
    kinds = dict(zip(report.error_kinds["kind"], report.error_kinds["files"]))
    assert kinds == {"truncated": 1, "empty file": 1, "not an image": 1}
    assert "broken/loop" in list(report.skipped["path"])


def test_verify_counts_linked_file_once(tmp_path):
    root = tmp_path / "copy"
    root.mkdir()
    noise_png(root / "ok.png")
    os.symlink("ok.png", root / "link.png")
    report = scan(root, tmp_path)
    assert report.n_files == 1
    assert report.image_count == 1
    assert list(report.skipped["path"]) == ["link.png"]
    assert "link.png" in report.to_markdown()


def test_verify_report_distributions(tree, tmp_path):
    report = scan(tree, tmp_path)
    sizes = {(row.width, row.height): row.files for row in report.sizes.itertuples()}
    assert sizes[(64, 48)] == 4
    assert report.sizes["files"].sum() == len(READABLE)
    depths = dict(zip(report.bit_depths["bit_depth"], report.bit_depths["files"]))
    assert depths == {8: 6, 12: 1, 16: 2}


def test_verify_to_markdown(tree, tmp_path):
    text = scan(tree, tmp_path, SLICE_SOURCE).to_markdown()
    assert "Images counted (unit: slice)" in text
    assert "broken/notes.txt" in text
    assert "Every slice counts" in text


def test_count_images_rejects_unknown_unit():
    with pytest.raises(ValueError, match="volume"):
        count_images(pd.DataFrame({"error": [], "frames": []}), "volume")


# The manifest


def test_manifest_schema_of_parts(tree, tmp_path):
    scan(tree, tmp_path, chunk_size=4)
    parts = part_files(tmp_path / "manifest")
    # broken (3 files) | dicom, jpeg, nifti (2 + 1 + 1) | png (3) | tiff (2)
    assert len(parts) == 4
    for part in parts:
        assert pq.read_schema(part).remove_metadata() == manifest_schema()


def test_manifest_dtypes(tree, tmp_path):
    scan(tree, tmp_path)
    rows = read_manifest(tmp_path / "manifest")
    assert tuple(rows.columns) == MANIFEST_COLUMNS
    expected = {
        "path": "string",
        "format": "string",
        "width": "Int32",
        "height": "Int32",
        "frames": "Int64",
        "bit_depth": "Int16",
        "colour_mode": "string",
        "byte_size": "Int64",
        "modified_ns": "Int64",
        "error": "string",
    }
    assert {column: str(rows[column].dtype) for column in rows} == expected


def test_manifest_one_row_per_file(tree, tmp_path):
    scan(tree, tmp_path, chunk_size=2)
    rows = read_manifest(tmp_path / "manifest")
    assert len(rows) == len(READABLE) + len(UNREADABLE)
    assert rows["path"].is_unique


def test_manifest_inside_copy_is_not_scanned(tree, tmp_path):
    report = scan(tree, tmp_path, manifest=tree / "manifest")
    assert report.n_files == len(READABLE) + len(UNREADABLE)


def test_manifest_of_other_source_rejected(tree, tmp_path):
    scan(tree, tmp_path, FILE_SOURCE)
    with pytest.raises(ManifestMismatchError, match="DRIVE"):
        scan(tree, tmp_path, SLICE_SOURCE)


# Resume


def test_resume_after_stop(tree, tmp_path):
    total = len(READABLE) + len(UNREADABLE)
    chunks = make_chunks(list_files(tree).directories, 2)
    stopped = sum(len(chunk) for chunk in chunks[:3])
    first = scan(tree, tmp_path, chunk_size=2, max_chunks=3)
    assert first.n_scanned == stopped
    assert first.n_pending == total - stopped
    assert not first.complete
    first_parts = {path.name: path.read_bytes() for path in part_files(first.manifest)}

    second = scan(tree, tmp_path, chunk_size=2)
    assert second.n_resumed == stopped
    assert second.n_scanned == total - stopped
    assert second.complete
    later_parts = {path.name: path.read_bytes() for path in part_files(second.manifest)}
    for name, content in first_parts.items():
        assert later_parts[name] == content

    rows = read_manifest(second.manifest)
    assert rows["path"].is_unique
    clean = scan(tree, tmp_path, manifest=tmp_path / "clean")
    assert clean.image_count == second.image_count
    pd.testing.assert_frame_equal(
        sorted_rows(rows), sorted_rows(read_manifest(clean.manifest))
    )


def test_resume_ignores_unfinished_part(tree, tmp_path):
    scan(tree, tmp_path, chunk_size=4, max_chunks=1)
    leftover = tmp_path / "manifest" / ".part-000001.parquet.999.tmp"
    leftover.write_bytes(b"PAR1 cut short")
    report = scan(tree, tmp_path, chunk_size=4)
    assert not leftover.exists()
    assert report.n_files == len(READABLE) + len(UNREADABLE)


def test_resume_scans_new_files(tree, tmp_path):
    scan(tree, tmp_path)
    Image.new("L", (64, 48)).save(tree / "png/added.png")
    report = scan(tree, tmp_path)
    assert report.n_scanned == 1
    assert report.n_readable == len(READABLE) + 1


def copy_with_cut_png(tmp_path) -> tuple[Path, bytes]:
    """Write a.png, b.png and a half c.png, and return the folder and c.png whole."""
    root = tmp_path / "copy"
    root.mkdir()
    noise_png(root / "a.png")
    noise_png(root / "b.png")
    whole = noise_png(tmp_path / "whole.png").read_bytes()
    (root / "c.png").write_bytes(whole[: len(whole) // 2])
    return root, whole


def test_resume_rescans_replaced_file(tmp_path):
    root, whole = copy_with_cut_png(tmp_path)
    first = scan(root, tmp_path)
    assert list(first.errors["path"]) == ["c.png"]
    first_parts = part_files(first.manifest)

    (root / "c.png").write_bytes(whole)
    second = scan(root, tmp_path)

    assert second.n_unreadable == 0
    assert second.n_readable == 3
    assert second.n_scanned == 1
    assert second.n_changed == 1
    assert second.n_resumed == 2
    assert part_files(second.manifest)[: len(first_parts)] == first_parts
    assert len(part_files(second.manifest)) == len(first_parts) + 1
    rows = read_manifest(second.manifest)
    assert rows["path"].is_unique
    assert rows.loc[rows["path"] == "c.png", "error"].isna().all()
    text = second.to_markdown()
    assert "| Changed files read again | 1 |" in text
    assert "| Rows reused from earlier runs | 2 |" in text


def test_resume_rescans_file_with_new_mtime(tree, tmp_path):
    scan(tree, tmp_path)
    target = tree / "png/grey.png"
    status = target.stat()
    os.utime(target, ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))
    report = scan(tree, tmp_path)
    assert report.n_scanned == 1
    assert report.n_changed == 1
    rows = read_manifest(report.manifest)
    row = rows[rows["path"] == "png/grey.png"].iloc[0]
    assert row["modified_ns"] == status.st_mtime_ns + 10**9


def test_resume_keeps_unchanged_files(tree, tmp_path):
    scan(tree, tmp_path)
    report = scan(tree, tmp_path)
    assert report.n_scanned == 0
    assert report.n_changed == 0
    assert report.n_resumed == len(READABLE) + len(UNREADABLE)


def test_resume_leaves_out_removed_file(tree, tmp_path):
    scan(tree, tmp_path)
    (tree / "broken/notes.txt").unlink()
    report = scan(tree, tmp_path)
    assert report.n_files == len(READABLE) + len(UNREADABLE) - 1
    assert report.n_removed == 1
    assert "broken/notes.txt" not in set(report.errors["path"])
    assert "| Rows of files no longer listed | 1 |" in report.to_markdown()


def test_resume_drops_row_of_changed_pending_file(tmp_path):
    root, whole = copy_with_cut_png(tmp_path)
    scan(root, tmp_path)
    (root / "c.png").write_bytes(whole)
    report = scan(root, tmp_path, max_chunks=0)
    assert report.n_pending == 1
    assert report.n_files == 2
    assert report.n_unreadable == 0


def test_resume_rescans_parts_without_mtime(tree, tmp_path):
    first = scan(tree, tmp_path)
    for part in part_files(first.manifest):
        pq.write_table(pq.read_table(part).drop_columns(["modified_ns"]), part)
    report = scan(tree, tmp_path)
    assert report.n_changed == len(READABLE) + len(UNREADABLE)
    assert report.n_readable == len(READABLE)


def test_no_resume_scans_everything(tree, tmp_path):
    scan(tree, tmp_path)
    report = scan(tree, tmp_path, resume=False)
    assert report.n_scanned == len(READABLE) + len(UNREADABLE)
    assert report.n_resumed == 0


# Engines


def test_process_pool_matches_single_process(tree, tmp_path):
    single = scan(tree, tmp_path, manifest=tmp_path / "single", chunk_size=3)
    pooled = scan(tree, tmp_path, manifest=tmp_path / "pooled", chunk_size=3, workers=2)
    pd.testing.assert_frame_equal(
        sorted_rows(read_manifest(pooled.manifest)),
        sorted_rows(read_manifest(single.manifest)),
    )


def test_dask_cluster_matches_single_process(tree, tmp_path):
    distributed = pytest.importorskip("distributed")
    single = scan(tree, tmp_path, manifest=tmp_path / "single", chunk_size=3)
    with (
        distributed.LocalCluster(
            n_workers=3,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = scan(
            tree, tmp_path, manifest=tmp_path / "dask", chunk_size=3, scheduler=client
        )
        on_address = scan(
            tree,
            tmp_path,
            manifest=tmp_path / "address",
            chunk_size=3,
            scheduler=cluster.scheduler_address,
        )
        expected = sorted_rows(read_manifest(single.manifest))
        pd.testing.assert_frame_equal(
            sorted_rows(read_manifest(on_dask.manifest)), expected
        )
        pd.testing.assert_frame_equal(
            sorted_rows(read_manifest(on_address.manifest)), expected
        )
        assert len(part_files(on_dask.manifest)) == len(part_files(single.manifest))
        assert on_dask.image_count == single.image_count

        noise_png(tree / "broken/truncated.png")
        single = scan(tree, tmp_path, manifest=tmp_path / "single", chunk_size=3)
        on_dask = scan(
            tree, tmp_path, manifest=tmp_path / "dask", chunk_size=3, scheduler=client
        )
    assert on_dask.n_changed == single.n_changed == 1
    pd.testing.assert_frame_equal(
        sorted_rows(read_manifest(on_dask.manifest)),
        sorted_rows(read_manifest(single.manifest)),
    )


# Bad input


def test_verify_missing_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        scan(missing, tmp_path)


def test_verify_path_is_file(tmp_path):
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="file.png"):
        scan(tmp_path / "file.png", tmp_path)


def test_verify_unknown_source(tree, tmp_path):
    with pytest.raises(KeyError, match="Closest: DRIVE"):
        scan(tree, tmp_path, "DRIVEE")


# Command line


def parse(arguments: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="biovfm")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(arguments)


def test_cli_prints_report(tree, tmp_path, capsys):
    args = parse(
        [
            "verify",
            SLICE_SOURCE,
            str(tree),
            "--manifest",
            str(tmp_path / "m"),
            "--workers",
            "1",
            "--no-progress",
        ]
    )
    assert run(args) == 0
    output = capsys.readouterr()
    assert "| Images counted (unit: slice) | 16 |" in output.out
    assert output.err == ""


def test_cli_unknown_source(tree, tmp_path, capsys):
    args = parse(
        ["verify", "Montgomry CXR", str(tree), "--manifest", str(tmp_path / "m")]
    )
    assert run(args) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "Montgomery CXR" in error


def test_cli_missing_path(tmp_path, capsys):
    args = parse(["verify", FILE_SOURCE, str(tmp_path / "absent")])
    assert run(args) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert str(tmp_path / "absent") in error


def test_cli_rejects_zero_workers(tree, capsys):
    assert run(parse(["verify", FILE_SOURCE, str(tree), "--workers", "0"])) == 2
    assert "--workers" in capsys.readouterr().err


@pytest.mark.parametrize("address", ["nonsense", "127.0.0.1:8786x", "tcp://h:0"])
def test_cli_rejects_invalid_scheduler(tree, tmp_path, capsys, address):
    args = parse(["verify", FILE_SOURCE, str(tree), "--scheduler", address])
    assert run(args) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert repr(address) in error
    assert "tcp://HOST:PORT" in error


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_biovfm(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIOVFM), *arguments],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def read_until_closed(connection) -> None:
    """Read from a connection and never reply, until the client closes it."""
    while connection.recv(4096):
        pass


@pytest.mark.parametrize("peer", ["closed port", "silent server"])
def test_cli_unanswered_scheduler_fails_fast(tree, tmp_path, tcp_server, peer):
    pytest.importorskip("distributed")
    if peer == "closed port":
        port = closed_port()
    else:
        port = tcp_server(read_until_closed).port
    started = time.monotonic()
    result = run_biovfm(
        [
            "verify",
            FILE_SOURCE,
            str(tree),
            "--manifest",
            str(tmp_path / "m"),
            "--scheduler",
            f"127.0.0.1:{port}",
            "--connect-timeout",
            "1",
            "--no-progress",
        ],
        tmp_path,
    )
    assert result.returncode == 1
    assert time.monotonic() - started < 20
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("biovfm verify: error: The scan failed: ")
    assert f"tcp://127.0.0.1:{port}" in result.stderr
    assert "--connect-timeout" in result.stderr


def test_cli_manifest_is_a_file(tree, tmp_path, capsys):
    existing = tmp_path / "manifest.parquet"
    existing.write_bytes(b"PAR1")
    args = parse(["verify", FILE_SOURCE, str(tree), "--manifest", str(existing)])
    assert run(args) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert str(existing) in error
    assert "--manifest" in error


@pytest.mark.parametrize(("strict", "status"), [(False, 0), (True, 1)])
def test_cli_strict_fails_on_unreadable(tree, tmp_path, capsys, strict, status):
    arguments = ["verify", FILE_SOURCE, str(tree), "--manifest", str(tmp_path / "m")]
    arguments += ["--workers", "1", "--no-progress"]
    if strict:
        arguments.append("--strict")
    assert run(parse(arguments)) == status
    output = capsys.readouterr()
    assert "| Unreadable files | 3 |" in output.out
    assert ("3 of 12 files are unreadable" in output.err) == strict


def test_cli_help_states_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        parse(["verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Exit status: 0 when the scan finished" in text
    assert "--strict" in text
    assert "link to a file outside PATH is followed" in text


def test_cli_help_describes_every_option():
    parser = argparse.ArgumentParser(prog="biovfm")
    verify = add_parser(parser.add_subparsers(dest="command"))
    for action in verify._actions:
        assert action.help, action.dest


def test_cli_in_subprocess(tree, tmp_path):
    script = tmp_path / "biovfm_verify.py"
    script.write_text(
        textwrap.dedent(
            """
            import argparse
            import sys

            from biovfm_utils.verify_cli import add_parser

            parser = argparse.ArgumentParser(prog="biovfm")
            add_parser(parser.add_subparsers(dest="command", required=True))
            args = parser.parse_args()
            sys.exit(args.run(args))
            """
        )
    )
    command = [
        sys.executable,
        str(script),
        "verify",
        FILE_SOURCE,
        str(tree),
        "--manifest",
        str(tmp_path / "m"),
        "--workers",
        "2",
        "--no-progress",
    ]
    result = subprocess.run(
        command, check=False, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "| Images counted (unit: file) | 9 |" in result.stdout

    missing = [sys.executable, str(script), "verify", FILE_SOURCE, str(tmp_path / "x")]
    result = subprocess.run(
        missing, check=False, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.startswith("biovfm verify: error: Path not found")
