"""Decode DICOM pixel data for display, with pydicom.

Greyscale frames follow the order of the DICOM greyscale pipeline (PS3.4 N.2.1):
the modality LUT (Rescale Slope and Intercept, or a Modality LUT Sequence), then the
VOI transform to display levels, then inversion for MONOCHROME1. The VOI transform is
the first that applies of:

1. the ``window`` argument of `load_image`;
2. Window Center and Width of the dataset, the first pair if there are several,
   with its VOI LUT Function;
3. the first VOI LUT Sequence item, scaled from its lowest to its highest entry;
4. the frame's minimum to maximum.

Enhanced multi-frame datasets take rescale and window values from the frame's
Per-frame Functional Groups, then the Shared Functional Groups, then the top level.

Colour frames become RGB: PALETTE COLOR through its palette LUT, YBR_FULL and
YBR_FULL_422 through `pydicom.pixels.convert_color_space`, RGB as stored. Samples
deeper than 8 bits are scaled by their bit depth, so hues stay true.

NOTE: Presentation LUT Shape and ICC profiles are not applied. Only MONOCHROME1
inverts the grey levels.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from biovfm_utils.display import (
    CorruptImageError,
    DisplayImage,
    ImageSource,
    ImagingError,
    UnsupportedImageError,
    apply_window,
    choose_frame,
    composite_on_white,
    greyscale_levels,
    make_image,
    scale_by_bit_depth,
    to_uint8,
)

logger = logging.getLogger(__name__)

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Attributes that a forced read must find before content counts as DICOM.
_DICOM_EVIDENCE = ("SOPClassUID", "Rows", *_PIXEL_KEYWORDS)
_FRAME_GROUPS = {
    "PixelValueTransformationSequence": (
        "RescaleSlope",
        "RescaleIntercept",
        "RescaleType",
    ),
    "FrameVOILUTSequence": ("WindowCenter", "WindowWidth", "VOILUTFunction"),
}
# pydicom names decoder packages by import name. These are their PyPI names.
_PIP_NAMES = {"gdcm": "python-gdcm"}


class MissingDecoderError(ImagingError):
    """Error raised when no installed package can decode a DICOM transfer syntax.

    Attributes
    ----------
    transfer_syntax : str
        Name of the transfer syntax, for example "JPEG-LS Lossless Image
        Compression".
    transfer_syntax_uid : str
    requirements : tuple of tuple of str
        Alternative sets of pip requirements, any one of which provides a
        decoder, for example ``(("pylibjpeg>=2.0", "pylibjpeg-libjpeg>=2.1"),
        ("python-gdcm>=3.0.10",))``.
    """

    def __init__(
        self,
        file_name: str,
        transfer_syntax: str,
        transfer_syntax_uid: str,
        requirements: tuple[tuple[str, ...], ...],
    ):
        self.transfer_syntax = transfer_syntax
        self.transfer_syntax_uid = transfer_syntax_uid
        self.requirements = requirements
        reason = (
            f"the pixel data use the transfer syntax {transfer_syntax} "
            f"({transfer_syntax_uid}), and no installed package can decode it"
        )
        commands = [
            "pip install " + " ".join(f'"{r}"' for r in option)
            for option in requirements
        ]
        if commands:
            hint = "Install a decoder with one of: " + "; or ".join(commands)
        else:
            hint = "See the pixel data decoders in the pydicom documentation"
        super().__init__(file_name, reason, hint)


def read_dicom(
    src: ImageSource,
    *,
    index: int | None,
    window: tuple[float, float] | None,
    force: bool = False,
) -> DisplayImage | None:
    """Decode one frame of a DICOM file for display.

    With ``force=True``, for content without the DICOM preamble, this returns None
    when pydicom cannot parse the content as DICOM.

    Raises
    ------
    CorruptImageError, MissingDecoderError, UnsupportedImageError, FrameIndexError
    """
    ds = _read_dataset(src, force)
    if ds is None:
        return None
    name = src.file_name

    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        sop_class = ds.get("SOPClassUID")
        kind = sop_class.name if sop_class else "no SOP Class UID"
        raise UnsupportedImageError(name, f"the DICOM file has no pixel data ({kind})")
    if "PhotometricInterpretation" not in ds:
        raise CorruptImageError(
            name, "the DICOM file has no Photometric Interpretation"
        )

    uid = _transfer_syntax(ds)
    decoder = _decoder(name, uid)
    n_frames = int(ds.get("NumberOfFrames") or 1)
    frame_index = choose_frame(index, n_frames, name, "frame")
    try:
        array, pixel_meta = decoder.as_array(ds, index=frame_index, as_rgb=False)
    except Exception as error:  # decoders raise many types on damaged data
        raise CorruptImageError(
            name, f"the {uid.name} pixel data could not be decoded ({error})"
        ) from error

    fields = {
        "file_name": name,
        "format": "DICOM",
        "bits_stored": int(pixel_meta["bits_stored"]),
        "colour_mode": str(ds.PhotometricInterpretation),
        "photometric_interpretation": str(ds.PhotometricInterpretation),
        "modality": ds.get("Modality") or None,
        "transfer_syntax": uid.name,
        "transfer_syntax_uid": str(uid),
        "n_frames": n_frames,
        "frame_index": frame_index if n_frames > 1 else None,
    }
    decoded_as = str(pixel_meta["photometric_interpretation"])
    if decoded_as in ("MONOCHROME1", "MONOCHROME2"):
        pixels, values, scaling = _greyscale_frame(array, ds, frame_index, window, name)
        if decoded_as == "MONOCHROME1":
            pixels = 255 - pixels
    else:
        pixels, values = _colour_frame(array, ds, decoded_as, name, fields)
        scaling = {}
    return make_image(pixels, values, **fields, **scaling)


def _read_dataset(src: ImageSource, force: bool):
    import pydicom

    try:
        with src.open() as stream:
            ds = pydicom.dcmread(stream, force=force)
    except Exception as error:  # pydicom raises many types on damaged input
        if force:
            logger.debug("%s is not DICOM without preamble: %s", src.file_name, error)
            return None
        raise CorruptImageError(
            src.file_name,
            f"the DICOM data set is truncated or damaged ({error})",
            "Download or copy the file again",
        ) from error

    if force and not any(keyword in ds for keyword in _DICOM_EVIDENCE):
        return None
    return ds


def _transfer_syntax(ds):
    """Return the Transfer Syntax UID, inferring it from the encoding if missing."""
    from pydicom import uid as uids

    transfer_syntax = ds.file_meta.get("TransferSyntaxUID")
    if transfer_syntax:
        return transfer_syntax

    # Files without File Meta Information were read with a guessed encoding.
    is_implicit_vr, is_little_endian = ds.original_encoding
    if not is_little_endian:
        transfer_syntax = uids.ExplicitVRBigEndian
    elif is_implicit_vr:
        transfer_syntax = uids.ImplicitVRLittleEndian
    else:
        transfer_syntax = uids.ExplicitVRLittleEndian
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    return transfer_syntax


def _decoder(name: str, uid):
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(uid)
    except NotImplementedError as error:
        raise UnsupportedImageError(
            name, f"pydicom has no decoder for the transfer syntax {uid.name} ({uid})"
        ) from error
    if not decoder.is_available:
        requirements = _requirements(decoder.missing_dependencies)
        raise MissingDecoderError(name, uid.name, str(uid), requirements)
    return decoder


def _requirements(missing_dependencies: list[str]) -> tuple[tuple[str, ...], ...]:
    """Turn pydicom's missing-dependency notes into sets of pip requirements.

    pydicom 3.0 words each note as "<plugin> - requires <req> and <req>", for
    example "pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-libjpeg>=2.1".
    numpy is left out because this package already depends on it.
    """
    options = []
    for note in missing_dependencies:
        _, _, text = note.partition(" - requires ")
        requirements = []
        for requirement in text.split(" and "):
            requirement = requirement.strip()
            package = re.split(r"[<>=!~ ]", requirement, maxsplit=1)[0]
            if not package or package == "numpy":
                continue
            pip_name = _PIP_NAMES.get(package, package)
            requirements.append(pip_name + requirement[len(package) :])
        if requirements:
            options.append(tuple(requirements))
    return tuple(options)


def _greyscale_frame(array, ds, frame_index: int, window, name: str):
    """Return display levels, values and scaling fields for a MONOCHROME frame."""
    from pydicom import Dataset
    from pydicom.pixels import apply_modality_lut

    attributes = _frame_attributes(ds, frame_index)
    lut_ds = Dataset()
    lut_ds.file_meta = ds.file_meta  # gives the byte order of OW LUT data
    if ds.get("ModalityLUTSequence"):
        lut_ds.ModalityLUTSequence = ds.ModalityLUTSequence
    slope = attributes.get("RescaleSlope")
    intercept = attributes.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        lut_ds.RescaleSlope = slope
        lut_ds.RescaleIntercept = intercept
    values = apply_modality_lut(array, lut_ds)

    scaling = {
        "rescale_slope": float(slope) if slope is not None else None,
        "rescale_intercept": float(intercept) if intercept is not None else None,
        "value_units": _value_units(ds, attributes),
    }
    pixels, window_fields = _voi_levels(values, ds, attributes, window, name)
    return pixels, values, scaling | window_fields


def _voi_levels(values, ds, attributes: dict, window, name: str):
    """Return display levels from the first VOI transform in the module's order."""
    if window is None and attributes.get("WindowCenter") is not None:
        function = str(attributes.get("VOILUTFunction") or "LINEAR")
        try:
            center = _first(attributes["WindowCenter"])
            width = _first(attributes.get("WindowWidth"))
            pixels = apply_window(values, center, width, function=function)
        except (TypeError, ValueError) as error:
            logger.warning(
                "%s: ignoring invalid window (center %s, width %s, %s): %s",
                name,
                attributes.get("WindowCenter"),
                attributes.get("WindowWidth"),
                function,
                error,
            )
        else:
            fields = {"window_center": center, "window_width": width}
            return pixels, fields | {"window_source": "dataset"}

    if window is None and ds.get("VOILUTSequence"):
        return _voi_lut_levels(values, ds), {"window_source": "VOI LUT Sequence"}
    return greyscale_levels(values, window)


