"""Specification of biovfm_utils.imaging, on image files written by the tests."""

from __future__ import annotations

import gzip
import subprocess
import sys

import nibabel
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space, get_decoder
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEGLosslessSV1,
    JPEGLSLossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from biovfm_utils.imaging import (
    CorruptImageError,
    DisplayImage,
    FrameIndexError,
    ImageNotFoundError,
    ImagingError,
    MissingDecoderError,
    UnrecognizedFormatError,
    UnsupportedImageError,
    apply_window,
    intensity_histogram,
    load_image,
    try_load_image,
)


def write_dicom(
    path,
    array=None,
    *,
    photometric="MONOCHROME2",
    bits_stored=None,
    preamble=bytes(128),
    sop_class=SecondaryCaptureImageStorage,
    **attributes,
):
    """Write a DICOM file with pydicom and return its path.

    With ``preamble=None`` the file has no preamble and no File Meta Information,
    like files written by some older software.
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=preamble)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    if array is not None:
        bits = bits_stored or array.dtype.itemsize * 8
        ds.set_pixel_data(array, photometric, bits, generate_instance_uid=False)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)

    if preamble is None:
        ds.file_meta = FileMetaDataset()
        pydicom.dcmwrite(path, ds, implicit_vr=True, little_endian=True)
    else:
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def write_ct(path, stored, **attributes):
    """Write a one-row CT image of int16 stored values."""
    array = np.array([stored], dtype=np.int16)
    return write_dicom(
        path, array, sop_class=CTImageStorage, Modality="CT", **attributes
    )


def write_nifti(path, data, affine=None, slope=None, intercept=None, version=1):
    """Write a NIfTI file with nibabel (gzip-compressed if the name ends in .gz)."""
    image_class = nibabel.Nifti1Image if version == 1 else nibabel.Nifti2Image
    image = image_class(data, np.eye(4) if affine is None else affine)
    if slope is not None:
        image.header.set_slope_inter(slope, intercept)
    content = image.to_bytes()
    if str(path).endswith(".gz"):
        content = gzip.compress(content)
    path.write_bytes(content)
    return path


def ramp_volume(shape=(4, 5, 6), axis=2):
    """Return an int16 volume whose voxels hold their index along `axis`."""
    return np.indices(shape)[axis].astype(np.int16)


# Formats and signatures


@pytest.mark.parametrize(
    ("mode", "pillow_format", "expected"),
    [
        ("RGB", "PNG", "PNG"),
        ("RGB", "JPEG", "JPEG"),
        ("RGB", "TIFF", "TIFF"),
        ("P", "GIF", "GIF"),
        ("RGB", "BMP", "BMP"),
        ("RGB", "WEBP", "WebP"),
        ("L", "PPM", "PGM"),
        ("RGB", "PPM", "PPM"),
        ("1", "PPM", "PBM"),
    ],
)
def test_format_detected_by_signature(tmp_path, mode, pillow_format, expected):
    path = tmp_path / "image.dat"
    Image.new(mode, (8, 6)).save(path, pillow_format)

    image = load_image(path)

    assert image.metadata.format == expected


def test_dicom_preamble_checked_before_tiff(tmp_path):
    preamble = b"II*\0" + bytes(124)
    path = write_dicom(
        tmp_path / "dual.dcm", np.zeros((2, 2), np.uint8), preamble=preamble
    )

    assert load_image(path).metadata.format == "DICOM"


def test_dicom_without_preamble_read(tmp_path):
    array = np.array([[0, 100], [200, 300]], dtype=np.uint16)
    path = write_dicom(tmp_path / "old.img", array, preamble=None)

    image = load_image(path)

    assert image.metadata.format == "DICOM"
    assert image.values.tolist() == array.tolist()


def test_bytes_source_uses_name(tmp_path):
    path = tmp_path / "gradient.png"
    Image.new("L", (4, 3), 7).save(path)

    image = load_image(path.read_bytes(), name="from-memory.png")

    assert image.metadata.file_name == "from-memory.png"
    assert image.caption().startswith("from-memory.png · PNG")


def test_bytes_source_needs_name(tmp_path):
    with pytest.raises(TypeError, match="name="):
        load_image(b"\x89PNG\r\n\x1a\n")


# Greyscale depth, EXIF orientation and Pillow modes


def test_16bit_png_stretched_not_clamped(tmp_path):
    stored = np.array([[0, 1000], [30000, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(stored).save(path)

    image = load_image(path)

    assert image.pixels.tolist() == [[0, 4], [117, 255]]
    assert image.values.tolist() == stored.tolist()
    assert image.metadata.bits_stored == 16
    assert image.metadata.window_source == "min-max"


@pytest.mark.parametrize(
    ("orientation", "top_is_dark"),
    [(6, True), (8, False)],
)
def test_exif_orientation_rotates_jpeg(tmp_path, orientation, top_is_dark):
    stored = np.zeros((32, 64), dtype=np.uint8)
    stored[:, 32:] = 255  # left half black, right half white
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)

    image = load_image(path)

    assert image.pixels.shape == (64, 32)
    assert (image.pixels[:32].mean() < 128) == top_is_dark
    assert image.metadata.exif_orientation == orientation


def _palette_image():
    image = Image.new("P", (2, 2), 0)
    image.putpalette([255, 0, 0, 0, 0, 255])
    image.putpixel((1, 1), 1)
    return image


def _la_image():
    grey = Image.fromarray(np.array([[100, 0], [0, 0]], dtype=np.uint8))
    alpha = Image.fromarray(np.array([[128, 0], [255, 255]], dtype=np.uint8))
    return Image.merge("LA", [grey, alpha])


def _rgba_image():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (0, 0, 255, 0)  # fully transparent blue
    rgba[1, 1] = (0, 0, 255, 255)
    return Image.fromarray(rgba)


def _i16b_image():
    stored = np.array([[0, 300], [600, 900]], dtype=">u2")
    return Image.frombytes("I;16B", (2, 2), stored.tobytes())


PILLOW_MODES = {
    # mode: (builder, format, save options, expected pixels[0, 0], expected [1, 1])
    "1": (lambda: Image.fromarray(np.array([[1, 1], [1, 0]], bool)), "PNG", {}, 255, 0),
    "L": (lambda: Image.new("L", (2, 2), 90), "PNG", {}, 90, 90),
    "L transparent": (
        lambda: Image.fromarray(np.array([[0, 9], [9, 200]], dtype=np.uint8)),
        "PNG",
        {"transparency": 0},
        255,
        200,
    ),
    "P": (_palette_image, "PNG", {}, (255, 0, 0), (0, 0, 255)),
    "P transparent": (
        _palette_image,
        "GIF",
        {"transparency": 0},
        (255,) * 3,
        (0, 0, 255),
    ),
    "LA": (_la_image, "PNG", {}, 177, 0),
    "RGBA": (_rgba_image, "PNG", {}, (255, 255, 255), (0, 0, 255)),
    "CMYK": (
        lambda: Image.new("CMYK", (2, 2), (0, 255, 255, 0)),
        "TIFF",
        {},
        (255, 0, 0),
        (255, 0, 0),
    ),
    "YCbCr": (
        lambda: Image.new("YCbCr", (2, 2), (76, 85, 255)),
        "TIFF",
        {},
        (254, 0, 0),
        (254, 0, 0),
    ),
    "LAB": (
        lambda: Image.new("LAB", (2, 2), (255, 128, 128)),
        "TIFF",
        {},
        (254, 255, 254),
        (254, 255, 254),
    ),
    "I;16": (
        lambda: Image.fromarray(np.array([[10, 20], [30, 40]], np.uint16)),
        "PNG",
        {},
        0,
        255,
    ),
    "I;16B": (_i16b_image, "TIFF", {}, 0, 255),
    "I": (
        lambda: Image.fromarray(np.array([[-5, 0], [0, 99999]], np.int32)),
        "TIFF",
        {},
        0,
        255,
    ),
    "F": (
        lambda: Image.fromarray(np.array([[-1.5, 0], [0, 2.5]], np.float32)),
        "TIFF",
        {},
        0,
        255,
    ),
}


@pytest.mark.parametrize("case", PILLOW_MODES)
def test_pillow_mode_converted(tmp_path, case):
    builder, pillow_format, options, expected_first, expected_last = PILLOW_MODES[case]
    path = tmp_path / f"mode.{pillow_format.lower()}"
    builder().save(path, pillow_format, **options)

    image = load_image(path)

    expected_ndim = 3 if isinstance(expected_first, tuple) else 2
    assert image.metadata.colour_mode == case.split()[0]
    assert image.pixels.dtype == np.uint8
    assert image.pixels.ndim == expected_ndim
    assert np.allclose(image.pixels[0, 0], expected_first, atol=1)
    assert np.allclose(image.pixels[1, 1], expected_last, atol=1)


def test_multipage_tiff_default_middle_page(tmp_path):
    pages = [Image.new("L", (3, 2), value) for value in (10, 20, 30)]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])

    image = load_image(path)

    assert image.values[0, 0] == 20
    assert image.caption().endswith("frame 2 of 3")


# DICOM


def test_ct_modality_lut_then_window(tmp_path):
    path = write_ct(
        tmp_path / "ct.dcm",
        [0, 1024, 2024],
        RescaleSlope=1,
        RescaleIntercept=-1024,
        WindowCenter=40,
        WindowWidth=400,
    )

    image = load_image(path)

    assert image.values.tolist() == [[-1024, 0, 1000]]
    assert image.pixels.tolist() == [[0, 102, 255]]
    assert image.metadata.window_source == "dataset"
    assert image.metadata.value_units == "HU"
    assert image.metadata.rescale_intercept == -1024


def test_window_absent_uses_min_max(tmp_path):
    path = write_ct(tmp_path / "ct.dcm", [100, 200, 300])

    image = load_image(path)

    assert image.pixels.tolist() == [[0, 128, 255]]
    assert image.metadata.window_source == "min-max"
    assert image.metadata.window_center == 200


def test_window_argument_overrides_dataset(tmp_path):
    path = write_ct(
        tmp_path / "ct.dcm", [-1000, 0, 1000], WindowCenter=0, WindowWidth=10
    )

    image = load_image(path, window=(0, 2001))

    assert image.pixels.tolist() == [[0, 128, 255]]
    assert image.metadata.window_source == "argument"


def test_window_width_below_one_rejected(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 1000]], dtype=np.uint16)).save(path)

    with pytest.raises(ValueError, match="at least 1"):
        load_image(path, window=(500, 0))


def test_monochrome1_darkest_at_highest_value(tmp_path):
    array = np.array([[0, 100, 200]], dtype=np.uint16)
    path = write_dicom(
        tmp_path / "cr.dcm", array, photometric="MONOCHROME1", Modality="CR"
    )

    image = load_image(path)

    assert image.pixels.argmin() == image.values.argmax()
    assert image.pixels.tolist() == [[255, 127, 0]]
    assert image.metadata.photometric_interpretation == "MONOCHROME1"


def test_voi_lut_sequence_applied(tmp_path):
    item = Dataset()
    item.LUTDescriptor = [4, 0, 8]
    item.add_new("LUTData", "US", [0, 10, 20, 200])
    array = np.array([[0, 1], [2, 3]], dtype=np.uint16)
    path = write_dicom(tmp_path / "voi.dcm", array, VOILUTSequence=Sequence([item]))

    image = load_image(path)

    assert image.pixels.tolist() == [[0, 13], [26, 255]]
    assert image.metadata.window_source == "VOI LUT Sequence"


def test_enhanced_functional_groups_used(tmp_path):
    transformation = Dataset()
    transformation.RescaleSlope = 1
    transformation.RescaleIntercept = -1024
    transformation.RescaleType = "HU"
    voi = Dataset()
    voi.WindowCenter = 40
    voi.WindowWidth = 400
    shared = Dataset()
    shared.PixelValueTransformationSequence = Sequence([transformation])
    shared.FrameVOILUTSequence = Sequence([voi])
    frames = np.array([[[0, 1024, 2024]]] * 2, dtype=np.int16)
    path = write_dicom(
        tmp_path / "enhanced.dcm",
        frames,
        SharedFunctionalGroupsSequence=Sequence([shared]),
    )

    image = load_image(path)

    assert image.pixels.tolist() == [[0, 102, 255]]
    assert image.metadata.value_units == "HU"


def test_palette_colour_uses_lut(tmp_path):
    entries = np.arange(256, dtype=np.uint8)
    stored = np.array([[0, 255], [128, 7]], dtype=np.uint8)
    path = write_dicom(
        tmp_path / "palette.dcm",
        stored,
        photometric="PALETTE COLOR",
        RedPaletteColorLookupTableDescriptor=[256, 0, 8],
        GreenPaletteColorLookupTableDescriptor=[256, 0, 8],
        BluePaletteColorLookupTableDescriptor=[256, 0, 8],
        RedPaletteColorLookupTableData=entries.tobytes(),
        GreenPaletteColorLookupTableData=(255 - entries).tobytes(),
        BluePaletteColorLookupTableData=np.full(256, 60, np.uint8).tobytes(),
    )

    image = load_image(path)

    assert image.pixels.shape == (2, 2, 3)
    assert image.pixels[0, 0].tolist() == [0, 255, 60]
    assert image.pixels[0, 1].tolist() == [255, 0, 60]
    assert image.pixels[1, 0].tolist() == [128, 127, 60]
    assert image.metadata.colour_mode == "PALETTE COLOR"


def test_rgb_dicom_keeps_colour(tmp_path):
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [9, 99, 199]]], np.uint8)
    path = write_dicom(tmp_path / "rgb.dcm", rgb, photometric="RGB")

    image = load_image(path)

    assert image.pixels.tolist() == rgb.tolist()


def test_ybr_full_converted_to_rgb(tmp_path):
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [9, 99, 199]]], np.uint8)
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    path = write_dicom(tmp_path / "ybr.dcm", ybr, photometric="YBR_FULL")

    image = load_image(path)

    assert np.abs(image.pixels.astype(int) - rgb).max() <= 2
    assert image.metadata.colour_mode == "YBR_FULL"


def test_multiframe_default_middle_frame(tmp_path):
    frames = np.stack([np.full((2, 3), value, np.uint8) for value in range(5)])
    path = write_dicom(tmp_path / "cine.dcm", frames)

    image = load_image(path)

    assert image.metadata.frame_index == 2
    assert image.values[0, 0] == 2
    assert image.caption().endswith("frame 3 of 5")


def test_multiframe_index_selects_frame(tmp_path):
    frames = np.stack([np.full((2, 3), value, np.uint8) for value in range(5)])
    path = write_dicom(tmp_path / "cine.dcm", frames)

    image = load_image(path, index=4)

    assert image.values[0, 0] == 4
    assert image.metadata.n_frames == 5


@pytest.mark.parametrize("index", [5, -1])
def test_frame_index_out_of_range(tmp_path, index):
    frames = np.zeros((5, 2, 3), np.uint8)
    path = write_dicom(tmp_path / "cine.dcm", frames)

    with pytest.raises(FrameIndexError) as raised:
        load_image(path, index=index)

    assert "cine.dcm" in str(raised.value)
    assert "5 frames" in str(raised.value)
    assert isinstance(raised.value, IndexError)


def write_compressed_junk(path, transfer_syntax):
    """Write a DICOM file whose encapsulated pixel data are not a real codestream."""
    path = write_dicom(
        path,
        Rows=2,
        Columns=2,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelRepresentation=0,
    )
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xf7 not a real codestream"])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("transfer_syntax", [JPEGLSLossless, JPEGLosslessSV1])
def test_missing_decoder_names_packages(tmp_path, transfer_syntax):
    if get_decoder(transfer_syntax).is_available:
        pytest.skip(f"a decoder for {transfer_syntax.name} is installed")
    path = write_compressed_junk(tmp_path / "compressed.dcm", transfer_syntax)

    with pytest.raises(MissingDecoderError) as raised:
        load_image(path)

    message = str(raised.value)
    assert isinstance(raised.value, ImagingError)
    assert "compressed.dcm" in message
    assert transfer_syntax.name in message
    assert str(transfer_syntax) in message
    assert "pylibjpeg-libjpeg" in message
    assert "python-gdcm" in message


def test_try_load_image_returns_note(tmp_path):
    path = tmp_path / "page.png"
    path.write_text("<!DOCTYPE html><html><body>Sign in</body></html>")

    result = try_load_image(path)

    assert isinstance(result, UnrecognizedFormatError)
    assert "`page.png` could not be displayed" in result.note()


def test_try_load_image_returns_image(tmp_path):
    path = tmp_path / "grey.png"
    Image.new("L", (2, 2)).save(path)

    assert isinstance(try_load_image(path), DisplayImage)


def test_dicom_without_pixel_data(tmp_path):
    path = write_dicom(tmp_path / "plan.dcm", Modality="RTPLAN")

    with pytest.raises(UnsupportedImageError, match="no pixel data"):
        load_image(path)


# NIfTI


@pytest.mark.parametrize("file_name", ["volume.nii", "volume.nii.gz", "volume.dat"])
def test_nifti_default_middle_slice(tmp_path, file_name):
    path = write_nifti(tmp_path / file_name, ramp_volume())

    image = load_image(path)

    assert (image.values == 3).all()
    assert image.metadata.frame_index == 3
    assert image.caption().endswith("slice 4 of 6")


def test_nifti_gzip_named_in_format(tmp_path):
    path = write_nifti(tmp_path / "volume.nii.gz", ramp_volume())

    assert load_image(path).metadata.format == "NIfTI-1 (gzip)"


def test_nifti2_read(tmp_path):
    path = write_nifti(tmp_path / "volume.nii", ramp_volume(), version=2)

    image = load_image(path, index=1)

    assert image.metadata.format == "NIfTI-2"
    assert (image.values == 1).all()


def test_nifti_index_out_of_range(tmp_path):
    path = write_nifti(tmp_path / "volume.nii", ramp_volume())

    with pytest.raises(FrameIndexError, match="6 slices"):
        load_image(path, index=6)


def test_nifti_slices_count_from_inferior(tmp_path):
    affine = np.diag([1.0, 1.0, -1.0, 1.0])  # voxel z grows toward inferior
    path = write_nifti(tmp_path / "flipped.nii", ramp_volume(), affine)

    image = load_image(path, index=0)

    assert (image.values == 5).all()


@pytest.mark.parametrize(
    ("axis", "affine_diagonal", "expected_corner"),
    [
        (1, [1, 1, 1, 1], 4),  # top row is the most anterior y
        (0, [1, 1, 1, 1], 0),  # left column is the patient's left, x = 0
        (0, [-1, 1, 1, 1], 3),  # x grows toward the left, so left is x = 3
    ],
)
def test_nifti_slice_orientation(tmp_path, axis, affine_diagonal, expected_corner):
    path = write_nifti(
        tmp_path / "v.nii", ramp_volume(axis=axis), np.diag(affine_diagonal)
    )

    image = load_image(path)

    assert image.values.shape == (5, 4)
    assert image.values[0, 0] == expected_corner


def test_nifti_axes_found_from_affine(tmp_path):
    # Voxel axis 0 points superior, 1 right and 2 anterior.
    affine = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    path = write_nifti(tmp_path / "sagittal-order.nii", ramp_volume(axis=0), affine)

    image = load_image(path, index=1)

    assert image.metadata.n_frames == 4
    assert image.values.shape == (6, 5)
    assert (image.values == 1).all()


def test_nifti_scaling_applied(tmp_path):
    path = write_nifti(tmp_path / "v.nii", ramp_volume(), slope=2.0, intercept=-10.0)

    image = load_image(path, index=4)

    assert (image.values == -2).all()
    assert image.metadata.rescale_slope == 2.0


# Unreadable input


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"<!DOCTYPE html>\n<html><head><title>Login</title></head></html>",
            "HTML page",
        ),
        (b"<html>\n<body>Access denied</body></html>", "HTML page"),
        (b"", "empty (0 bytes)"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\n", "Git LFS"),
        (b"patient,label\n1,normal\n", "text file"),
        (b'{"error": "not found"}', "JSON"),
        (b"PK\x03\x04" + bytes(40), "ZIP archive"),
    ],
)
def test_unreadable_input_described(tmp_path, content, expected):
    path = tmp_path / "scan.png"
    path.write_bytes(content)

    with pytest.raises(UnrecognizedFormatError) as raised:
        load_image(path)

    assert "scan.png" in str(raised.value)
    assert expected in str(raised.value)


def test_html_error_names_page(tmp_path):
    path = tmp_path / "scan.png"
    path.write_text("<!doctype html><html><body>Error 403</body></html>")

    with pytest.raises(
        ImagingError, match="this looks like an HTML page, not an image"
    ):
        load_image(path)


def test_random_bytes_not_image(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(np.random.default_rng(0).integers(1, 256, 600, np.uint8).tobytes())

    with pytest.raises(UnrecognizedFormatError, match="no supported image format"):
        load_image(path)


def test_truncated_png_is_corrupt(tmp_path):
    full = tmp_path / "full.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)).save(
        full
    )
    path = tmp_path / "cut.png"
    path.write_bytes(full.read_bytes()[:600])

    with pytest.raises(CorruptImageError) as raised:
        load_image(path)

    assert "cut.png" in str(raised.value)
    assert "truncated or damaged" in str(raised.value)


def test_missing_file_not_found(tmp_path):
    with pytest.raises(ImageNotFoundError) as raised:
        load_image(tmp_path / "absent.png")

    assert isinstance(raised.value, FileNotFoundError)
    assert "absent.png" in str(raised.value)


# Histogram, window, caption and result type


def test_histogram_integer_bins(tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(np.array([[0, 0], [1, 3]], dtype=np.uint8)).save(path)

    counts, edges = intensity_histogram(load_image(path))

    assert counts.tolist() == [2, 1, 0, 1]
    assert edges.tolist() == [-0.5, 0.5, 1.5, 2.5, 3.5]


def test_histogram_rgb_per_channel(tmp_path):
    path = tmp_path / "colour.png"
    Image.new("RGB", (4, 4), (10, 20, 30)).save(path)

    histogram = intensity_histogram(load_image(path), bins=8)

    assert histogram.counts.shape[0] == 3
    assert histogram.counts.sum(axis=1).tolist() == [16, 16, 16]


def test_histogram_rgb_luminance(tmp_path):
    path = tmp_path / "colour.png"
    Image.new("RGB", (4, 4), (10, 20, 30)).save(path)

    histogram = intensity_histogram(load_image(path), bins=8, per_channel=False)

    assert histogram.counts.ndim == 1
    assert histogram.counts.sum() == 16


def test_histogram_counts_hounsfield_units(tmp_path):
    path = write_ct(
        tmp_path / "ct.dcm", [0, 1024, 2024], RescaleIntercept=-1024, RescaleSlope=1
    )

    histogram = intensity_histogram(load_image(path), bins=4)

    assert histogram.edges[0] == -1024
    assert histogram.edges[-1] == 1000


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("LINEAR", [0, 102, 255]),
        ("LINEAR_EXACT", [0, 102, 255]),
        ("SIGMOID", [0, 102, 255]),
    ],
)
def test_apply_window_functions(function, expected):
    levels = apply_window(np.array([-1024.0, 0.0, 1000.0]), 40, 400, function=function)

    assert levels.tolist() == expected


def test_caption_lists_dicom_facts(tmp_path):
    path = write_ct(tmp_path / "ct.dcm", [0, 1, 2])

    assert load_image(path).caption() == "ct.dcm · DICOM · 3×1 · 16-bit · MONOCHROME2"


def test_display_arrays_read_only(tmp_path):
    path = tmp_path / "grey.png"
    Image.new("L", (2, 2)).save(path)

    image = load_image(path)

    assert isinstance(image, DisplayImage)
    assert not image.pixels.flags.writeable
    assert not image.values.flags.writeable


def test_import_leaves_heavy_packages_unloaded():
    code = (
        "import sys, biovfm_utils.imaging; "
        "print(sorted(m for m in ('pydicom', 'nibabel', 'skimage', 'PIL') "
        "if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "[]"


def test_gzip_expanding_past_limit_is_rejected(tmp_path, monkeypatch):
    import gzip as gzip_module

    from biovfm_utils import imaging

    monkeypatch.setattr(imaging, "MAX_GUNZIPPED_BYTES", 1000)
    path = tmp_path / "bomb.nii.gz"
    path.write_bytes(gzip_module.compress(b"\0" * 10_000))
    with pytest.raises(imaging.UnsupportedImageError, match="expand to more than"):
        imaging.load_image(path)
