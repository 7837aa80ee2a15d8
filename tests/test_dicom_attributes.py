"""Specification of the DICOM element walker: pydicom's result, or no result."""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from dicom_files import image_dataset
from pydicom.data import get_testdata_files
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

from biovfm_utils.dicom_attributes import read_image_attributes
from biovfm_utils.headers import ContentExtent, HeaderError
from biovfm_utils.medical_headers import read_dicom_header

# The Part 10 files (with preamble) that pydicom and pydicom-data ship for tests.
PART10_FILES = sorted(
    path
    for path in map(Path, set(get_testdata_files("**/*")))
    if path.is_file() and path.read_bytes()[128:132] == b"DICM"
)
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0"
# Lengths, as fractions of the file, at which the files are cut.
CUTS = (1.0, 0.9, 0.5, 0.2, 0.05)


def header_fields(content: bytes, *, walk: bool) -> dict | str:
    """Return `read_dicom_header`'s record, or the error it raises, for ``content``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return read_dicom_header(
                io.BytesIO(content), ContentExtent(len(content)), walk=walk
            )
        except HeaderError as error:
            return str(error)
        except Exception as error:  # noqa: BLE001 - read_header records it as damaged
            return f"{type(error).__name__}: {error}"


def attributes_of(content: bytes):
    return read_image_attributes(io.BytesIO(content), len(content))


def ct_dataset(transfer_syntax=ExplicitVRLittleEndian, rows=6, columns=5) -> Dataset:
    """Return a small CT dataset with pixel data, ready to save."""
    return image_dataset(
        rows,
        columns,
        bits=12,
        sop_class=CTImageStorage,
        transfer_syntax=transfer_syntax,
    )


def saved(dataset: Dataset) -> bytes:
    """Return the bytes of ``dataset`` saved as a Part 10 file."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def with_nested_sequences(dataset: Dataset, *, undefined_length=True) -> Dataset:
    """Add nested sequences to ``dataset``, before its image attributes.

    With ``undefined_length`` the sequences and items end with delimiters, as
    many scanners write them, instead of stating their lengths.
    """
    inner = Dataset()
    inner.CodeValue = "T-D0050"
    inner.CodingSchemeDesignator = "SRT"
    outer = Dataset()
    outer.ReferencedSOPInstanceUID = generate_uid()
    outer.AnatomicRegionSequence = Sequence([inner])
    dataset.ReferencedImageSequence = Sequence([outer, Dataset()])

    for item in (inner, outer, dataset.ReferencedImageSequence[1]):
        item.is_undefined_length_sequence_item = undefined_length
    for owner, keyword in (
        (outer, "AnatomicRegionSequence"),
        (dataset, "ReferencedImageSequence"),
    ):
        owner[keyword].is_undefined_length = undefined_length
    return dataset


def test_part10_files_found():
    assert len(PART10_FILES) >= 100


@pytest.mark.parametrize("cut", CUTS)
def test_walker_matches_pydicom(cut):
    differences = []
    for path in PART10_FILES:
        whole = path.read_bytes()
        content = whole[: int(len(whole) * cut)]
        walked = header_fields(content, walk=True)
        parsed = header_fields(content, walk=False)
        if walked != parsed:
            differences.append(f"{path.name}: {walked} != {parsed}")
    assert differences == []


def test_walker_reads_most_little_endian_images():
    # Images in little-endian syntaxes: the walker should decline only oddities.
    images = read = 0
    for path in PART10_FILES:
        content = path.read_bytes()
        result = header_fields(content, walk=False)
        if isinstance(result, str) or ExplicitVRBigEndian.encode() in content[:1024]:
            continue
        images += 1
        read += attributes_of(content) is not None
    assert read / images > 0.9


@pytest.mark.parametrize("undefined_length", [True, False])
@pytest.mark.parametrize(
    "transfer_syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
)
def test_walker_skips_nested_sequences(transfer_syntax, undefined_length):
    dataset = ct_dataset(transfer_syntax)
    content = saved(with_nested_sequences(dataset, undefined_length=undefined_length))
    assert (SEQUENCE_DELIMITER in content) is undefined_length
    attributes = attributes_of(content)
    assert attributes is not None
    assert (attributes.rows, attributes.columns) == (6, 5)
    assert attributes.bits_stored == 12
    assert attributes.photometric_interpretation == "MONOCHROME2"
    assert content[attributes.pixel_data_offset :][:4] == b"\xe0\x7f\x10\x00"


def test_walker_reads_number_of_frames():
    dataset = ct_dataset()
    dataset.NumberOfFrames = 3
    dataset.PixelData = np.zeros((3, 6, 5), np.uint16).tobytes()
    assert attributes_of(saved(dataset)).number_of_frames == 3


