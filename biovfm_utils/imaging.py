"""Decode image files into display-ready arrays with metadata.

`load_image` reads PNG, JPEG, TIFF, PBM/PGM/PPM/PFM, GIF, BMP, WebP and JPEG 2000
through Pillow, DICOM through pydicom and NIfTI-1/NIfTI-2 through nibabel, each
optionally gzip-compressed. The format is detected from the file's signature, never
from its name. This module reads local files and bytes only.

Display rules shared by all formats:

- Greyscale data without a window are stretched linearly from the frame's own
  minimum (shown as 0) to its maximum (shown as 255). A full-range mapping would
  show 12-bit data stored in 16-bit containers nearly black. Only 8-bit greyscale
  read by Pillow is shown as stored.
- Alpha is composited on white, the background of the book's pages.
- Multi-frame files and volumes show one frame, by default the middle one
  (``n_frames // 2``).

The format readers live in `biovfm_utils.dicom`, `biovfm_utils.nifti` and
`biovfm_utils.pillow_formats`. pydicom, nibabel and Pillow are imported only when a
file needs them.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import zlib
from pathlib import Path

from biovfm_utils import dicom
from biovfm_utils.dicom import MissingDecoderError
from biovfm_utils.display import (
    CorruptImageError,
    DisplayImage,
    FrameIndexError,
    Histogram,
    ImageMetadata,
    ImageNotFoundError,
    ImageSource,
    ImagingError,
    UnrecognizedFormatError,
    UnsupportedImageError,
    apply_window,
    intensity_histogram,
    replace_metadata,
)
from biovfm_utils.signatures import describe_content, detect_format

__all__ = [
    "CorruptImageError",
    "DisplayImage",
    "FrameIndexError",
    "Histogram",
    "ImageMetadata",
    "ImageNotFoundError",
    "ImagingError",
    "MissingDecoderError",
    "UnrecognizedFormatError",
    "UnsupportedImageError",
    "apply_window",
    "detect_format",
    "intensity_histogram",
    "load_image",
    "try_load_image",
]

logger = logging.getLogger(__name__)

# Enough for every signature, including the NIfTI-1 magic at byte 344.
_HEAD_SIZE = 4096


def load_image(
    source: str | os.PathLike | bytes,
    *,
    index: int | None = None,
    name: str | None = None,
    window: tuple[float, float] | None = None,
) -> DisplayImage:
    """Decode an image file into a display-ready frame with metadata.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        Path of the file, or its content.
    index : int, optional
        0-based frame (DICOM, TIFF, GIF) or slice (NIfTI) to show. Defaults to the
        middle one, ``n_frames // 2``.
    name : str, optional
        File name for messages and the caption. Required when `source` is bytes.
    window : (float, float), optional
        Window center and width in the units of ``values``. It replaces the
        file's own window or the min-max stretch. Colour images ignore it.

    Returns
    -------
    DisplayImage

    Raises
    ------
    ImageNotFoundError
        If the path does not exist or is not a file.
    UnrecognizedFormatError
        If the content is not a supported image, for example an HTML page.
    CorruptImageError
        If the file is truncated or damaged.
    MissingDecoderError
        If a DICOM transfer syntax needs a decoder package that is not installed.
    UnsupportedImageError
        If the file is valid but cannot be shown, for example DICOM without pixels.
    FrameIndexError
        If `index` is outside the frames or slices.
    TypeError
        If `source` is bytes and `name` is missing.
    ValueError
        If the width of `window` is below 1.
    """
    src = _as_source(source, name)
    head = src.head(_HEAD_SIZE)
    format_name = detect_format(head)
    compressed = format_name == "gzip"
    if compressed:
        src = ImageSource(src.file_name, data=_gunzip(src))
        head = src.data[:_HEAD_SIZE]
        format_name = detect_format(head)

    if format_name == "DICOM":
        image = dicom.read_dicom(src, index=index, window=window)
    elif format_name in ("NIfTI-1", "NIfTI-2"):
        from biovfm_utils import nifti

        image = nifti.read_nifti(src, format_name, index=index, window=window)
    elif format_name is None or format_name == "gzip":
        image = _read_unrecognised(src, head, index=index, window=window)
    else:
        from biovfm_utils import pillow_formats

        image = pillow_formats.read_pillow(
            src, format_name, head, index=index, window=window
        )

    if compressed:
        image = replace_metadata(image, format=f"{image.metadata.format} (gzip)")
    return image


def try_load_image(
    source: str | os.PathLike | bytes, **kwargs
) -> DisplayImage | ImagingError:
    """Call `load_image` and return its ImagingError instead of raising it.

    Notebooks use this to show ``error.note()`` in an admonition. The error is
    logged at WARNING level. Other exceptions, such as a TypeError for bytes without
    ``name``, still propagate.
    """
    try:
        return load_image(source, **kwargs)
    except ImagingError as error:
        logger.warning("could not display image: %s", error)
        return error


def _as_source(source: str | os.PathLike | bytes, name: str | None) -> ImageSource:
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not name:
            raise TypeError("load_image() needs name= when source is bytes")
        return ImageSource(name, data=bytes(source))

    path = Path(source)
    file_name = name or path.name
    if not path.is_file():
        reason = "is a directory, not a file" if path.is_dir() else "file not found"
        raise ImageNotFoundError(file_name, f"{reason} ({path})")
    return ImageSource(file_name, path=path)


#: Largest decompressed size of a gzip file that load_image reads into memory.
MAX_GUNZIPPED_BYTES = 2 * 1024**3


def _gunzip(src: ImageSource) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(src.read())) as stream:
            data = stream.read(MAX_GUNZIPPED_BYTES + 1)
    except (EOFError, OSError, zlib.error) as error:
        raise CorruptImageError(
            src.file_name, f"the gzip data are truncated or damaged ({error})"
        ) from error
    if len(data) > MAX_GUNZIPPED_BYTES:
        raise UnsupportedImageError(
            src.file_name,
            f"the gzip data expand to more than {MAX_GUNZIPPED_BYTES // 1024**3} GiB",
            "Decompress the file yourself and load one slice of it.",
        )
    return data


def _read_unrecognised(src: ImageSource, head: bytes, *, index, window) -> DisplayImage:
    """Read DICOM without a preamble, or raise an error that describes the content."""
    description = describe_content(head)
    if description.could_be_dicom:
        image = dicom.read_dicom(src, index=index, window=window, force=True)
        if image is not None:
            return image
    raise UnrecognizedFormatError(src.file_name, description.reason, description.hint)
