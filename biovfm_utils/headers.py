"""Read an image file's size, frame count and bit depth from its header alone.

`read_header` is the per-file step of a verify scan. It never decodes pixels:
Pillow formats are opened lazily (`biovfm_utils.pillow_headers`), DICOM is read
with ``stop_before_pixels=True`` and NIfTI through its header class
(`biovfm_utils.medical_headers`). The format comes from the file's signature,
never from its name, and gzip-compressed files are read through a streaming
decompressor that stops after the header.

A header can look intact while the data behind it are cut short. So each reader
also compares the byte range that its header describes with the file's end,
wherever that costs one small read. It checks the end marker of PNG, JPEG and GIF
files, the strip or tile offsets of TIFF files, the pixel data length of DICOM
files and the voxel data size of NIfTI files.

Inside a gzip file the uncompressed end is known only from the size that the
gzip trailer records, and a cut file has other bytes in its place. NIfTI voxel
data, which end the content, must match that size exactly. The ranges of other
formats are compared with it only when it is smaller, so a cut ``.dcm.gz`` or
``.tif.gz`` file is often not found. Finding it would mean decompressing the
whole file.

Videos (AVI, MP4, QuickTime, Matroska) are read by PyAV from their container
headers (`biovfm_utils.video_headers`), without decoding frames. NRRD volumes
and FastMRI HDF5 files are read by `biovfm_utils.volume_headers`. MetaImage
files, NumPy arrays and HDF5 files of other layouts are recognised and recorded
as unsupported, without sizes.

Every problem becomes an ``error`` string that starts with one of
:data:`ERROR_KINDS` and a colon, for example ``"truncated: the PNG end chunk
(IEND) is missing"``.

Warnings that Pillow and pydicom issue while a file is read are caught per file,
so none reaches standard error. Those that report missing or corrupt data (see
:data:`DAMAGE_WARNING`) make an otherwise readable file "damaged". The rest,
such as pydicom's notes on invalid attribute values, are logged at DEBUG.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import threading
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from biovfm_utils.signatures import describe_content, detect_format

logger = logging.getLogger(__name__)

#: Fields of a manifest row that `read_header` fills, in manifest order.
HEADER_FIELDS = (
    "format",
    "width",
    "height",
    "frames",
    "bit_depth",
    "colour_mode",
    "byte_size",
    "error",
)

#: The kinds of error: the text before the colon of every error string.
ERROR_KINDS = (
    "not an image",
    "empty file",
    "truncated",
    "damaged",
    "unsupported",
    "unreadable",
)

#: Warning texts that report missing or corrupt data. Pillow 13.0 issues
#: "Corrupt EXIF data", "Possibly corrupt EXIF data", "Tag data larger than
#: file" and "Truncated File Read" for TIFF tags whose data lie past the end of
#: the file. The other words cover the usual wording of the same problem.
DAMAGE_WARNING = re.compile(
    r"corrupt|truncat|larger than file|offset too large|end of file|premature",
    re.IGNORECASE,
)

# Python's warning filters and handler are global to the process, so
# `warnings.catch_warnings` in two threads at once can leave either thread's
# state behind. Threads therefore read headers one at a time.
# NOTE: this serialises the reads of a Dask worker that runs several threads.
# Worker processes, and Dask workers with one thread each, are unaffected.
_WARNINGS_LOCK = threading.Lock()


class _Capture(threading.local):
    """The pydicom log messages held back while this thread reads a header."""

    def __init__(self):
        self.messages: list[str] | None = None


_capture = _Capture()


def _hold_pydicom_warning(record: logging.LogRecord) -> bool:
    """Keep pydicom's logged warnings for the file being read, not the log.

    pydicom logs each of its warnings at WARNING as well as issuing it. A
    logging configuration that shows warnings, such as the command line's,
    would print the text that `read_header` already catches.
    """
    messages = _capture.messages
    if messages is None or record.levelno < logging.WARNING:
        return True
    messages.append(record.getMessage())
    return False


logging.getLogger("pydicom").addFilter(_hold_pydicom_warning)

# Enough for every signature, including the NIfTI-1 magic at byte 344.
_HEAD_SIZE = 4096
_NIFTI_FORMATS = ("NIfTI-1", "NIfTI-2")
# The size of a NIfTI-2 header. A NIfTI-1 header has 348 bytes.
_NIFTI_HEAD_SIZE = 540
# zlib's window setting for content with a gzip header and trailer.
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_GZIP_CHUNK_SIZE = 8192
# Video containers recognised by a signature at the start of the file.
_VIDEO_SIGNATURES = {b"\x1a\x45\xdf\xa3": "Matroska/WebM"}
_QUICKTIME_FIRST_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# An HDF5 file may start with a user block of 512 bytes or a larger power of
# two, and its signature follows the block. Only blocks of up to 2 KiB, within
# the head that is read anyway, are looked past.
_HDF5_OFFSETS = (0, 512, 1024, 2048)
# NumPy arrays are recognised but not read.
_NUMPY_SIGNATURE = b"\x93NUMPY"


class HeaderError(Exception):
    """A file whose header cannot be read, with the error kind and the format.

    ``str(error)`` is the manifest's error string: the kind, a colon and the
    detail.
    """

    def __init__(self, kind: str, detail: str, format_name: str | None = None):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.format_name = format_name


@dataclass(frozen=True)
class ContentExtent:
    """The size of a file's content, to check the byte ranges its header names.

    For gzip-compressed files ``size`` is the uncompressed size from the gzip
    trailer, which stores it modulo 2**32. A truncated gzip file has other bytes
    in its place, so that size is only trusted to match exactly. A file of
    several gzip members also differs, because the trailer gives the size of
    the last member alone. So a range that does not match is checked against
    ``measure_size()``, which decompresses the whole file, where given.
    """

    size: int
    gzip: bool = False
    measure_size: Callable[[], int] | None = None

    def check_end(self, end: int, what: str, *, last: bool = False) -> str | None:
        """Return an error string if content ending at byte ``end`` is cut short.

        ``last`` states that nothing may follow the range, which lets the gzip
        trailer reveal truncation. Other compressed ranges are checked only
        against a trailer size smaller than their end.
        """
        if self.gzip:
            if end % 2**32 == self.size or (not last and end <= self.size):
                return None
            if self.measure_size is None:
                return (
                    f"damaged: {what} end at byte {end:,}, but the gzip trailer "
                    f"records {self.size:,} uncompressed bytes (modulo 4 GiB), so "
                    "the file is truncated or damaged"
                )
            try:
                size = self.measure_size()
            except HeaderError as error:
                return str(error)
            if end == size or (not last and end <= size):
                return None
            # The gzip data are intact, so a range past their end means that
            # the content was cut before it was compressed.
            kind = "truncated" if end > size else "damaged"
            return (
                f"{kind}: {what} end at byte {end:,}, but the decompressed "
                f"content has {size:,} bytes"
            )
        if end <= self.size:
            return None
        return f"truncated: {what} end at byte {end:,}, but the file has {self.size:,}"


def read_header(path: str | os.PathLike) -> dict:
    """Read the format, size, frame count and bit depth of one file.

    Parameters
    ----------
    path
        The file. A symbolic link is followed.

    Returns
    -------
    dict
        The :data:`HEADER_FIELDS`:

        - ``format``: as `detect_format` names it, with " (gzip)" appended for
          compressed files.
        - ``width`` and ``height``: in pixels.
        - ``frames``: frames of a multi-frame file or slices of a volume, and 1
          for a 2-D image.
        - ``bit_depth``: bits per sample.
        - ``colour_mode``: the Pillow mode, the DICOM Photometric Interpretation,
          or "greyscale", "RGB" or "RGBA" for NIfTI.
        - ``byte_size``: the file size in bytes.
        - ``error``: None for a readable image. Otherwise the fields known before
          the problem was found are kept, and the rest are None.

    Notes
    -----
    No exception escapes for a bad file: a scan of millions of files must not
    stop at one, and third-party parsers raise many exception types on damaged
    input. Each caught exception becomes the row's ``error``. Warnings are
    caught too: one that matches :data:`DAMAGE_WARNING` becomes the ``error``
    of a file that has none yet, and every warning is logged at DEBUG.
    """
    return read_headers([path])[0]


def read_headers(paths: Iterable[str | os.PathLike]) -> list[dict]:
    """Read the header of each file, as `read_header` does, and return the records.

    Setting up the catching of warnings costs more than reading a small header.
    So a batch sets it up once, and each file gets the warnings issued while it
    was read.
    """
    records = []
    with _caught_warnings() as take_messages:
        for path in paths:
            path = os.fspath(path)
            record = _read_header(path)
            messages = take_messages()
            for message in messages:
                logger.debug("warning while reading %s: %s", path, message)
            damage = [message for message in messages if DAMAGE_WARNING.search(message)]
            if damage and record["error"] is None:
                record["error"] = f"damaged: {'; '.join(damage)}"
            records.append(record)
    return records


@contextmanager
def _caught_warnings() -> Iterator[Callable[[], list[str]]]:
    """Catch warnings, and pydicom's logged warnings, while this block runs.

    The block gets a function that returns the texts caught since its last
    call, with whitespace runs collapsed and without repeated texts.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _capture.messages = []

        def take_messages() -> list[str]:
            if not caught and not _capture.messages:
                return []  # the common case, at the cost of two checks
            texts = [str(warning.message) for warning in caught] + _capture.messages
            caught.clear()  # the list that catch_warnings appends to
            _capture.messages = []
            return list(dict.fromkeys(" ".join(text.split()) for text in texts))

        try:
            yield take_messages
        finally:
            _capture.messages = None


