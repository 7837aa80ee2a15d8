"""Read PNG, JPEG, TIFF, Netpbm, GIF, BMP, WebP and JPEG 2000 images through Pillow.

Every Pillow mode becomes (H, W) or (H, W, 3) uint8 display levels:

- "L" is shown as stored. "1" becomes 0 and 255.
- "I;16", "I;16L", "I;16B", "I;16N", "I" (32-bit integer) and "F" (32-bit float)
  are stretched from the frame's minimum to its maximum, or through ``window``.
- "LA", "La", "RGBA", "RGBa", "PA" and images with a "transparency" entry (palette
  or tRNS) are composited on white.
- "P" goes through its palette, and "RGBX", "CMYK", "YCbCr", "LAB" and "HSV" are
  converted by Pillow, all to RGB.

NOTE: embedded ICC profiles are ignored, so colours are shown as if they were sRGB.
"""

from __future__ import annotations

import re

import numpy as np

from biovfm_utils.display import (
    CorruptImageError,
    DisplayImage,
    ImageSource,
    UnsupportedImageError,
    choose_frame,
    composite_on_white,
    greyscale_levels,
    make_image,
)

# Pillow's names for the formats that `detect_format` returns.
PILLOW_FORMATS = {
    "PNG": "PNG",
    "JPEG": "JPEG",
    "TIFF": "TIFF",
    "GIF": "GIF",
    "BMP": "BMP",
    "WebP": "WEBP",
    "JPEG 2000": "JPEG2000",
    "PBM": "PPM",
    "PGM": "PPM",
    "PPM": "PPM",
    "PFM": "PPM",
}
# Greyscale modes deeper than 8 bits, with their bit depth.
_HIGH_DEPTH_MODES = {
    "I;16": 16,
    "I;16L": 16,
    "I;16B": 16,
    "I;16N": 16,
    "I": 32,
    "F": 32,
}
_ALPHA_MODES = ("LA", "La", "RGBA", "RGBa", "PA")
_EXIF_ORIENTATION = 0x0112
_TIFF_BITS_PER_SAMPLE = 258


def read_pillow(
    src: ImageSource,
    format_name: str,
    head: bytes,
    *,
    index: int | None,
    window: tuple[float, float] | None,
) -> DisplayImage:
    """Decode one frame with Pillow, after applying its EXIF orientation.

    `format_name` is the result of `detect_format`, and `head` the file's first
    bytes, which give the bit depth of PNG and Netpbm files.
    """
    from PIL import Image, ImageOps

    try:
        formats = [PILLOW_FORMATS[format_name]]
        with src.open() as stream, Image.open(stream, formats=formats) as image:
            n_frames = getattr(image, "n_frames", 1)
            frame_index = choose_frame(index, n_frames, src.file_name, "frame")
            if n_frames > 1:
                image.seek(frame_index)
            orientation = image.getexif().get(_EXIF_ORIENTATION)
            bits = _bit_depth(image, format_name, head)
            # exif_transpose returns a loaded copy, so decoding errors show here.
            frame = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as error:
        raise UnsupportedImageError(
            src.file_name,
            f"the image is larger than Pillow's limit ({error})",
            "If you trust the file, raise PIL.Image.MAX_IMAGE_PIXELS before loading",
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise CorruptImageError(
            src.file_name,
            f"the {format_name} data are truncated or damaged ({error})",
            "Download or copy the file again",
        ) from error

    pixels, values, scaling = _frame_arrays(frame, window, src.file_name)
    return make_image(
        pixels,
        values,
        file_name=src.file_name,
        format=format_name,
        bits_stored=bits,
        colour_mode=frame.mode,
        n_frames=n_frames,
        frame_index=frame_index if n_frames > 1 else None,
        exif_orientation=orientation,
        **scaling,
    )


def _frame_arrays(frame, window, name: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return display levels, values and scaling metadata for one Pillow frame."""
    mode = frame.mode
    has_transparency = "transparency" in frame.info

    if mode in _HIGH_DEPTH_MODES:
        values = np.asarray(frame)
        values = values.astype(values.dtype.newbyteorder("="))  # I;16B is big-endian
        pixels, scaling = greyscale_levels(values, window)
        return pixels, values, scaling

    if mode == "1":
        values = np.asarray(frame, dtype=np.uint8)
        return values * np.uint8(255), values, {}

    if mode == "L" and not has_transparency:
        values = np.asarray(frame)
        if window is None:
            return values, values, {}
        pixels, scaling = greyscale_levels(values, window)
        return pixels, values, scaling

    if mode in ("L", "LA", "La"):
        values = composite_on_white(_converted(frame, "LA", name))
    elif mode in _ALPHA_MODES or has_transparency:
        values = composite_on_white(_converted(frame, "RGBA", name))
    else:
        values = _converted(frame, "RGB", name)
    return values, values, {}


def _converted(frame, mode: str, name: str) -> np.ndarray:
    """Convert a Pillow frame to `mode` and return it as an array."""
    try:
        return np.asarray(frame.convert(mode))
    except ValueError as error:
        raise UnsupportedImageError(
            name, f"Pillow cannot convert mode {frame.mode!r} to {mode} ({error})"
        ) from error


def _bit_depth(image, format_name: str, head: bytes) -> int:
    """Return the bits per sample stored in the file.

    This may exceed the depth of ``values``: Pillow reads 16-bit RGB as 8 bits per
    channel.
    """
    if format_name == "PNG" and head[12:16] == b"IHDR":
        return head[24]
    if format_name == "TIFF":
        bits = image.tag_v2.get(_TIFF_BITS_PER_SAMPLE)
        if isinstance(bits, tuple) and bits:
            return int(bits[0])
        if bits:
            return int(bits)
    if format_name in ("PGM", "PPM"):
        maxval = _netpbm_maxval(head)
        if maxval:
            return maxval.bit_length()
    if image.mode in _HIGH_DEPTH_MODES:
        return _HIGH_DEPTH_MODES[image.mode]
    return 1 if image.mode == "1" else 8


def _netpbm_maxval(head: bytes) -> int | None:
    """Return the maximum sample value declared in a PGM or PPM header."""
    header = re.sub(rb"#[^\n]*", b"", head[2:512])
    tokens = header.split()
    if len(tokens) >= 3 and tokens[2].isdigit():
        return int(tokens[2])
    return None
