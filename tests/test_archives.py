"""Tests of archive members read over HTTP and of safe archive extraction.

Archives are made in the tests; remote ones are served by the loopback server of
the ``http_server`` fixture.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import random
import stat
import struct
import tarfile
import zipfile

import pandas as pd
import pytest
from conftest import Reply

from biovfm_utils.archives import _extract, extract_archive
from biovfm_utils.fetch import (
    ArchiveError,
    DownloadError,
    InvalidSampleFileError,
    OfflineError,
    Sample,
    UnsafeArchiveError,
    WebPageError,
    fetch_sample,
    read_zip_member,
)

CATALOG = pd.DataFrame(
    [
        {
            "name": "Open Set",
            "aliases": [],
            "access": "open",
            "access_details": "open direct download",
            "url": "https://datasets.example/open-set",
        }
    ]
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("BIOVFM_OFFLINE", "BIOVFM_CACHE_DIR", "BIOVFM_DATA_ROOT"):
        monkeypatch.delenv(name, raising=False)


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def make_zip(count=200, size=20_000, compression=zipfile.ZIP_DEFLATED):
    """Return a zip of ``count`` random members and a name -> bytes mapping."""
    members = {f"images/img_{i:03d}.png": random_bytes(size, i) for i in range(count)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue(), members


def central_directory_size(archive: bytes) -> int:
    # The end-of-central-directory record (no comment) is the last 22 bytes;
    # the directory size is the 4-byte field at offset 12.
    return struct.unpack("<I", archive[-22 + 12 : -22 + 16])[0]


def member_sample(url, member, data, *, file="member.png", published=True):
    return Sample(
        source="Open Set",
        file=file,
        url=url,
        member=member,
        sha256=hashlib.sha256(data).hexdigest() if published else None,
        size_bytes=len(data),
        format="png",
        evidence="made in the test",
    )


def fetch(sample, tmp_path):
    return fetch_sample(
        sample, cache_dir=tmp_path / "cache", catalog=CATALOG, progress=False
    )


# --- Remote zip members ---------------------------------------------------------


def test_zip_member_read_by_range_requests(http_server):
    archive, members = make_zip()
    url = http_server.serve("/big.zip", Reply(body=archive, ranges=True))
    name = "images/img_150.png"
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo(name)
    needed = info.compress_size + central_directory_size(archive)

    data = read_zip_member(url, name)

    sent = http_server.body_bytes_sent("/big.zip")
    requests = http_server.requests_for("/big.zip")
    assert data == members[name]
    assert len(archive) > 4_000_000
    assert sent < len(archive) / 20
    assert sent <= needed + 2048
    assert all("Range" in request.headers for request in requests)
    assert all(request.status == 206 for request in requests)


def test_zip_member_fetched_into_cache(http_server, tmp_path):
    archive, members = make_zip(count=20)
    url = http_server.serve("/set.zip", Reply(body=archive, ranges=True))
    name = "images/img_007.png"

    result = fetch(member_sample(url, name, members[name]), tmp_path)

    assert result.path.read_bytes() == members[name]
    assert result.checksum == "verified"
    assert result.member == name


def test_zip_without_range_support_downloads_whole(http_server, tmp_path, caplog):
    archive, members = make_zip(count=20)
    url = http_server.serve("/set.zip", Reply(body=archive, ranges=False))
    name = "images/img_003.png"

    with caplog.at_level(logging.WARNING, logger="biovfm_utils"):
        result = fetch(member_sample(url, name, members[name]), tmp_path)

    assert result.path.read_bytes() == members[name]
    assert any("range requests" in record.getMessage() for record in caplog.records)
    assert len(http_server.requests_for("/set.zip")) == 2
    assert [path.name for path in (tmp_path / "cache").rglob("*")] == [
        "open-set",
        "member.png",
    ]


def test_zip_member_crc_mismatch_rejected(http_server):
    archive, _ = make_zip(count=5, size=5000, compression=zipfile.ZIP_STORED)
    name = "images/img_002.png"
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo(name)
    data_offset = info.header_offset + 30 + len(name.encode())
    corrupted = bytearray(archive)
    corrupted[data_offset + 100] ^= 0xFF
    url = http_server.serve("/bad.zip", Reply(body=bytes(corrupted), ranges=True))

    with pytest.raises(ArchiveError, match="CRC"):
        read_zip_member(url, name)


def test_zip_member_missing_lists_close_names(http_server):
    archive, _ = make_zip(count=5, size=100)
    url = http_server.serve("/set.zip", Reply(body=archive, ranges=True))

    with pytest.raises(ArchiveError) as caught:
        read_zip_member(url, "images/img_02.png")

    assert url in str(caught.value)
    assert "images/img_002.png" in str(caught.value)


def test_zip_range_request_error_names_status(http_server):
    url = http_server.url("/gone.zip")

    with pytest.raises(DownloadError) as caught:
        read_zip_member(url, "images/img_000.png")

    assert caught.value.status == 404
    assert url in str(caught.value)


def test_zip_login_page_rejected(http_server):
    page = b"<!DOCTYPE html><html><body>Sign in</body></html>"
    headers = {"Content-Type": "text/html"}
    url = http_server.serve("/set.zip", Reply(body=page, headers=headers))

    with pytest.raises(WebPageError, match="web page"):
        read_zip_member(url, "images/img_000.png")


def test_zip_member_offline_names_every_switch(http_server):
    archive, _ = make_zip(count=5, size=100)
    url = http_server.serve("/set.zip", Reply(body=archive, ranges=True))

    with pytest.raises(OfflineError) as caught:
        read_zip_member(url, "images/img_000.png", offline=True)

    assert "the --offline option or offline=True" in str(caught.value)
    assert http_server.requests == []


def test_unpublished_member_checked_before_pin(http_server, tmp_path):
    # The members are random bytes under .png names, so none is a PNG.
    archive, members = make_zip(count=5, size=5000)
    url = http_server.serve("/set.zip", Reply(body=archive, ranges=True))
    name = "images/img_001.png"
    sample = member_sample(url, name, members[name], published=False)

    with pytest.raises(InvalidSampleFileError) as caught:
        fetch(sample, tmp_path)

    assert f"{name} in {url}" in str(caught.value)
    assert list((tmp_path / "cache").rglob("*")) == []


def test_tar_member_streamed_into_cache(http_server, tmp_path):
    members = {f"images/{i:08d}_000.png": random_bytes(30_000, i) for i in range(5)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    url = http_server.serve("/images_001.tar.gz", Reply(body=buffer.getvalue()))
    name = "images/00000002_000.png"

    result = fetch(member_sample(url, name, members[name]), tmp_path)

    assert result.path.read_bytes() == members[name]


# --- Extraction -----------------------------------------------------------------


def make_zip_file(path, entries):
    """Write a zip of (name or ZipInfo, bytes) entries, a safe file first."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("good.txt", b"fine")
        for entry, data in entries:
            archive.writestr(entry, data)
    return path