def _read_header(path: str) -> dict:
    record: dict = dict.fromkeys(HEADER_FIELDS)
    try:
        size = os.stat(path).st_size
        record["byte_size"] = size
        with open(path, "rb") as stream:
            record.update(_read_stream(stream, size))
    except HeaderError as error:
        record["format"] = error.format_name
        record["error"] = str(error)
    except FileNotFoundError:
        reason = "a broken symbolic link" if os.path.islink(path) else "file not found"
        record["error"] = f"unreadable: {reason}"
    except PermissionError:
        record["error"] = "unreadable: permission denied"
    except IsADirectoryError:
        record["error"] = "unreadable: a directory, not a file"
    except OSError as error:
        record["error"] = f"unreadable: {error.strerror or error}"
    except Exception as error:  # see Notes in the docstring
        logger.debug("unexpected error reading %s", path, exc_info=True)
        record["error"] = f"damaged: {type(error).__name__}: {error}"
    return record


def _read_stream(stream: BinaryIO, size: int) -> dict:
    if size == 0:
        raise HeaderError("empty file", "0 bytes")
    head = stream.read(_HEAD_SIZE)
    format_name = detect_format(head)
    if format_name == "gzip":
        return _read_gzip(stream, size)
    return _read_content(stream, head, format_name, ContentExtent(size))


