"""Read DICOM and NIfTI headers for a verify scan, without reading pixel data.

DICOM files with a preamble are first read by the element walker of
`biovfm_utils.dicom_attributes`, which covers the common little-endian transfer
syntaxes. Every other DICOM file is parsed by pydicom up to the pixel data
element (``stop_before_pixels=True``). The pixel data element's own tag and
length are then read by hand, to check that the file contains all the bytes it
declares.

NIfTI is parsed by nibabel's header class alone. A volume's ``frames`` are its
slices along the voxel axis closest to the superior-inferior direction of the
affine (axial slices, as `biovfm_utils.nifti` shows them), times the volumes of
any fourth and higher dimension. ``width`` and ``height`` are the two in-plane
axes, left-right before anterior-posterior.
"""

from __future__ import annotations

import math
import struct
from typing import BinaryIO

import numpy as np

from biovfm_utils.dicom_attributes import (
    LONG_VRS,
    PIXEL_DATA_TAGS,
    SEQUENCE_DELIMITER_BYTES,
    UNDEFINED_LENGTH,
    read_image_attributes,
)
from biovfm_utils.headers import ContentExtent, HeaderError

# Attributes that a forced read must find before content counts as DICOM.
_DICOM_EVIDENCE = ("SOPClassUID", "Rows", "Columns")
_SUPERIOR = 2  # world axes of a NIfTI affine: 0 = R, 1 = A, 2 = S


def read_dicom_header(
    stream: BinaryIO, extent: ContentExtent, *, force: bool = False, walk: bool = True
) -> dict | None:
    """Read the image attributes of a DICOM file up to its pixel data.

    With ``force=True`` the content has no DICOM preamble, and None is returned
    when pydicom cannot parse it or finds none of Rows, Columns and SOP Class UID.
    With ``walk=False`` every file is parsed by pydicom, which gives the same
    result more slowly.

    Raises
    ------
    HeaderError
        For a damaged header, a dataset without Rows and Columns (not an image),
        or pixel data that run past the end of the file.
    """
    if walk and not force and not extent.gzip:
        attributes = read_image_attributes(stream, extent.size)
        if attributes is not None:
            record = _dicom_record(
                rows=attributes.rows,
                columns=attributes.columns,
                frames=attributes.number_of_frames,
                bits=attributes.bits_stored or attributes.bits_allocated,
                photometric=attributes.photometric_interpretation,
            )
            stream.seek(attributes.pixel_data_offset)
            record["error"] = _check_pixel_data(stream, extent)
            return record
        stream.seek(0)

    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(stream, stop_before_pixels=True, force=force)
        if force and not any(keyword in dataset for keyword in _DICOM_EVIDENCE):
            return None
        rows = dataset.get("Rows")
        columns = dataset.get("Columns")
        frames = dataset.get("NumberOfFrames")
        bits = dataset.get("BitsStored") or dataset.get("BitsAllocated")
        photometric = dataset.get("PhotometricInterpretation")
        sop_class = dataset.get("SOPClassUID")
    except Exception as error:
        # A forced read of arbitrary binary content can fail in any way, and
        # every failure means the content is not DICOM.
        if force:
            return None
        if not isinstance(
            error, (InvalidDicomError, OSError, EOFError, ValueError, struct.error)
        ):
            raise
        raise HeaderError(
            "damaged", f"the DICOM header could not be read ({error})", "DICOM"
        ) from error
    if not rows or not columns:
        kind = f" ({sop_class.name})" if sop_class else ""
        raise HeaderError(
            "not an image", f"a DICOM dataset{kind} without Rows and Columns", "DICOM"
        )

    record = _dicom_record(rows, columns, frames, bits, photometric)
    record["error"] = _check_pixel_data(stream, extent)
    return record


def _dicom_record(rows, columns, frames, bits, photometric) -> dict:
    """Return the header fields of a DICOM image, from its attribute values."""
    return {
        "format": "DICOM",
        "width": int(columns),
        "height": int(rows),
        "frames": int(frames) if frames else 1,
        "bit_depth": int(bits) if bits else None,
        "colour_mode": str(photometric) if photometric else None,
    }


