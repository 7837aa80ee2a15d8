"""Display images: the DisplayImage type, its metadata, imaging errors and scaling.

The format readers (`biovfm_utils.dicom`, `biovfm_utils.nifti`,
`biovfm_utils.pillow_formats`) build their results with the helpers here.
Notebooks import everything public through `biovfm_utils.imaging`.
"""

from __future__ import annotations

import io
import operator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np


class ImagingError(Exception):
    """Error raised when an input cannot be shown as an image.

    Attributes
    ----------
    file_name : str
        Name of the file, or the ``name`` given with bytes.
    reason : str
        What is wrong with the input.
    hint : str or None
        What to do next.
    """

    def __init__(self, file_name: str, reason: str, hint: str | None = None):
        self.file_name = file_name
        self.reason = reason
        self.hint = hint
        message = f"{file_name}: {reason}"
        if hint:
            message = f"{message}. {hint}"
        super().__init__(message)

    def note(self) -> str:
        """Return Markdown for a notebook admonition shown in place of a traceback."""
        text = f"`{self.file_name}` could not be displayed: {self.reason}."
        if self.hint:
            text = f"{text}\n\n{self.hint}"
        return text


class ImageNotFoundError(ImagingError, FileNotFoundError):
    """Error raised when the path does not exist or is not a file."""


class UnrecognizedFormatError(ImagingError):
    """Error raised when the content matches no supported image format."""


class CorruptImageError(ImagingError):
    """Error raised when a recognised file is truncated or damaged."""


class UnsupportedImageError(ImagingError):
    """Error raised for a valid file that this package cannot show."""


class FrameIndexError(ImagingError, IndexError):
    """Error raised when ``index`` is outside the frames or slices of the file."""


@dataclass(frozen=True)
class ImageMetadata:
    """Description of a decoded frame and of the scaling applied for display.

    Attributes
    ----------
    file_name, format : str
        Name of the file and its detected format, for example "NIfTI-1 (gzip)".
    width, height : int
        Size of the frame as displayed, after any EXIF rotation.
    bits_stored : int
        Bits per sample in the file: DICOM Bits Stored, NIfTI bitpix, the PNG,
        TIFF or Netpbm bit depth, else the depth of the Pillow mode.
    colour_mode : str
        Pillow mode, DICOM Photometric Interpretation, or "greyscale" for NIfTI.
    dtype : str
        NumPy data type of ``values``.
    value_range : (float, float)
        Minimum and maximum finite value of ``values``.
    n_frames, frame_index, frame_label
        Number of frames or slices, the 0-based one shown (None for single-frame
        images), and "frame" or "slice".
    photometric_interpretation, modality, transfer_syntax, transfer_syntax_uid
        DICOM attributes, None for other formats.
    rescale_slope, rescale_intercept : float or None
        DICOM Rescale Slope and Intercept, or NIfTI scl_slope and scl_inter. None
        when absent, or for NIfTI when they are the identity.
    value_units : str or None
        Units of ``values`` where the file states them, for example "HU".
    window_center, window_width, window_source
        The linear mapping from ``values`` to grey levels and its source:
        "dataset" (DICOM Window Center and Width), "argument" (``window=`` of
        `load_image`) or "min-max" (the frame's own range). A DICOM VOI LUT gives
        ``window_source`` "VOI LUT Sequence" with no center or width. All three
        are None for colour images and for 8-bit Pillow greyscale shown as stored.
    exif_orientation : int or None
        EXIF Orientation tag (1 to 8) that was applied, if the file has one.
    """

    file_name: str
    format: str
    width: int
    height: int
    bits_stored: int
    colour_mode: str
    dtype: str
    value_range: tuple[float, float]
    n_frames: int = 1
    frame_index: int | None = None
    frame_label: str = "frame"
    photometric_interpretation: str | None = None
    modality: str | None = None
    transfer_syntax: str | None = None
    transfer_syntax_uid: str | None = None
    rescale_slope: float | None = None
    rescale_intercept: float | None = None
    value_units: str | None = None
    window_center: float | None = None
    window_width: float | None = None
    window_source: str | None = None
    exif_orientation: int | None = None