def zip_entry(name, file_type):
    info = zipfile.ZipInfo(name)
    info.external_attr = (file_type | 0o644) << 16
    return info


def make_tar_file(path, entries):
    """Write a tar.gz of TarInfo entries (with optional data), a safe file first."""
    with tarfile.open(path, "w:gz") as archive:
        good = tarfile.TarInfo("good.txt")
        good.size = 4
        archive.addfile(good, io.BytesIO(b"fine"))
        for info, data in entries:
            if data is not None:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(info)
    return path


def tar_entry(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.fixture
def outside(tmp_path):
    """A folder beside the destination with one file that must stay unchanged."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"secret")
    return folder


def assert_nothing_written(tmp_path, outside, destination):
    assert not destination.exists()
    assert sorted(path.name for path in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"
    assert not (tmp_path / "evil.txt").exists()


ZIP_CASES = {
    "dot-dot": lambda outside: [("../evil.txt", b"x")],
    "nested-dot-dot": lambda outside: [("a/../../evil.txt", b"x")],
    "absolute": lambda outside: [(str(outside / "evil.txt"), b"x")],
    "drive-letter": lambda outside: [("C:/evil.txt", b"x")],
    "backslash-dot-dot": lambda outside: [("..\\evil.txt", b"x")],
    "symlink": lambda outside: [(zip_entry("link", stat.S_IFLNK), b"../outside")],
    "device": lambda outside: [(zip_entry("dev", stat.S_IFCHR), b"")],
}


@pytest.mark.parametrize("case", ZIP_CASES)
def test_hostile_zip_rejected(tmp_path, outside, case):
    archive = make_zip_file(tmp_path / "hostile.zip", ZIP_CASES[case](outside))
    destination = tmp_path / "destination"

    with pytest.raises(UnsafeArchiveError) as caught:
        extract_archive(archive, destination)

    assert str(archive) in str(caught.value)
    assert_nothing_written(tmp_path, outside, destination)


TAR_CASES = {
    "dot-dot": lambda outside: [(tar_entry("../evil.txt"), b"x")],
    "absolute": lambda outside: [(tar_entry(str(outside / "evil.txt")), b"x")],
    "symlink-absolute": lambda outside: [
        (tar_entry("link", tarfile.SYMTYPE, str(outside)), None),
        (tar_entry("link/evil.txt"), b"x"),
    ],
    "symlink-relative": lambda outside: [
        (tar_entry("link", tarfile.SYMTYPE, "../outside"), None),
        (tar_entry("link/evil.txt"), b"x"),
    ],
    "symlink-chain": lambda outside: [
        (tar_entry("here", tarfile.SYMTYPE, "."), None),
        (tar_entry("up", tarfile.SYMTYPE, "here/.."), None),
        (tar_entry("up/evil.txt"), b"x"),
    ],
    "hardlink-relative": lambda outside: [
        (tar_entry("hard", tarfile.LNKTYPE, "../outside/secret.txt"), None),
    ],
    "hardlink-absolute": lambda outside: [
        (tar_entry("hard", tarfile.LNKTYPE, str(outside / "secret.txt")), None),
    ],
    "character-device": lambda outside: [(tar_entry("dev", tarfile.CHRTYPE), None)],
    "block-device": lambda outside: [(tar_entry("disk", tarfile.BLKTYPE), None)],
    "fifo": lambda outside: [(tar_entry("pipe", tarfile.FIFOTYPE), None)],
}


@pytest.mark.parametrize("use_data_filter", [True, False], ids=["filter", "no-filter"])
@pytest.mark.parametrize("case", TAR_CASES)
def test_hostile_tar_rejected(tmp_path, outside, case, use_data_filter):
    if use_data_filter and not hasattr(tarfile, "data_filter"):
        pytest.skip("tarfile has no data filter on this Python version")
    archive = make_tar_file(tmp_path / "hostile.tar.gz", TAR_CASES[case](outside))
    destination = tmp_path / "destination"

    with pytest.raises(UnsafeArchiveError) as caught:
        _extract(archive, destination, use_data_filter)

    assert str(archive) in str(caught.value)
    assert_nothing_written(tmp_path, outside, destination)


def test_rejected_archive_keeps_existing_destination(tmp_path, outside):
    archive = make_tar_file(
        tmp_path / "hostile.tar.gz", TAR_CASES["symlink-chain"](outside)
    )
    destination = tmp_path / "destination"
    destination.mkdir()
    (destination / "mine.txt").write_bytes(b"mine")

    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, destination)

    assert [path.name for path in destination.iterdir()] == ["mine.txt"]


def test_zip_extracted_into_destination(tmp_path):
    archive = make_zip_file(tmp_path / "safe.zip", [("images/a.png", b"png data")])
    destination = tmp_path / "destination"

    files = extract_archive(archive, destination)

    assert files == [destination / "good.txt", destination / "images" / "a.png"]
    assert (destination / "images" / "a.png").read_bytes() == b"png data"
    assert sorted(os.listdir(destination)) == ["good.txt", "images"]


@pytest.mark.parametrize("use_data_filter", [True, False], ids=["filter", "no-filter"])
def test_tar_extracted_with_inner_symlink(tmp_path, use_data_filter):
    if use_data_filter and not hasattr(tarfile, "data_filter"):
        pytest.skip("tarfile has no data filter on this Python version")
    entries = [
        (tar_entry("images/a.png"), b"png data"),
        (tar_entry("latest.png", tarfile.SYMTYPE, "images/a.png"), None),
    ]
    archive = make_tar_file(tmp_path / "safe.tar.gz", entries)
    destination = tmp_path / "destination"

    files = _extract(archive, destination, use_data_filter)

    assert files == [destination / "good.txt", destination / "images" / "a.png"]
    assert (destination / "latest.png").read_bytes() == b"png data"
    assert (destination / "latest.png").is_symlink()


def test_extraction_refuses_to_replace_files(tmp_path):
    archive = make_zip_file(tmp_path / "safe.zip", [])
    destination = tmp_path / "destination"
    destination.mkdir()
    (destination / "good.txt").write_bytes(b"mine")

    with pytest.raises(ArchiveError, match="would replace good.txt"):
        extract_archive(archive, destination)

    assert (destination / "good.txt").read_bytes() == b"mine"
    assert [path.name for path in destination.iterdir()] == ["good.txt"]


def test_truncated_tar_leaves_destination_empty(tmp_path):
    entries = [(tar_entry(f"f{i}.bin"), random_bytes(50_000, i)) for i in range(10)]
    archive = make_tar_file(tmp_path / "whole.tar.gz", entries)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    destination = tmp_path / "destination"

    with pytest.raises(ArchiveError):
        extract_archive(truncated, destination)

    assert not destination.exists()


def test_extraction_rejects_other_files(tmp_path):
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)

    with pytest.raises(ArchiveError, match="neither a zip nor a tar"):
        extract_archive(path, tmp_path / "destination")