def _voi_lut_levels(values, ds) -> np.ndarray:
    from pydicom.pixels import apply_voi

    # The VOI LUT takes integer input. Modality LUT output may be float only
    # because of a rescale, so rounding loses nothing the LUT could resolve.
    values = np.rint(values).astype(np.int64) if values.dtype.kind == "f" else values
    descriptor = ds.VOILUTSequence[0].LUTDescriptor
    n_entries = descriptor[0] or 2**16
    first_mapped = descriptor[1]
    entries = apply_voi(np.arange(first_mapped, first_mapped + n_entries), ds)
    low, high = float(entries.min()), float(entries.max())
    output = apply_voi(values, ds).astype(np.float64)
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return to_uint8((output - low) / (high - low) * 255)


def _frame_attributes(ds, frame_index: int) -> dict:
    """Collect rescale and window attributes for one frame.

    Per-frame Functional Groups override Shared Functional Groups, which override
    the top level of the dataset.
    """
    keywords = [keyword for group in _FRAME_GROUPS.values() for keyword in group]
    attributes = {keyword: ds.get(keyword) for keyword in keywords}

    groups = []
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and frame_index < len(per_frame):
        groups.append(per_frame[frame_index])
    for group in groups:
        for sequence_keyword, item_keywords in _FRAME_GROUPS.items():
            items = group.get(sequence_keyword)
            if not items:
                continue
            for keyword in item_keywords:
                if items[0].get(keyword) is not None:
                    attributes[keyword] = items[0].get(keyword)
    return attributes