def _check_pixel_data(stream: BinaryIO, extent: ContentExtent) -> str | None:
    """Check that the pixel data element at the stream's position is complete."""
    start = stream.tell()
    element = stream.read(12)
    if len(element) < 8:
        return "truncated: the DICOM file ends before its pixel data"
    # Big Endian Explicit VR is retired but still found in old archives.
    for order in "<>":
        group, number = struct.unpack(f"{order}HH", element[:4])
        if (group << 16) | number in PIXEL_DATA_TAGS:
            break
    else:
        group, number = struct.unpack("<HH", element[:4])
        return f"damaged: element ({group:04X},{number:04X}) where pixel data belong"

    if element[4:6] in LONG_VRS:
        header_size = 12
        length = struct.unpack(f"{order}I", element[8:12])[0]
    else:
        header_size = 8
        length = struct.unpack(f"{order}I", element[4:8])[0]

    if length != UNDEFINED_LENGTH:
        return extent.check_end(start + header_size + length, "the pixel data")
    if extent.gzip:
        return None
    # Encapsulated (compressed) frames end with a sequence delimitation item.
    stream.seek(max(start, extent.size - 64))
    if SEQUENCE_DELIMITER_BYTES not in stream.read(64):
        return "truncated: the encapsulated pixel data have no end delimiter"
    return None


def read_nifti_header(head: bytes, format_name: str, extent: ContentExtent) -> dict:
    """Read the shape, data type and voxel data extent of a NIfTI-1 or NIfTI-2 file.

    ``head`` is the start of the (uncompressed) content, at least as long as
    the header: 348 bytes for NIfTI-1 and 540 for NIfTI-2. Header extensions
    are not read.

    Raises
    ------
    HeaderError
        For a header that nibabel rejects, or data with fewer than two axes.
    """
    import nibabel
    from nibabel.spatialimages import HeaderDataError

    header_class = (
        nibabel.Nifti1Header if format_name == "NIfTI-1" else nibabel.Nifti2Header
    )
    try:
        block = head[: header_class.template_dtype.itemsize]
        header = header_class(block, check=True)
        shape = tuple(int(length) for length in header.get_data_shape())
        dtype = header.get_data_dtype()
        data_offset = int(header.get_data_offset())
        affine = header.get_best_affine()
    except (HeaderDataError, OSError, EOFError, ValueError, struct.error) as error:
        raise HeaderError(
            "damaged",
            f"the {format_name} header could not be read ({error})",
            format_name,
        ) from error
    if len(shape) < 2:
        raise HeaderError(
            "not an image", f"{format_name} data of shape {shape}", format_name
        )

    width, height, slices = oriented_extent(shape, affine)
    channels = len(dtype.fields) if dtype.fields else 1
    colour_mode = channel_colour_mode(channels)
    record = {
        "format": format_name,
        "width": width,
        "height": height,
        "frames": slices * math.prod(shape[3:]),
        "bit_depth": int(header["bitpix"]) // channels,
        "colour_mode": colour_mode,
    }
    data_end = data_offset + math.prod(shape) * dtype.itemsize
    # NIfTI files end with their voxel data.
    record["error"] = extent.check_end(data_end, "the voxel data", last=True)
    return record


def channel_colour_mode(channels: int) -> str:
    """Return the colour mode of a volume with ``channels`` samples per voxel."""
    return {1: "greyscale", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels}-channel")


def oriented_extent(shape: tuple[int, ...], affine) -> tuple[int, int, int]:
    """Return (width, height, slices) with slices along the superior axis.

    The slice axis is the voxel axis whose direction in the affine is closest to
    superior-inferior, and the in-plane axes are ordered right-left before
    anterior-posterior. For the axis-aligned and mildly oblique affines of
    clinical data this is the assignment of nibabel's ``io_orientation``, at a
    fraction of its cost, which matters in a scan of millions of headers. The
    3 x 3 arithmetic is plain Python, which is faster than NumPy at this size.
    """
    spatial = list(shape[:3]) + [1] * (3 - min(3, len(shape)))
    rows = np.asarray(affine, dtype=float)[:3, :3].tolist()
    columns = [[rows[world][axis] for world in range(3)] for axis in range(3)]
    norms = [math.hypot(*column) for column in columns]
    finite = all(math.isfinite(value) for row in rows for value in row)
    if len(shape) == 2 or not finite or 0 in norms:
        # 2-D data, or a degenerate affine: use the voxel axes as stored.
        return spatial[0], spatial[1], spatial[2]

    # cosines[axis][world]: how closely each voxel axis follows each world axis.
    cosines = [
        [abs(value) / norm for value in column] for column, norm in zip(columns, norms)
    ]
    # max() and index() take the first of equal values, as np.argmax does.
    slice_axis = max(range(3), key=lambda axis: cosines[axis][_SUPERIOR])
    in_plane = sorted(
        (axis for axis in range(3) if axis != slice_axis),
        key=lambda axis: cosines[axis].index(max(cosines[axis][:_SUPERIOR])),
    )
    return spatial[in_plane[0]], spatial[in_plane[1]], spatial[slice_axis]