def _read_content(
    stream: BinaryIO, head: bytes, format_name: str | None, extent: ContentExtent
) -> dict:
    """Dispatch on the detected format; ``stream`` may be any position."""
    video = _video_format(head, extent.size)
    if video is not None:
        from biovfm_utils.video_headers import read_video_header

        return read_video_header(stream, video, extent)

    if head.startswith(b"NRRD"):
        from biovfm_utils.volume_headers import read_nrrd_header

        return read_nrrd_header(stream, extent)
    if any(head.startswith(_HDF5_SIGNATURE, offset) for offset in _HDF5_OFFSETS):
        from biovfm_utils.volume_headers import read_hdf5_header

        return read_hdf5_header(stream, extent)
    if head.startswith(_NUMPY_SIGNATURE):
        raise HeaderError(
            "unsupported", "NumPy array files are not read", "NumPy array"
        )
    # A MetaImage header starts with one of these keys, maybe after blank lines.
    if head[:256].lstrip().startswith((b"ObjectType", b"NDims")):
        raise HeaderError(
            "unsupported", "MetaImage (.mha, .mhd) files are not read", "MetaImage"
        )

    stream.seek(0)
    if format_name == "DICOM":
        from biovfm_utils.medical_headers import read_dicom_header

        return read_dicom_header(stream, extent)
    if format_name in _NIFTI_FORMATS:
        return _read_nifti(head, format_name, extent)
    if format_name is not None:
        from biovfm_utils.pillow_headers import read_pillow_header

        return read_pillow_header(stream, format_name, head, extent)

    description = describe_content(head)
    if description.could_be_dicom:
        from biovfm_utils.medical_headers import read_dicom_header

        record = read_dicom_header(stream, extent, force=True)
        if record is not None:
            return record
    raise HeaderError("not an image", description.reason)


def _read_nifti(head: bytes, format_name: str, extent: ContentExtent) -> dict:
    from biovfm_utils.medical_headers import read_nifti_header

    return read_nifti_header(head, format_name, extent)


