"""Recognise file formats from their first bytes, and describe non-image content.

A download that returns an HTML login page, a Git LFS pointer or an empty file
often carries an image's name. These checks read the content, never the name.
"""

from __future__ import annotations

from dataclasses import dataclass

_SIGNATURES = {
    b"\x1f\x8b": "gzip",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"II*\0": "TIFF",
    b"MM\0*": "TIFF",
    b"II+\0": "TIFF",  # BigTIFF
    b"MM\0+": "TIFF",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"\0\0\0\x0cjP  \r\n\x87\n": "JPEG 2000",  # JP2 file
    b"\xff\x4f\xff\x51": "JPEG 2000",  # codestream
}
_NETPBM = {
    b"P1": "PBM",
    b"P4": "PBM",
    b"P2": "PGM",
    b"P5": "PGM",
    b"P3": "PPM",
    b"P6": "PPM",
    b"Pf": "PFM",
    b"PF": "PFM",
}
# Sizes of the DIB header that follows the 14-byte BMP file header.
_BMP_DIB_SIZES = (12, 40, 52, 56, 64, 108, 124)

_REFETCH_HINT = "Download or copy the file again"


@dataclass(frozen=True)
class ContentDescription:
    """Description of unrecognised content, for an error message.

    ``could_be_dicom`` is True for binary content that may be DICOM without the
    128-byte preamble, which only a forced read by pydicom can tell.
    """

    reason: str
    hint: str | None
    could_be_dicom: bool = False


def detect_format(head: bytes) -> str | None:
    """Return the format named by the signature at the start of a file, or None.

    `head` is the start of the file, and 4096 bytes are enough for every format.
    The result is one of "DICOM", "NIfTI-1", "NIfTI-2", "gzip", "PNG", "JPEG", "TIFF",
    "GIF", "BMP", "WebP", "JPEG 2000", "PBM", "PGM", "PPM" or "PFM". DICOM is
    checked first because its 128-byte preamble may itself start with a TIFF
    header. DICOM without the preamble and "DICM" prefix returns None.
    """
    if head[128:132] == b"DICM":
        return "DICOM"
    header_sizes = (
        int.from_bytes(head[:4], "little"),
        int.from_bytes(head[:4], "big"),
    )
    if 348 in header_sizes and head[344:348] == b"n+1\0":
        return "NIfTI-1"
    if 540 in header_sizes and head[4:12] == b"n+2\0\r\n\x1a\n":
        return "NIfTI-2"

    for signature, format_name in _SIGNATURES.items():
        if head.startswith(signature):
            return format_name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
        return "BMP"
    if head[:2] in _NETPBM and head[2:3].isspace():
        return _NETPBM[head[:2]]
    return None


def describe_content(head: bytes) -> ContentDescription:
    """Describe content that `detect_format` did not recognise."""
    if not head:
        return ContentDescription(
            "the file is empty (0 bytes)",
            f"{_REFETCH_HINT}: the transfer was probably interrupted",
        )

    header_sizes = (int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big"))
    if 348 in header_sizes and head[344:348] == b"ni1\0":
        return ContentDescription(
            "this is the header of a NIfTI-1 .hdr/.img pair, which this package does not read",
            "Convert the pair to a single .nii file, for example with nibabel",
        )

    binary_formats = {
        b"PK\x03\x04": ("a ZIP archive", "Extract the image from the archive first"),
        b"%PDF": ("a PDF document", None),
        b"NRRD": ("an NRRD file, a format this package does not read", None),
        b"\x28\xb5\x2f\xfd": ("Zstandard-compressed data", "Decompress it first"),
        b"BZh": ("bzip2-compressed data", "Decompress it first"),
        b"\xfd7zXZ\0": ("xz-compressed data", "Decompress it first"),
    }
    for signature, (kind, hint) in binary_formats.items():
        if head.startswith(signature):
            return ContentDescription(f"this looks like {kind}, not an image", hint)

    text = _decode_text(head)
    if text is None:
        return ContentDescription(
            "the content matches no supported image format "
            f"(first bytes: {head[:8].hex(' ')})",
            "Supported formats: PNG, JPEG, TIFF, PBM/PGM/PPM/PFM, GIF, BMP, WebP, "
            "JPEG 2000, DICOM, NIfTI-1 and NIfTI-2, each optionally gzip-compressed",
            could_be_dicom=True,
        )
    return _describe_text(text)


def _describe_text(text: str) -> ContentDescription:
    start = text.lstrip().lower()
    if start.startswith("version https://git-lfs"):
        return ContentDescription(
            "this looks like a Git LFS pointer file, not an image",
            "Fetch the real file with `git lfs pull` in the repository it came from",
        )
    if start.startswith("<!doctype html") or "<html" in start[:1024]:
        return ContentDescription(
            "this looks like an HTML page, not an image",
            "A download link may have returned a login, consent or error page. "
            "Open the link in a browser to see what it requires",
        )
    if start.startswith("<"):
        return ContentDescription(
            "this looks like an XML document, not an image",
            "A download link may have returned an error response",
        )
    if start.startswith(("{", "[")):
        return ContentDescription(
            "this looks like JSON text, not an image",
            "A download link may have returned an error response",
        )
    first_line = text.strip().splitlines()[0][:60] if text.strip() else ""
    return ContentDescription(
        f"this looks like a text file, not an image (it starts with {first_line!r})",
        None,
    )


def _decode_text(head: bytes) -> str | None:
    """Return `head` as text if it has no NUL bytes and is mostly printable UTF-8."""
    if b"\0" in head:
        return None
    # A multi-byte character may be cut at the end of the head.
    text = head.decode("utf-8", errors="ignore")
    printable = sum(char.isprintable() or char in "\t\r\n\f" for char in text)
    if text and printable / len(text) >= 0.95:
        return text
    return None