def _value_units(ds, attributes: dict) -> str | None:
    """Return the units of the modality LUT output, if the dataset states them.

    The CT Image Module requires Rescale Type only when the units are not
    Hounsfield units (PS3.3 C.8.2.1), so rescaled CT without it is in HU.
    """
    if attributes.get("RescaleType"):
        return str(attributes["RescaleType"])
    modality_lut = ds.get("ModalityLUTSequence")
    if modality_lut and modality_lut[0].get("ModalityLUTType"):
        return str(modality_lut[0].ModalityLUTType)
    if ds.get("Modality") == "CT" and attributes.get("RescaleIntercept") is not None:
        return "HU"
    return None


def _colour_frame(array, ds, decoded_as: str, name: str, fields: dict):
    """Return display levels and values (both RGB) for a colour frame."""
    from pydicom.pixels import apply_color_lut, convert_color_space

    if decoded_as == "PALETTE COLOR":
        try:
            colours = apply_color_lut(array, ds)
        except ValueError as error:
            raise UnsupportedImageError(
                name, f"the palette colour LUT cannot be applied ({error})"
            ) from error
        lut_bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        if colours.max() > 2**lut_bits - 1:
            # The descriptor understates the depth of the LUT data. Scaling by
            # its nominal depth would clip these entries to white.
            lut_bits = 16
        levels = scale_by_bit_depth(colours, lut_bits)
        if colours.shape[-1] == 4:
            levels = composite_on_white(levels)
        return levels, colours[..., :3]

    if decoded_as in ("YBR_FULL", "YBR_FULL_422"):
        if array.dtype != np.uint8:
            raise UnsupportedImageError(
                name, f"{decoded_as} with more than 8 bits per sample is not supported"
            )
        array = convert_color_space(array, decoded_as, "RGB")
    elif decoded_as != "RGB":
        raise UnsupportedImageError(
            name, f"the photometric interpretation {decoded_as} is not supported"
        )
    return scale_by_bit_depth(array, fields["bits_stored"]), array


def _first(value) -> float:
    """Return the first value of a DS element that may have several, as float."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = value[0]
    return float(value)