@dataclass(frozen=True, eq=False, repr=False)
class DisplayImage:
    """A decoded frame ready for ``imshow(pixels, cmap="gray", vmin=0, vmax=255)``.

    Attributes
    ----------
    pixels : numpy.ndarray
        Read-only uint8 array, (H, W) for greyscale or (H, W, 3) for RGB.
    values : numpy.ndarray
        Read-only array of the same frame before display scaling: DICOM stored
        values after the modality LUT (for example Hounsfield units for CT), NIfTI
        values after scl_slope and scl_inter, Pillow greyscale values as stored.
        For colour images, and for 8-bit images with alpha, it is the RGB (or
        greyscale) array after palette lookup, colour conversion and alpha
        compositing.
    metadata : ImageMetadata
    """

    pixels: np.ndarray
    values: np.ndarray
    metadata: ImageMetadata

    def caption(self) -> str:
        """Return a one-line caption such as "CT_small.dcm · DICOM · 128×128 · 16-bit".

        The caption ends with the colour mode and, for multi-frame images, with for
        example "slice 12 of 40". That number is 1-based: ``frame_index + 1``.
        """
        meta = self.metadata
        parts = [
            meta.file_name,
            meta.format,
            f"{meta.width}×{meta.height}",
            f"{meta.bits_stored}-bit",
            meta.colour_mode,
        ]
        if meta.n_frames > 1 and meta.frame_index is not None:
            position = meta.frame_index + 1
            parts.append(f"{meta.frame_label} {position} of {meta.n_frames}")
        return " · ".join(parts)

    def __repr__(self) -> str:
        return f"DisplayImage({self.caption()!r})"


class Histogram(NamedTuple):
    """Histogram counts, one row per channel for RGB, and the shared bin edges."""

    counts: np.ndarray
    edges: np.ndarray


@dataclass(frozen=True)
class ImageSource:
    """Input of a format reader: a path, or bytes with the name used in messages."""

    file_name: str
    path: Path | None = None
    data: bytes | None = None

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        return open(self.path, "rb")

    def head(self, size: int) -> bytes:
        with self.open() as stream:
            return stream.read(size)

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        return self.path.read_bytes()


def apply_window(
    values: np.ndarray, center: float, width: float, *, function: str = "LINEAR"
) -> np.ndarray:
    """Map values through a VOI window to uint8 display levels 0 to 255.

    Implements the LINEAR, LINEAR_EXACT and SIGMOID VOI LUT functions of DICOM
    PS3.3 sections C.11.2.1.2 and C.11.2.1.3, with an output range of 0 to 255.
    NaN maps to 0.

    Raises
    ------
    ValueError
        If the width is below 1 for LINEAR or not positive for the others, or if
        the function is unknown.
    """
    values = np.asarray(values, dtype=np.float64)
    function = function.upper()
    if function == "LINEAR":
        if width < 1:
            raise ValueError(f"LINEAR window width must be at least 1, got {width}")
        center, width = center - 0.5, width - 1
    elif function in ("LINEAR_EXACT", "SIGMOID"):
        if width <= 0:
            raise ValueError(f"{function} window width must be positive, got {width}")
    else:
        raise ValueError(f"unknown VOI LUT function {function!r}")

    if function == "SIGMOID":
        with np.errstate(over="ignore"):  # exp overflows to inf, giving level 0
            levels = 255 / (1 + np.exp(-4 * (values - center) / width))
    elif width == 0:
        # A LINEAR window of width 1 is a threshold at its center.
        levels = np.where(values > center, 255.0, 0.0)
    else:
        levels = ((values - center) / width + 0.5) * 255
    return to_uint8(levels)


def greyscale_levels(
    values: np.ndarray, window: tuple[float, float] | None
) -> tuple[np.ndarray, dict]:
    """Scale a greyscale frame to uint8 through `window`, or else its min..max.

    Returns the levels and the ImageMetadata fields that describe the scaling.
    """
    if window is not None:
        center, width = window
        fields = {
            "window_center": center,
            "window_width": width,
            "window_source": "argument",
        }
        return apply_window(values, center, width), fields

    low, high = value_range(values)
    fields = {
        "window_center": (low + high) / 2,
        "window_width": high - low,
        "window_source": "min-max",
    }
    if not high > low:
        # A constant (or all-NaN) frame has no contrast to stretch, so it is black.
        return np.zeros(values.shape, dtype=np.uint8), fields
    levels = (values.astype(np.float64) - low) / (high - low) * 255
    return to_uint8(levels), fields