def test_walker_reads_past_first_chunk():
    # A private value of 40,000 bytes moves the image attributes and the pixel
    # data past the first 16 KiB that the walker reads.
    dataset = ct_dataset()
    block = dataset.private_block(0x0009, "BIOVFM TEST", create=True)
    block.add_new(0x10, "OB", bytes(40_000))
    content = saved(dataset)
    attributes = attributes_of(content)
    assert attributes.columns == 5
    assert attributes.pixel_data_offset == content.index(b"\xe0\x7f\x10\x00")


@pytest.mark.parametrize(
    "transfer_syntax", [ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian]
)
def test_walker_declines_other_encodings(transfer_syntax):
    dataset = ct_dataset(transfer_syntax)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        content = saved(dataset)
    assert attributes_of(content) is None


def test_walker_declines_signed_frame_count():
    dataset = ct_dataset()
    dataset.NumberOfFrames = "+1"
    assert attributes_of(saved(dataset)) is None


def test_walker_declines_dataset_without_rows():
    dataset = ct_dataset()
    del dataset.Rows
    assert attributes_of(saved(dataset)) is None


def test_walker_declines_value_past_end():
    content = saved(with_nested_sequences(ct_dataset()))
    cut = content.index(b"MONOCHROME2")
    assert attributes_of(content[:cut]) is None


def test_walker_declines_implicit_data_in_explicit_file():
    explicit = saved(ct_dataset(ExplicitVRLittleEndian))
    implicit = saved(ct_dataset(ImplicitVRLittleEndian))
    # Swap the datasets behind the two file meta groups.
    meta_end = explicit.index(b"\x08\x00\x16\x00")
    dataset_start = implicit.index(b"\x08\x00\x16\x00")
    content = explicit[:meta_end] + implicit[dataset_start:]
    assert attributes_of(content) is None


def explicit_element(tag: int, vr: bytes, value: bytes | None) -> bytes:
    """Return an explicit-VR element; ``value=None`` means undefined length."""
    group, element = tag >> 16, tag & 0xFFFF
    if value is None:
        return struct.pack("<HH2sHI", group, element, vr, 0, 0xFFFFFFFF)
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
        return struct.pack("<HH2sHI", group, element, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, element, vr, len(value)) + value


ITEM = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"  # an item of undefined length
ITEM_END = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
SEQUENCE_END = SEQUENCE_DELIMITER + b"\x00\x00\x00\x00"
NESTED = explicit_element(0x00081140, b"SQ", None) + ITEM + ITEM_END + SEQUENCE_END


def before_rows(inserted: bytes) -> bytes:
    """Return an explicit-VR CT file with ``inserted`` just before Rows."""
    content = saved(ct_dataset())
    rows = content.index(b"\x28\x00\x10\x00US")
    return content[:rows] + inserted + content[rows:]


def implicit_with_long_first_element() -> bytes:
    """Return an implicit-VR file whose first length reads as two capitals."""
    content = saved(ct_dataset(ImplicitVRLittleEndian))
    first = content.index(b"\x08\x00\x16\x00")
    element = struct.pack("<HHI", 0x0009, 0x1001, 0x4141) + bytes(0x4141)
    return content[:first] + element + content[first:]


# Content that pydicom parses while reading, so the walker must agree or decline.
CRAFTED = {
    "item delimiter at top level": before_rows(ITEM_END),
    "defined item of junk": before_rows(
        explicit_element(0x00081140, b"SQ", None)
        + b"\xfe\xff\x00\xe0\x0c\x00\x00\x00"
        + b"X" * 12
        + SEQUENCE_END
    ),
    "sequence inside undefined OB": before_rows(
        explicit_element(0x00420011, b"OB", None)
        + ITEM
        + NESTED
        + ITEM_END
        + SEQUENCE_END
    ),
    "encapsulated OB": before_rows(
        explicit_element(0x00420011, b"OB", None)
        + b"\xfe\xff\x00\xe0\x04\x00\x00\x00abcd"
        + SEQUENCE_END
    ),
    "undefined OB without delimiter": before_rows(
        explicit_element(0x00420011, b"OB", None) + b"no delimiter follows"
    ),
    "NUL in character set": before_rows(
        explicit_element(0x00080005, b"CS", b"ISO_IR\x00100")
    ),
    "implicit file that looks explicit": implicit_with_long_first_element(),
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_walker_matches_pydicom_on_crafted(name):
    content = CRAFTED[name]
    assert header_fields(content, walk=True) == header_fields(content, walk=False)


def test_header_of_walked_file_reports_truncated_pixels():
    content = saved(ct_dataset())
    record = header_fields(content[:-10], walk=True)
    assert record["error"].startswith("truncated: the pixel data end at byte")
