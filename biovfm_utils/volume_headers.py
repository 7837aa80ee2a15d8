"""Read the shape of NRRD volumes and FastMRI HDF5 files without reading voxels.

NRRD is the format of TDSC-ABUS and other ultrasound and MR volumes. Its text
header is parsed by pynrrd. A volume's ``frames`` are its slices along the axis
closest to superior-inferior, as for NIfTI (`biovfm_utils.medical_headers`),
times the size of every time or list axis. Other non-spatial axes, such as
colour, vector or tensor axes, are the components of a voxel. For attached data
the header also gives the data extent: raw data are checked against the file
size, and gzip data against the gzip trailer.

FastMRI distributes each scan as one HDF5 file, opened here with h5py. Its
``kspace`` dataset has one slice per entry of the first axis, and the
``reconstruction_rss`` or ``reconstruction_esc`` images of the training and
validation sets give the image size. HDF5 files of other layouts are recorded
as unsupported, because in general the datasets that contain images cannot be
distinguished from labels and metadata.
"""

from __future__ import annotations

import math
from typing import BinaryIO

import numpy as np

from biovfm_utils.headers import ContentExtent, HeaderError, gzip_extent
from biovfm_utils.medical_headers import channel_colour_mode, oriented_extent

# A NRRD header longer than this is treated as damaged.
_MAX_NRRD_HEADER = 1 << 20
_READ_SIZE = 65536

# Bits per sample of each NRRD type name (NRRD format specification, "type").
_NRRD_TYPE_BITS = {
    **dict.fromkeys(("signed char", "int8", "int8_t"), 8),
    **dict.fromkeys(("uchar", "unsigned char", "uint8", "uint8_t"), 8),
    **dict.fromkeys(
        ("short", "short int", "signed short", "signed short int", "int16", "int16_t"),
        16,
    ),
    **dict.fromkeys(
        (
            "ushort",
            "unsigned short",
            "unsigned short int",
            "uint16",
            "uint16_t",
        ),
        16,
    ),
    **dict.fromkeys(("int", "signed int", "int32", "int32_t"), 32),
    **dict.fromkeys(("uint", "unsigned int", "uint32", "uint32_t"), 32),
    **dict.fromkeys(
        (
            "longlong",
            "long long",
            "long long int",
            "signed long long",
            "signed long long int",
            "int64",
            "int64_t",
        ),
        64,
    ),
    **dict.fromkeys(
        (
            "ulonglong",
            "unsigned long long",
            "unsigned long long int",
            "uint64",
            "uint64_t",
        ),
        64,
    ),
    "float": 32,
    "double": 64,
}
# NRRD axis kinds (Teem's nrrdKind list) whose axes multiply the number of
# images: time points and lists. Any other kind that is not spatial, such as
# "RGB-color", "3-vector" or "3D-symmetric-matrix", is taken for the
# components of one voxel.
_REPEAT_KINDS = {"time", "list"}
# NRRD axis kinds of spatial axes. "domain" is also the kind of an axis
# without one.
_SPATIAL_KINDS = {"domain", "space"}
# FastMRI datasets of reconstructed images, in order of preference.
_FASTMRI_IMAGES = ("reconstruction_rss", "reconstruction_esc")


def read_nrrd_header(stream: BinaryIO, extent: ContentExtent) -> dict:
    """Read the shape, sample type and data extent of a NRRD file.

    Raises
    ------
    HeaderError
        For a header that pynrrd rejects, one without an end, or an unknown
        sample type.
    """
    import nrrd

    header_bytes, data_start = _nrrd_header_bytes(stream)
    try:
        lines = header_bytes.decode("latin-1").splitlines()
        fields = nrrd.read_header(lines)
        sizes = [int(size) for size in fields["sizes"]]
        type_name = fields["type"]
    except (nrrd.NRRDError, KeyError, ValueError, TypeError) as error:
        raise HeaderError(
            "damaged", f"the NRRD header could not be read ({error})", "NRRD"
        ) from error
    if min(sizes, default=0) < 1:
        raise HeaderError("damaged", f"invalid NRRD sizes {tuple(sizes)}", "NRRD")
    attached = not (fields.get("data file") or fields.get("datafile"))
    if attached and data_start is None:
        raise HeaderError(
            "truncated",
            "the NRRD header ends with the file, without the empty line before "
            "its data",
            "NRRD",
        )
    if type_name not in _NRRD_TYPE_BITS:
        raise HeaderError(
            "unsupported", f"NRRD samples of type {type_name!r} are not read", "NRRD"
        )

    width, height, frames, channels = _nrrd_layout(fields, sizes)
    n_bytes = math.prod(sizes) * _NRRD_TYPE_BITS[type_name] // 8
    if attached:
        error = _check_nrrd_data(stream, fields, extent, data_start, n_bytes)
    else:
        error = None  # NOTE: the detached data file is not checked
    return {
        "format": "NRRD",
        "width": width,
        "height": height,
        "frames": frames,
        "bit_depth": _NRRD_TYPE_BITS[type_name],
        "colour_mode": channel_colour_mode(channels),
        "error": error,
    }