def _video_format(head: bytes, size: int) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "QuickTime" if brand == b"qt  " else "MP4"
    # An early QuickTime file has no file type box. Its first atom must then
    # have a plausible size, so that text such as "The free ..." is not taken
    # for one.
    first_atom_size = int.from_bytes(head[:4], "big")
    if head[4:8] in _QUICKTIME_FIRST_ATOMS and 8 <= first_atom_size <= size:
        return "QuickTime"
    for signature, name in _VIDEO_SIGNATURES.items():
        if head.startswith(signature):
            return name
    return None


def _read_gzip(stream: BinaryIO, size: int) -> dict:
    """Read the header of gzip-compressed content, decompressing only its start."""
    if size < 18:  # a 10-byte gzip header and an 8-byte trailer at least
        raise HeaderError("truncated", f"a gzip file of {size} bytes", "gzip")
    extent = gzip_extent(stream, size)

    # Most compressed images are NIfTI, whose header is at most 540 bytes, so
    # the rest of the head is decompressed only for other content.
    stream.seek(0)
    head = b"".join(_decompress(stream, _NIFTI_HEAD_SIZE))
    format_name = detect_format(head)
    if format_name not in _NIFTI_FORMATS:
        stream.seek(0)
        head = b"".join(_decompress(stream, _HEAD_SIZE))
        format_name = detect_format(head)
    # NRRD is recognised by _read_content, which reads the NRRD magic itself.
    if (format_name is None and not head.startswith(b"NRRD")) or format_name == "gzip":
        raise HeaderError(
            "not an image",
            "gzip-compressed content that is not a supported image "
            f"({describe_content(head).reason})",
            "gzip",
        )

    try:
        if format_name in _NIFTI_FORMATS:
            record = _read_nifti(head, format_name, extent)
        else:
            # The other formats read a stream, which decompresses from the start.
            stream.seek(0)
            with gzip.GzipFile(fileobj=stream, mode="rb") as inner:
                record = _read_content(inner, head, format_name, extent)
    except HeaderError as error:
        error.format_name = f"{error.format_name or format_name} (gzip)"
        raise
    except (OSError, EOFError, zlib.error) as error:
        raise HeaderError(
            "damaged",
            f"the gzip data are truncated or damaged ({error})",
            f"{format_name} (gzip)",
        ) from error
    record["format"] = f"{record['format']} (gzip)"
    return record


def gzip_extent(stream: BinaryIO, size: int, start: int = 0) -> ContentExtent:
    """Return the extent of gzip data from byte ``start`` to the end of a file.

    The size comes from the gzip trailer, and a size that does not match is
    measured by decompressing the data (see `ContentExtent`).
    """
    stream.seek(size - 4)
    uncompressed_size = int.from_bytes(stream.read(4), "little")

    def measure_size() -> int:
        stream.seek(start)
        return sum(len(piece) for piece in _decompress(stream))

    return ContentExtent(uncompressed_size, gzip=True, measure_size=measure_size)


def _decompress(stream: BinaryIO, limit: int | None = None) -> Iterator[bytes]:
    """Yield the decompressed content of a gzip file, at most ``limit`` bytes of it.

    The stream is read from its current position. Every gzip member is read,
    because a file may consist of several.

    Raises
    ------
    HeaderError
        If the compressed data are damaged or end inside a member.
    """
    decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
    remaining = limit
    try:
        while remaining is None or remaining > 0:
            if decompressor.eof:
                # Zero bytes may pad the end of a member, and gzip readers
                # skip them, as Python's gzip module does.
                compressed = decompressor.unused_data.lstrip(b"\0")
                while not compressed:
                    chunk = stream.read(_GZIP_CHUNK_SIZE)
                    if not chunk:
                        return
                    compressed = chunk.lstrip(b"\0")
                decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
            else:
                compressed = decompressor.unconsumed_tail or stream.read(
                    _GZIP_CHUNK_SIZE
                )
                if not compressed:
                    raise HeaderError(
                        "damaged",
                        "the gzip data are truncated or damaged (Compressed file "
                        "ended before the end-of-stream marker was reached)",
                        "gzip",
                    )
            # A max_length of 0 means no limit.
            piece = decompressor.decompress(compressed, remaining or 0)
            if remaining is not None:
                remaining -= len(piece)
            yield piece
    except zlib.error as error:
        raise HeaderError(
            "damaged", f"the gzip data are truncated or damaged ({error})", "gzip"
        ) from error
