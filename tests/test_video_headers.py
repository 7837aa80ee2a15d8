"""Specification of video rows of a verify scan, on videos that PyAV writes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import av
import numpy as np
import pytest

from biovfm_utils.headers import read_header
from biovfm_utils.verify import verify_source

# Each case: (container, suffix, codec, pixel format, format as read_header names it).
CONTAINERS = [
    ("avi", ".avi", "mpeg4", "yuv420p", "AVI"),
    ("mp4", ".mp4", "mpeg4", "yuv420p", "MP4"),
    ("mov", ".mov", "mjpeg", "yuvj420p", "QuickTime"),
    ("matroska", ".mkv", "ffv1", "yuv420p", "Matroska/WebM"),
    ("webm", ".webm", "libvpx", "yuv420p", "Matroska/WebM"),
]
IDS = [case[0] for case in CONTAINERS]


def write_video(path, container, codec, pixel_format, *, frames=7, size=(64, 48)):
    """Encode ``frames`` frames of a moving gradient and return the path."""
    width, height = size
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pixel_format
        for index in range(frames):
            ramp = np.linspace(0, 255, width, dtype=np.uint8)
            pixels = np.broadcast_to(
                np.roll(ramp, index)[None, :, None], (height, width, 3)
            )
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(pixels), format="rgb24"
            )
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return Path(path)


@pytest.mark.parametrize(
    ("container", "suffix", "codec", "pixel_format", "name"), CONTAINERS, ids=IDS
)
def test_video_fields(tmp_path, container, suffix, codec, pixel_format, name):
    path = write_video(tmp_path / f"clip{suffix}", container, codec, pixel_format)
    record = read_header(path)
    assert record["error"] is None
    assert record["format"] == name
    assert (record["width"], record["height"]) == (64, 48)
    assert record["frames"] == 7
    assert record["bit_depth"] == 8
    assert record["colour_mode"] == pixel_format


@pytest.mark.parametrize(
    ("pixel_format", "bit_depth"), [("gray", 8), ("gray16le", 16), ("yuv420p10le", 10)]
)
def test_video_bit_depth(tmp_path, pixel_format, bit_depth):
    path = write_video(tmp_path / "clip.mkv", "matroska", "ffv1", pixel_format)
    record = read_header(path)
    assert record["bit_depth"] == bit_depth
    assert record["colour_mode"] == pixel_format


@pytest.mark.parametrize("fraction", [0.95, 0.5, 0.1])
@pytest.mark.parametrize(
    ("container", "suffix", "codec", "pixel_format", "name"), CONTAINERS, ids=IDS
)
def test_video_truncated(
    tmp_path, container, suffix, codec, pixel_format, name, fraction
):
    content = write_video(
        tmp_path / f"whole{suffix}", container, codec, pixel_format
    ).read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(content[: int(len(content) * fraction)])
    record = read_header(cut)
    assert record["format"] == name
    assert record["error"].startswith("truncated: ")
    assert f"but the file has {cut.stat().st_size:,}" in record["error"]


def test_video_without_video_stream(tmp_path):
    path = tmp_path / "sound.mkv"
    with av.open(str(path), "w", format="matroska") as output:
        stream = output.add_stream("pcm_s16le", rate=8000)
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        samples.sample_rate = 8000
        for packet in stream.encode(samples):
            output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    record = read_header(path)
    assert record["error"] == "not an image: no video stream in the Matroska/WebM file"


def test_video_damaged_container(tmp_path):
    # Intact box sizes, but no movie header (moov) for FFmpeg to parse.
    file_type = b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom"
    media_data = np.random.default_rng(0).bytes(100)
    path = tmp_path / "noise.mp4"
    path.write_bytes(file_type + (8 + 100).to_bytes(4, "big") + b"mdat" + media_data)
    record = read_header(path)
    assert record["format"] == "MP4"
    assert record["error"].startswith("damaged: FFmpeg could not read the MP4 file")


def test_video_noise_is_damaged(tmp_path):
    # An intact RIFF chunk size around bytes that are not an AVI header.
    payload = b"AVI LIST" + np.random.default_rng(0).bytes(2000)
    path = tmp_path / "noise.avi"
    path.write_bytes(b"RIFF" + len(payload).to_bytes(4, "little") + payload)
    record = read_header(path)
    assert record["error"] == "damaged: FFmpeg found no stream in the AVI file"


def test_video_trailing_bytes_not_truncation(tmp_path):
    content = write_video(tmp_path / "clip.avi", "avi", "mpeg4", "yuv420p").read_bytes()
    (tmp_path / "padded.avi").write_bytes(content + b"\xff" * 100)
    record = read_header(tmp_path / "padded.avi")
    assert record["error"] is None
    assert record["frames"] == 7


def test_video_index_first_cut_before_media(tmp_path):
    # With faststart the movie box comes first, so a cut where the media data
    # begin leaves every remaining box intact.
    path = tmp_path / "clip.mp4"
    with av.open(
        str(path), "w", format="mp4", options={"movflags": "faststart"}
    ) as output:
        stream = output.add_stream("mpeg4", rate=25)
        stream.width, stream.height = 64, 48
        for index in range(7):
            pixels = np.full((48, 64, 3), index * 30, np.uint8)
            output.mux(
                stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24"))
            )
        output.mux(stream.encode())
    content = path.read_bytes()
    media = content.index(b"mdat") - 4
    (tmp_path / "cut.mp4").write_bytes(content[:media])
    record = read_header(tmp_path / "cut.mp4")
    assert record["error"] == (
        "truncated: the MP4 file has no media data box (mdat or moof), so its "
        "frames are missing"
    )


def test_video_invalid_box(tmp_path):
    content = bytearray(
        write_video(tmp_path / "clip.mp4", "mp4", "mpeg4", "yuv420p").read_bytes()
    )
    second_box = int.from_bytes(content[:4], "big")  # the end of the ftyp box
    content[second_box : second_box + 8] = b"\x00\x00\x00\x02\x01\x02\x03\x04"
    (tmp_path / "broken.mp4").write_bytes(bytes(content))
    record = read_header(tmp_path / "broken.mp4")
    assert (
        record["error"]
        == f"damaged: the MP4 file has no valid box at byte {second_box:,}"
    )


def test_video_cut_in_box_header(tmp_path):
    content = write_video(tmp_path / "clip.mp4", "mp4", "mpeg4", "yuv420p").read_bytes()
    media = content.index(b"mdat") - 4
    (tmp_path / "cut.mp4").write_bytes(content[: media + 5])
    record = read_header(tmp_path / "cut.mp4")
    assert record["error"].startswith("truncated: ")


def test_video_matroska_trailing_bytes(tmp_path):
    content = write_video(
        tmp_path / "clip.mkv", "matroska", "ffv1", "yuv420p"
    ).read_bytes()
    # Read as EBML, these bytes are a 2-byte ID and a 16 MiB size.
    junk = b"\x4f\xff\x10\xff\xff\xff" + bytes(94)
    (tmp_path / "padded.mkv").write_bytes(content + junk)
    record = read_header(tmp_path / "padded.mkv")
    assert record["error"] is None
    assert record["frames"] == 7


def test_video_without_pyav(tmp_path):
    path = write_video(tmp_path / "clip.mp4", "mp4", "mpeg4", "yuv420p")
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["av"] = None  # makes "import av" raise ImportError
        from biovfm_utils.headers import read_header
        print(read_header({str(path)!r})["error"])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == (
        "unsupported: MP4 video: install PyAV (pip install av) to count its frames"
    )


def test_verify_counts_video_frames(tmp_path):
    copy = tmp_path / "EchoNet"
    copy.mkdir()
    write_video(copy / "a.avi", "avi", "mpeg4", "yuv420p", frames=5)
    write_video(copy / "b.avi", "avi", "mpeg4", "yuv420p", frames=9)
    report = verify_source(
        "EchoNet-Dynamic",
        copy,
        manifest=tmp_path / "manifest",
        workers=1,
        progress=False,
    )
    assert report.image_count == 14
    assert report.n_unreadable == 0
