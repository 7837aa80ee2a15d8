"""Read the frame count, size and pixel format of a video without decoding it.

PyAV, the Python binding of FFmpeg, opens the container and reads the header of
its first video stream. AVI and MP4 headers store the frame count. Matroska,
WebM and fragmented MP4 files store none, so their video packets are counted
instead, which reads the whole file but decodes nothing. An AVI header counts frame intervals, so a
video that skips frames (variable frame rate) counts the skipped ones too.

A container can look intact while the data behind its header are cut short.
So the top-level chunks of AVI files (RIFF), the boxes of MP4 and QuickTime
files and the elements of Matroska files are walked, with one small read each.
One that ends past the end of the file marks the file as truncated. A Matroska
segment of unknown size, as streaming muxers write it, cannot be checked.
"""

from __future__ import annotations

import re
import struct
from typing import BinaryIO

from biovfm_utils.headers import ContentExtent, HeaderError

# The IDs of the EBML header and of a Matroska segment.
_EBML_TOP_LEVEL_IDS = {b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67"}
# MP4 box types are four printable ASCII characters, such as "ftyp" or "moov".
_BOX_TYPE = re.compile(rb"[\x20-\x7e]{4}")


def read_video_header(stream: BinaryIO, container: str, extent: ContentExtent) -> dict:
    """Read the first video stream of an AVI, MP4, QuickTime or Matroska file.

    ``container`` names the format as `biovfm_utils.headers` detected it.
    ``frames`` counts the frames of the first video stream, and ``colour_mode``
    is its FFmpeg pixel format, such as "yuv420p" or "gray".

    Raises
    ------
    HeaderError
        If PyAV is not installed, if FFmpeg cannot parse the container, or if
        the file has no video stream (not an image).
    """
    try:
        import av
    except ImportError as error:
        raise HeaderError(
            "unsupported",
            f"{container} video: install PyAV (pip install av) to count its frames",
            container,
        ) from error

    # A cut file often fails to parse, and the cut is then the better error.
    truncation = _check_chunks(stream, container, extent)
    stream.seek(0)
    try:
        with av.open(stream, mode="r") as media:
            if not media.streams:
                # A container without any stream, audio or video, is broken.
                raise HeaderError(
                    "damaged",
                    f"FFmpeg found no stream in the {container} file",
                    container,
                )
            if not media.streams.video:
                raise HeaderError(
                    "not an image",
                    f"no video stream in the {container} file",
                    container,
                )
            video = media.streams.video[0]
            codec = video.codec_context
            if codec is None:
                raise HeaderError(
                    "damaged",
                    f"the video stream of the {container} file has no codec parameters",
                    container,
                )
            pixel_format = codec.format
            frames = video.frames or _count_packets(media, video)
            width, height = codec.width, codec.height
            if not width or not height:
                raise HeaderError(
                    "damaged",
                    f"FFmpeg found no frame size in the {container} file",
                    container,
                )
    except (HeaderError, av.FFmpegError, OSError, ValueError, EOFError) as error:
        if truncation is not None:
            kind, detail = truncation.split(": ", 1)
            raise HeaderError(kind, detail, container) from error
        if isinstance(error, HeaderError):
            raise
        # FFmpeg's errors end with the file name, which a manifest row need not
        # repeat, so only the reason is kept.
        reason = getattr(error, "strerror", None) or error
        raise HeaderError(
            "damaged",
            f"FFmpeg could not read the {container} file ({reason})",
            container,
        ) from error

    return {
        "format": container,
        "width": width,
        "height": height,
        "frames": frames,
        "bit_depth": pixel_format.components[0].bits if pixel_format else None,
        "colour_mode": pixel_format.name if pixel_format else None,
        "error": truncation,
    }


def _count_packets(media, video) -> int:
    # Matroska and WebM store one video frame per block, and fragmented MP4
    # one per sample, so each packet is one frame. Demuxing reads the packets' bytes but decodes nothing. The final
    # flush packet has no data and is left out.
    return sum(1 for packet in media.demux(video) if packet.size)


def _check_chunks(
    stream: BinaryIO, container: str, extent: ContentExtent
) -> str | None:
    """Return an error string if the top-level chunks show that the file is cut."""
    if container == "AVI":
        end, _ = _walk_chunks(stream, extent.size, _riff_chunk)
        return extent.check_end(end, "the RIFF chunks")
    if container in ("MP4", "QuickTime"):
        end, box_types = _walk_chunks(stream, extent.size, _mp4_box)
        if end < extent.size and not extent.gzip:
            if extent.size - end < 16:  # less than a box header with a 64-bit size
                return f"truncated: the {container} file ends inside a box header"
            return f"damaged: the {container} file has no valid box at byte {end:,}"
        if not {b"mdat", b"moof"} & set(box_types) and not extent.gzip:
            # A file that stores its index first and is cut where the media
            # data begin has intact boxes, but no frames.
            return (
                f"truncated: the {container} file has no media data box (mdat or "
                "moof), so its frames are missing"
            )
        # NOTE: a fragmented MP4 cut between two fragments (moof and mdat
        # pairs) has only whole boxes, so it passes with fewer frames.
        return extent.check_end(end, "the MP4 boxes")
    end, _ = _walk_chunks(stream, extent.size, _ebml_element)
    return extent.check_end(end, "the Matroska elements")


def _walk_chunks(stream: BinaryIO, size: int, read_chunk) -> tuple[int, list[bytes]]:
    """Follow the sizes of the top-level chunks and return their end and types."""
    position = 0
    types = []
    while position < size:
        stream.seek(position)
        chunk = read_chunk(stream, size - position)
        if chunk is None:
            break
        chunk_type, length = chunk
        types.append(chunk_type)
        position += length
    return position, types


def _riff_chunk(stream: BinaryIO, remaining: int) -> tuple[bytes, int] | None:
    """Return the type and length, with padding, of the RIFF chunk at the position."""
    header = stream.read(12)
    if len(header) < 12 or header[:4] != b"RIFF":
        return None  # the end, or bytes after the last RIFF chunk
    (size,) = struct.unpack("<I", header[4:8])
    return header[8:12], 8 + size + (size & 1)  # data are padded to an even length


def _mp4_box(stream: BinaryIO, remaining: int) -> tuple[bytes, int] | None:
    """Return the type and length of the MP4 box at the stream's position."""
    header = stream.read(8)
    if len(header) < 8 or not _BOX_TYPE.fullmatch(header[4:8]):
        return None  # the end, or bytes that are not a box
    box_type = header[4:8]
    (size,) = struct.unpack(">I", header[:4])
    if size == 1:  # a 64-bit size follows the type
        extended = stream.read(8)
        if len(extended) < 8:
            return None
        (size,) = struct.unpack(">Q", extended)
    elif size == 0:  # the box extends to the end of the file
        return box_type, remaining
    if size < 8:
        return None  # not a valid box, so the walk stops here
    return box_type, size


def _ebml_element(stream: BinaryIO, remaining: int) -> tuple[bytes, int] | None:
    """Return the ID and length of the top-level EBML element at the position.

    Returns None for an element of unknown size, which a muxer writing to a
    stream may leave, because its end is then not recorded. Returns None too
    for an ID other than the EBML header or a segment, which is not the start
    of a top-level element.
    """
    header = stream.read(12)  # a 4-byte ID and an 8-byte size at most
    id_length = _vint_length(header[:1])
    if id_length is None or header[:id_length] not in _EBML_TOP_LEVEL_IDS:
        return None
    size_length = _vint_length(header[id_length : id_length + 1])
    if size_length is None or len(header) < id_length + size_length:
        return None
    field = int.from_bytes(header[id_length : id_length + size_length], "big")
    marker = 1 << (7 * size_length)
    size = field - marker  # the size without its length marker bit
    if size == marker - 1:  # all value bits set: unknown size
        return None
    return header[:id_length], id_length + size_length + size


def _vint_length(first: bytes) -> int | None:
    """Return the length of an EBML variable-size integer from its first byte."""
    if not first or first[0] == 0:
        return None
    return 9 - first[0].bit_length()
