"""Read the header of a PNG, JPEG, TIFF, GIF, BMP, WebP, JPEG 2000 or Netpbm file.

`PIL.Image.open` parses the header and decodes nothing until pixels are requested,
which this module never does. The bit depth is bits per sample: from the PNG
IHDR chunk, the TIFF BitsPerSample tag, the JPEG SOF precision or the PGM and PPM
maximum value where present, otherwise from the Pillow mode.

A file cut short can still have an intact header. So PNG, JPEG and GIF files
are also checked for their end marker in the last kilobyte, and TIFF files for
strips or tiles that end past the end of the file.
"""

from __future__ import annotations

import re
import struct
import threading
from typing import BinaryIO

from biovfm_utils.headers import ContentExtent, HeaderError
from biovfm_utils.pillow_formats import PILLOW_FORMATS

# The end markers of PNG, JPEG and GIF files are searched for in this many
# final bytes, which leaves room for short trailing padding.
_TAIL_SIZE = 1024


# Bits per sample of each Pillow mode, used where the header gives no better
# value. Pillow widens some stored depths, for example a 16-bit PGM opens as "I".
_MODE_BITS = {
    "1": 1,
    "L": 8,
    "P": 8,
    "LA": 8,
    "La": 8,
    "PA": 8,
    "RGB": 8,
    "RGBA": 8,
    "RGBa": 8,
    "RGBX": 8,
    "CMYK": 8,
    "YCbCr": 8,
    "LAB": 8,
    "HSV": 8,
    "I;16": 16,
    "I;16L": 16,
    "I;16B": 16,
    "I;16N": 16,
    "I": 32,
    "F": 32,
}

_TIFF_BITS_PER_SAMPLE = 258
_TIFF_DATA_TAGS = ((273, 279), (324, 325))  # strip and tile (offsets, byte counts)

# Image.MAX_IMAGE_PIXELS is process-wide. The lock keeps two threads from
# restoring it out of order in `_open_lazy`.
_PIXEL_LIMIT_LOCK = threading.Lock()


def read_pillow_header(
    stream: BinaryIO, format_name: str, head: bytes, extent: ContentExtent
) -> dict:
    from PIL import UnidentifiedImageError

    if format_name not in PILLOW_FORMATS:
        raise HeaderError("unsupported", f"{format_name} is not read", format_name)
    try:
        with _open_lazy(stream, PILLOW_FORMATS[format_name]) as image:
            width, height = image.size
            mode = image.mode
            frames = _frame_count(image, format_name)
            bit_depth = _pillow_bit_depth(image, format_name, head)
            data_end = _tiff_data_end(image) if format_name == "TIFF" else None
    except UnidentifiedImageError as error:
        raise HeaderError(
            "damaged", f"Pillow could not parse the {format_name} header", format_name
        ) from error
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        struct.error,
        KeyError,
        IndexError,
    ) as error:
        raise HeaderError(
            "damaged",
            f"the {format_name} header could not be read ({error})",
            format_name,
        ) from error

    record = {
        "format": format_name,
        "width": width,
        "height": height,
        "frames": frames,
        "bit_depth": bit_depth,
        "colour_mode": mode,
    }
    if data_end is not None:
        record["error"] = extent.check_end(data_end, "the TIFF strips or tiles")
    elif not extent.gzip:
        record["error"] = _check_end_marker(stream, format_name, extent.size)
    return record


def _open_lazy(stream: BinaryIO, pillow_format: str):
    """Open an image with Pillow, which parses the header and decodes nothing."""
    from PIL import Image

    try:
        return Image.open(stream, formats=[pillow_format])
    except Image.DecompressionBombError:
        # The pixel limit guards decoding, which a header read never does.
        with _PIXEL_LIMIT_LOCK:
            limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                stream.seek(0)
                return Image.open(stream, formats=[pillow_format])
            finally:
                Image.MAX_IMAGE_PIXELS = limit


def _frame_count(image, format_name: str) -> int:
    # Pillow counts TIFF pages by reading every directory in the chain. A first
    # directory that links to no next one means a single page, at no cost.
    if format_name == "TIFF" and not image.tag_v2.next:
        return 1
    return getattr(image, "n_frames", 1)


def _pillow_bit_depth(image, format_name: str, head: bytes) -> int | None:
    if format_name == "PNG" and len(head) > 24:
        return head[24]  # bit depth byte of the IHDR chunk
    if format_name in ("PGM", "PPM"):
        return _netpbm_bit_depth(head)
    if format_name == "TIFF":
        bits = image.tag_v2.get(_TIFF_BITS_PER_SAMPLE)
        if isinstance(bits, tuple):
            bits = bits[0] if bits else None
        if bits:
            return int(bits)
    if format_name == "JPEG" and getattr(image, "bits", None):
        return int(image.bits)  # sample precision from the SOF marker
    return _MODE_BITS.get(image.mode)


def _netpbm_bit_depth(head: bytes) -> int | None:
    """Return the bits needed for the maximum value of a PGM or PPM header."""
    # The header is the magic number, width, height and maximum value, separated
    # by whitespace, with comments from "#" to the end of a line.
    fields = re.sub(rb"#[^\n]*", b" ", head[2:512]).split()
    if len(fields) < 3 or not fields[2].isdigit():
        return None
    return int(fields[2]).bit_length()


def _tiff_data_end(image) -> int | None:
    """Return the end of the first page's image data, from its offset tags."""
    for offsets_tag, counts_tag in _TIFF_DATA_TAGS:
        offsets = image.tag_v2.get(offsets_tag)
        counts = image.tag_v2.get(counts_tag)
        if offsets is None or counts is None:
            continue
        if not isinstance(offsets, tuple):
            offsets, counts = (offsets,), (counts,)
        return max(
            (offset + count for offset, count in zip(offsets, counts)), default=0
        )
    return None


def _check_end_marker(stream: BinaryIO, format_name: str, size: int) -> str | None:
    """Return an error string if a PNG, JPEG or GIF file lacks its end marker."""
    markers = {
        "PNG": (b"IEND", "the PNG end chunk (IEND) is missing"),
        "JPEG": (b"\xff\xd9", "the JPEG end-of-image marker is missing"),
        "GIF": (b";", "the GIF trailer is missing"),
    }
    if format_name not in markers:
        return None
    marker, message = markers[format_name]
    stream.seek(max(0, size - _TAIL_SIZE))
    tail = stream.read(_TAIL_SIZE)
    if format_name == "GIF":
        found = tail.rstrip(b"\0").endswith(marker)
    else:
        found = marker in tail
    return None if found else f"truncated: {message}"