def _nrrd_header_bytes(stream: BinaryIO) -> tuple[bytes, int | None]:
    """Return the header's bytes and the offset at which attached data start.

    The header ends at its first empty line, and lines end with LF or CR LF.
    The offset is None for a header that ends with the file and has no empty
    line, as a detached header (.nhdr) may.
    """
    stream.seek(0)
    content = b""
    line_start = 0
    while len(content) < _MAX_NRRD_HEADER:
        chunk = stream.read(_READ_SIZE)
        content += chunk
        while (line_end := content.find(b"\n", line_start)) >= 0:
            if content[line_start:line_end].rstrip(b"\r") == b"":
                return content[:line_start], line_end + 1
            line_start = line_end + 1
        if not chunk:
            return content, None
    raise HeaderError(
        "damaged",
        f"the NRRD header has no end in its first {_MAX_NRRD_HEADER:,} bytes",
        "NRRD",
    )


def _nrrd_layout(fields: dict, sizes: list[int]) -> tuple[int, int, int, int]:
    """Return (width, height, frames, channels) of a NRRD volume."""
    kinds = list(fields.get("kinds") or [])
    kinds += ["domain"] * (len(sizes) - len(kinds))
    channel_axes = [
        axis
        for axis, kind in enumerate(kinds)
        if kind not in _SPATIAL_KINDS and kind not in _REPEAT_KINDS
    ]
    channels = math.prod(sizes[axis] for axis in channel_axes)

    directions = fields.get("space directions")
    if directions is not None:
        directions = np.asarray(directions, dtype=float)
        if directions.ndim != 2 or len(directions) != len(sizes):
            raise HeaderError(
                "damaged",
                f"the NRRD header gives {len(directions)} space directions for "
                f"{len(sizes)} axes",
                "NRRD",
            )
        spatial_axes = [
            axis
            for axis in range(len(sizes))
            if axis not in channel_axes and np.all(np.isfinite(directions[axis]))
        ]
    else:
        # Without directions, the kinds tell space from time and list axes.
        spatial_axes = [
            axis for axis, kind in enumerate(kinds) if kind in _SPATIAL_KINDS
        ][:3]
    if len(spatial_axes) < 2:
        raise HeaderError("not an image", f"NRRD data of sizes {tuple(sizes)}", "NRRD")

    spatial_sizes = tuple(sizes[axis] for axis in spatial_axes)
    affine = np.eye(4)
    if directions is not None and len(spatial_axes) == 3 and directions.shape[1] == 3:
        # Columns of the affine are the world directions of the voxel axes.
        affine[:3, :3] = directions[spatial_axes].T
    width, height, slices = oriented_extent(spatial_sizes, affine)
    others = [
        sizes[axis]
        for axis in range(len(sizes))
        if axis not in spatial_axes and axis not in channel_axes
    ]
    return width, height, slices * math.prod(others), channels


def _check_nrrd_data(
    stream: BinaryIO, fields: dict, extent: ContentExtent, start: int, n_bytes: int
) -> str | None:
    """Return an error string if attached NRRD data are cut short."""
    skips = any(
        fields.get(name) for name in ("line skip", "lineskip", "byte skip", "byteskip")
    )
    if skips or extent.gzip:
        return None  # the data start is not known, or not checkable inside gzip
    encoding = fields.get("encoding", "raw")
    if encoding == "raw":
        return extent.check_end(start + n_bytes, "the voxel data")
    if encoding in ("gzip", "gz"):
        data_extent = gzip_extent(stream, extent.size, start)
        return data_extent.check_end(n_bytes, "the voxel data", last=True)
    return None  # ASCII, hex and bzip2 data have no size to check


def read_hdf5_header(stream: BinaryIO, extent: ContentExtent) -> dict:
    """Read the slices and image size of a FastMRI HDF5 file.

    Raises
    ------
    HeaderError
        For a truncated or damaged file, or one without a FastMRI ``kspace``
        dataset (unsupported).
    """
    import h5py

    stream.seek(0)
    try:
        with h5py.File(stream, "r") as file:
            names = list(file.keys())
            datasets = {
                name: (item.shape, item.dtype)
                for name, item in file.items()
                if isinstance(item, h5py.Dataset)
            }
    except OSError as error:
        kind = "truncated" if "truncated file" in str(error) else "damaged"
        raise HeaderError(
            kind, f"the HDF5 file could not be opened ({error})", "HDF5"
        ) from error

    if "kspace" not in datasets:
        listed = ", ".join(sorted(names)) or "none"
        raise HeaderError(
            "unsupported",
            "HDF5 files are read only in the FastMRI layout, with a kspace "
            f"dataset at the top level; this one has at the top level: {listed}",
            "HDF5",
        )
    kspace_shape, kspace_dtype = datasets["kspace"]
    _check_fastmri_shape("kspace", kspace_shape, "(slices, [coils,] height, width)")
    image = next((name for name in _FASTMRI_IMAGES if name in datasets), None)
    if image is not None:
        shape, dtype = datasets[image]
        _check_fastmri_shape(image, shape, "(slices, height, width)")
        colour_mode = "greyscale"
    else:
        shape, dtype, colour_mode = kspace_shape, kspace_dtype, "complex k-space"
    components = 2 if dtype.kind == "c" else 1
    return {
        "format": "HDF5 (FastMRI)",
        "width": int(shape[-1]),
        "height": int(shape[-2]),
        "frames": int(kspace_shape[0]),
        "bit_depth": dtype.itemsize * 8 // components,
        "colour_mode": colour_mode,
        "error": None,
    }


def _check_fastmri_shape(name: str, shape: tuple | None, expected: str) -> None:
    # h5py gives None for the shape of a dataset without a dataspace.
    if shape is None or len(shape) < 3:
        raise HeaderError(
            "damaged",
            f"the FastMRI {name} dataset has shape {shape}, not {expected}",
            "HDF5",
        )