def intensity_histogram(
    image: DisplayImage, bins: int | str = 256, *, per_channel: bool = True
) -> Histogram:
    """Count the image's ``values`` in bins for an intensity histogram.

    Non-finite values are left out. Integer values whose range spans at most `bins`
    distinct values get one bin per integer, so fewer bins may come back. This
    avoids the empty bins of a comb pattern in histograms of 8-bit data.

    Parameters
    ----------
    image : DisplayImage
    bins : int or str
        Number of bins, or a bin rule of `numpy.histogram_bin_edges` such as "auto".
    per_channel : bool
        For RGB images, count each channel separately, so that ``counts`` has
        shape (3, n_bins). If False, count the ITU-R BT.601 luminance
        0.299 R + 0.587 G + 0.114 B, the weights of Pillow's ``convert("L")``.
        Greyscale images ignore it.

    Returns
    -------
    Histogram
        ``counts`` of shape (n_bins,) or (3, n_bins) and ``edges`` of shape
        (n_bins + 1,), in the units of ``values``.

    Raises
    ------
    ValueError
        If the image has no finite values.
    """
    values = image.values
    if values.ndim == 3 and not per_channel:
        values = values.astype(np.float64) @ np.array([0.299, 0.587, 0.114])

    low, high = value_range(values)
    if not np.isfinite(low):
        raise ValueError(f"{image.metadata.file_name} has no finite values to count")
    is_integer = values.dtype.kind in "iub"
    if is_integer and isinstance(bins, int) and high - low + 1 <= bins:
        edges = np.arange(int(low), int(high) + 2) - 0.5
    else:
        finite = values[np.isfinite(values)]
        edges = np.histogram_bin_edges(finite, bins=bins, range=(low, high))

    if values.ndim == 2:
        counts, _ = np.histogram(values, bins=edges)
    else:
        channels = [values[..., channel] for channel in range(values.shape[-1])]
        counts = np.stack([np.histogram(c, bins=edges)[0] for c in channels])
    return Histogram(counts=counts, edges=edges)


def choose_frame(index: int | None, n_frames: int, file_name: str, label: str) -> int:
    """Return the 0-based frame to show: `index`, or the middle frame if None.

    Raises
    ------
    FrameIndexError
        If `index` is negative or not below `n_frames`.
    """
    if index is None:
        return n_frames // 2
    index = operator.index(index)
    if not 0 <= index < n_frames:
        plural = "" if n_frames == 1 else "s"
        raise FrameIndexError(
            file_name,
            f"{label} index {index} is out of range because the file has "
            f"{n_frames} {label}{plural}",
            f"Pass an index from 0 to {n_frames - 1}",
        )
    return index


def value_range(values: np.ndarray) -> tuple[float, float]:
    """Return the minimum and maximum finite value, or (nan, nan) if there is none."""
    if values.dtype.kind in "fc":
        values = values[np.isfinite(values)]
    if values.size == 0:
        return (float("nan"), float("nan"))
    return (float(values.min()), float(values.max()))


def composite_on_white(array: np.ndarray) -> np.ndarray:
    """Composite an 8-bit array whose last channel is alpha onto white."""
    colour = array[..., :-1].astype(np.float64)
    alpha = array[..., -1:].astype(np.float64) / 255
    blended = to_uint8(colour * alpha + 255 * (1 - alpha))
    if blended.shape[-1] == 1:
        return blended[..., 0]
    return blended


def scale_by_bit_depth(array: np.ndarray, bits: int) -> np.ndarray:
    """Scale unsigned colour samples of `bits` bits to 0-255, keeping hue intact."""
    if bits == 8 and array.dtype == np.uint8:
        return array
    return to_uint8(array.astype(np.float64) * (255 / (2**bits - 1)))


def to_uint8(levels: np.ndarray) -> np.ndarray:
    """Round levels to uint8, clipping to 0-255 and mapping NaN to 0."""
    levels = np.nan_to_num(levels, nan=0.0, posinf=255.0, neginf=0.0)
    return np.rint(np.clip(levels, 0, 255)).astype(np.uint8)


def make_image(pixels: np.ndarray, values: np.ndarray, **fields) -> DisplayImage:
    """Build a DisplayImage with read-only arrays and the size and range filled in.

    `fields` are the remaining ImageMetadata fields.
    """
    height, width = pixels.shape[:2]
    metadata = ImageMetadata(
        width=width,
        height=height,
        dtype=str(values.dtype),
        value_range=value_range(values),
        **fields,
    )
    pixels = np.array(pixels, dtype=np.uint8, order="C")
    values = np.array(values, order="C")
    pixels.flags.writeable = False
    values.flags.writeable = False
    return DisplayImage(pixels=pixels, values=values, metadata=metadata)


def replace_metadata(image: DisplayImage, **changes) -> DisplayImage:
    """Return a copy of `image` whose metadata has the given fields changed."""
    return DisplayImage(image.pixels, image.values, replace(image.metadata, **changes))
