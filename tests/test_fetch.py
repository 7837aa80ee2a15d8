"""Tests of sample downloads, the cache, pins, access control and local copies.

Every download goes to the loopback server of the ``http_server`` fixture.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import socket
import tarfile

import numpy as np
import pandas as pd
import pytest
from conftest import Reply, read_request, reset
from PIL import Image

from biovfm_utils import __version__
from biovfm_utils.fetch import (
    AccessRequiredError,
    ChecksumMismatchError,
    DownloadError,
    FetchError,
    IncompleteDownloadError,
    InvalidSampleFileError,
    LocalCopyNotFoundError,
    OfflineError,
    RegistryError,
    Sample,
    SampleNotRegisteredError,
    WebPageError,
    fetch_sample,
    fetch_source_sample,
    is_offline,
    load_registry,
    local_copy_folder,
    local_sample_path,
    network_available,
    samples_for,
)

CATALOG = pd.DataFrame(
    [
        {
            "name": "Open Set",
            "aliases": [],
            "access": "open",
            "access_details": "open direct download",
            "url": "https://datasets.example/open-set",
        },
        {
            "name": "Closed CXR",
            "aliases": ["Closed Chest X-ray"],
            "access": "credentialed",
            "access_details": "credentialed: PhysioNet account + signed DUA",
            "url": "https://datasets.example/closed-cxr",
        },
    ]
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("BIOVFM_OFFLINE", "BIOVFM_CACHE_DIR", "BIOVFM_DATA_ROOT"):
        monkeypatch.delenv(name, raising=False)


def image_bytes(size: int = 200_000, seed: int = 1) -> bytes:
    """Return a PNG of random grey levels, a little over ``size`` bytes long."""
    side = int(size**0.5)
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_sample(
    url, *, source="Open Set", file="image.png", sha256=None, size=None, format="png"
):
    return Sample(
        source=source,
        file=file,
        url=url,
        member="",
        sha256=sha256,
        size_bytes=size,
        format=format,
        evidence="made in the test",
    )


def fetch(sample, tmp_path, **options):
    options.setdefault("cache_dir", tmp_path / "cache")
    options.setdefault("catalog", CATALOG)
    options.setdefault("progress", False)
    options.setdefault("attempts", 3)
    return fetch_sample(sample, **options)


def files_in(folder) -> list:
    return sorted(path for path in folder.rglob("*") if path.is_file())


# --- Download and cache ---------------------------------------------------------


def test_fetch_downloads_and_verifies(http_server, tmp_path):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data))

    result = fetch(make_sample(url, sha256=sha256_of(data)), tmp_path)

    assert result.path.read_bytes() == data
    assert result.path == tmp_path / "cache" / "open-set" / "image.png"
    assert result.checksum == "verified"
    assert result.from_cache is False
    assert result.size == len(data)


def test_fetch_reuses_cache_without_request(http_server, tmp_path):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data))
    sample = make_sample(url, sha256=sha256_of(data))
    fetch(sample, tmp_path)

    second = fetch(sample, tmp_path)

    assert second.from_cache is True
    assert len(http_server.requests_for("/image.png")) == 1
    assert second.path.read_bytes() == data


def test_fetch_replaces_corrupted_cache_file(http_server, tmp_path):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data))
    sample = make_sample(url, sha256=sha256_of(data))
    first = fetch(sample, tmp_path)
    first.path.write_bytes(b"damaged")

    second = fetch(sample, tmp_path)

    assert second.from_cache is False
    assert second.path.read_bytes() == data


def test_checksum_mismatch_leaves_empty_cache(http_server, tmp_path):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data))
    expected = "0" * 64

    with pytest.raises(ChecksumMismatchError) as caught:
        fetch(make_sample(url, sha256=expected), tmp_path)

    message = str(caught.value)
    assert url in message
    assert expected in message
    assert sha256_of(data) in message
    assert str(len(data)) in message
    assert files_in(tmp_path / "cache") == []


def test_registry_size_mismatch_rejected(http_server, tmp_path):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data))

    with pytest.raises(ChecksumMismatchError, match=str(len(data) + 1)):
        fetch(make_sample(url, size=len(data) + 1), tmp_path)
    assert files_in(tmp_path / "cache") == []


def test_cut_connection_leaves_nothing_then_rerun_succeeds(http_server, tmp_path):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data, cut_after=50_000))
    sample = make_sample(url, sha256=sha256_of(data))

    with pytest.raises(IncompleteDownloadError) as caught:
        fetch(sample, tmp_path)
    assert url in str(caught.value)
    assert files_in(tmp_path / "cache") == []

    http_server.serve("/image.png", Reply(body=data))
    result = fetch(sample, tmp_path)
    assert result.path.read_bytes() == data


def test_cut_connection_with_unknown_hash_pins_nothing(http_server, tmp_path):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data, cut_after=1000))

    with pytest.raises(IncompleteDownloadError):
        fetch(make_sample(url), tmp_path)

    assert files_in(tmp_path / "cache") == []


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(http_server, tmp_path, status):
    data = image_bytes()
    busy = Reply(status=status, body=b"busy", headers={"Retry-After": "1"})
    url = http_server.serve("/image.png", busy, Reply(body=data))

    result = fetch(make_sample(url, sha256=sha256_of(data)), tmp_path)

    requests = http_server.requests_for("/image.png")
    assert len(requests) == 2
    assert requests[1].time - requests[0].time >= 1.0 - 0.05
    assert result.path.read_bytes() == data


def test_retries_exhausted_names_url_and_status(http_server, tmp_path):
    url = http_server.serve("/image.png", Reply(status=503, body=b"down"))

    with pytest.raises(DownloadError) as caught:
        fetch(make_sample(url), tmp_path, attempts=2)

    assert caught.value.status == 503
    assert url in str(caught.value)
    assert "503" in str(caught.value)
    assert len(http_server.requests_for("/image.png")) == 2
    assert files_in(tmp_path / "cache") == []


def test_not_found_names_url(http_server, tmp_path):
    url = http_server.url("/missing.png")

    with pytest.raises(DownloadError, match="404") as caught:
        fetch(make_sample(url), tmp_path)

    assert url in str(caught.value)


def test_redirect_chain_followed_and_logged(http_server, tmp_path, caplog):
    data = image_bytes()
    final_url = http_server.serve("/files/image.png", Reply(body=data))
    http_server.serve("/b", Reply(status=302, headers={"Location": "/files/image.png"}))
    url = http_server.serve("/a", Reply(status=301, headers={"Location": "/b"}))

    with caplog.at_level(logging.INFO, logger="biovfm_utils"):
        result = fetch(make_sample(url, sha256=sha256_of(data)), tmp_path)

    assert result.path.read_bytes() == data
    assert any(final_url in record.getMessage() for record in caplog.records)


def test_redirect_loop_rejected(http_server, tmp_path):
    url = http_server.serve("/loop", Reply(status=302, headers={"Location": "/loop"}))

    with pytest.raises(DownloadError, match="redirects"):
        fetch(make_sample(url), tmp_path)
    assert files_in(tmp_path / "cache") == []


def test_gzip_content_encoding_stored_as_served(http_server, tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        payload = image_bytes(50_000)
        info = tarfile.TarInfo("images/a.png")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    served = buffer.getvalue()
    headers = {"Content-Type": "application/x-tar", "Content-Encoding": "gzip"}
    url = http_server.serve("/images.tar.gz", Reply(body=served, headers=headers))
    sample = make_sample(url, file="images.tar.gz", sha256=sha256_of(served))

    result = fetch(sample, tmp_path)

    assert result.path.read_bytes() == served


def test_requests_identify_the_package(http_server, tmp_path):
    url = http_server.serve("/image.png", Reply(body=image_bytes()))

    fetch(make_sample(url), tmp_path)

    headers = http_server.requests_for("/image.png")[0].headers
    assert headers["User-Agent"].startswith(f"biovfm-utils/{__version__} ")
    assert "python-requests/" in headers["User-Agent"]
    assert headers["Accept-Encoding"] == "identity"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html; charset=utf-8", b"<html><body>Please log in</body></html>"),
        ("image/png", b"\n<!DOCTYPE html>\n<html><body>Consent</body></html>"),
    ],
    ids=["content-type", "body"],
)
def test_web_page_instead_of_image_rejected(http_server, tmp_path, content_type, body):
    headers = {"Content-Type": content_type}
    url = http_server.serve("/image.png", Reply(body=body, headers=headers))

    with pytest.raises(WebPageError) as caught:
        fetch(make_sample(url), tmp_path)

    assert url in str(caught.value)
    assert "web page" in str(caught.value)
    assert files_in(tmp_path / "cache") == []


@pytest.mark.parametrize("length", ["known", "unknown"])
def test_progress_bar_for_known_and_unknown_size(http_server, tmp_path, length):
    data = image_bytes()
    headers = {} if length == "known" else {"Content-Length": None}
    url = http_server.serve("/image.png", Reply(body=data, headers=headers))

    result = fetch(make_sample(url), tmp_path, progress=True)

    assert result.path.read_bytes() == data
    assert result.size == len(data)


def test_cache_dir_from_environment(http_server, tmp_path, monkeypatch):
    url = http_server.serve("/image.png", Reply(body=image_bytes()))
    monkeypatch.setenv("BIOVFM_CACHE_DIR", str(tmp_path / "from-env"))

    result = fetch_sample(make_sample(url), catalog=CATALOG, progress=False)

    assert result.path == tmp_path / "from-env" / "open-set" / "image.png"


# --- Pins -----------------------------------------------------------------------


def test_unknown_hash_pinned_on_first_download(http_server, tmp_path, caplog):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data))

    with caplog.at_level(logging.INFO, logger="biovfm_utils"):
        result = fetch(make_sample(url), tmp_path)

    pins = json.loads((tmp_path / "cache" / "pins.json").read_text())
    assert result.checksum == "pinned"
    assert pins[url]["sha256"] == sha256_of(data)
    assert pins[url]["size"] == len(data)
    assert any("Pinned" in record.getMessage() for record in caplog.records)


def test_pinned_file_reused_from_cache(http_server, tmp_path):
    url = http_server.serve("/image.png", Reply(body=image_bytes()))
    sample = make_sample(url)
    fetch(sample, tmp_path)

    second = fetch(sample, tmp_path)

    assert second.from_cache is True
    assert second.checksum == "pinned"
    assert len(http_server.requests_for("/image.png")) == 1


def test_changed_file_fails_against_pin(http_server, tmp_path):
    original = image_bytes(seed=1)
    changed = image_bytes(seed=2)
    url = http_server.serve("/image.png", Reply(body=original))
    sample = make_sample(url)
    first = fetch(sample, tmp_path)
    first.path.unlink()
    http_server.serve("/image.png", Reply(body=changed))

    with pytest.raises(ChecksumMismatchError) as caught:
        fetch(sample, tmp_path)

    assert caught.value.expected == sha256_of(original)
    assert caught.value.actual == sha256_of(changed)
    assert "pinned" in str(caught.value)
    assert files_in(tmp_path / "cache") == [tmp_path / "cache" / "pins.json"]


def test_corrupt_pins_file_rejected(http_server, tmp_path):
    url = http_server.serve("/image.png", Reply(body=image_bytes()))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "pins.json").write_text("{not json")

    with pytest.raises(RegistryError, match="pins.json"):
        fetch(make_sample(url), tmp_path)


# --- Checks before pinning -------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("empty", "empty"),
        ("cut in the header", "damaged"),
        ("cut in the data", "truncated"),
        ("JPEG for png", "JPEG"),
    ],
)
def test_bad_first_download_not_pinned(http_server, tmp_path, case, problem):
    data = image_bytes()
    body = {
        "empty": b"",
        "cut in the header": data[:20],
        "cut in the data": data[: len(data) // 2],
        "JPEG for png": jpeg_bytes(),
    }[case]
    # Without Content-Length, the body ends when the server closes the connection.
    reply = Reply(body=body, headers={"Content-Length": None})
    url = http_server.serve("/image.png", reply)

    with pytest.raises(InvalidSampleFileError) as caught:
        fetch(make_sample(url), tmp_path)

    message = str(caught.value)
    assert url in message
    assert problem in message
    assert "no sha256 was pinned" in message
    assert files_in(tmp_path / "cache") == []


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(buffer, format="JPEG")
    return buffer.getvalue()


def write_cached(tmp_path, content: bytes):
    path = tmp_path / "cache" / "open-set" / "image.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    return path


def test_cached_web_page_replaced_not_pinned(http_server, tmp_path):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data))
    write_cached(tmp_path, b"<!DOCTYPE html><html><body>Sign in</body></html>")

    result = fetch(make_sample(url), tmp_path)

    pins = json.loads((tmp_path / "cache" / "pins.json").read_text())
    assert result.from_cache is False
    assert result.path.read_bytes() == data
    assert pins[url]["sha256"] == sha256_of(data)


def test_cached_web_page_offline_deleted(http_server, tmp_path):
    url = http_server.serve("/image.png", Reply(body=image_bytes()))
    write_cached(tmp_path, b"<!DOCTYPE html><html><body>Sign in</body></html>")

    with pytest.raises(OfflineError):
        fetch(make_sample(url), tmp_path, offline=True)

    assert files_in(tmp_path / "cache") == []
    assert http_server.requests == []


def test_pinned_bad_file_unpinned_and_replaced(http_server, tmp_path):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data))
    truncated = data[: len(data) // 2]
    write_cached(tmp_path, truncated)
    pins = {url: {"sha256": sha256_of(truncated), "size": len(truncated)}}
    (tmp_path / "cache" / "pins.json").write_text(json.dumps(pins))

    result = fetch(make_sample(url), tmp_path)

    pins = json.loads((tmp_path / "cache" / "pins.json").read_text())
    assert result.path.read_bytes() == data
    assert pins[url]["sha256"] == sha256_of(data)


def test_bad_download_matching_pin_unpinned(http_server, tmp_path):
    truncated = image_bytes()[:1000]
    url = http_server.serve("/image.png", Reply(body=truncated))
    (tmp_path / "cache").mkdir()
    pins = {url: {"sha256": sha256_of(truncated), "size": len(truncated)}}
    (tmp_path / "cache" / "pins.json").write_text(json.dumps(pins))

    with pytest.raises(InvalidSampleFileError, match="truncated"):
        fetch(make_sample(url), tmp_path)

    assert json.loads((tmp_path / "cache" / "pins.json").read_text()) == {}
    assert files_in(tmp_path / "cache") == [tmp_path / "cache" / "pins.json"]


# --- Network failures -------------------------------------------------------------


def wait_for_close(connection) -> None:
    """Block until the client closes the connection."""
    while connection.recv(4096):
        pass


def test_read_timeout_not_reported_as_connect(tcp_server, tmp_path):
    def silent(connection):
        read_request(connection)
        wait_for_close(connection)

    server = tcp_server(silent)

    with pytest.raises(DownloadError) as caught:
        fetch(make_sample(server.url("/image.png")), tmp_path, timeout=(2, 0.3))

    message = str(caught.value)
    assert "timed out after 0.3 seconds while reading" in message
    assert "Could not connect" not in message
    assert server.connections_accepted == 3
    assert files_in(tmp_path / "cache") == []


def test_read_timeout_mid_body_names_bytes(tcp_server, tmp_path):
    data = image_bytes()

    def stalls(connection):
        read_request(connection)
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}\r\n\r\n"
        connection.sendall(head.encode() + data[:5000])
        wait_for_close(connection)

    server = tcp_server(stalls)

    with pytest.raises(IncompleteDownloadError) as caught:
        fetch(make_sample(server.url("/image.png")), tmp_path, timeout=(2, 0.3))

    message = str(caught.value)
    assert "the server stopped sending after 5,000 bytes" in message
    assert "0.3 seconds" in message
    assert files_in(tmp_path / "cache") == []


def test_reset_before_response_named(tcp_server, tmp_path):
    def resets(connection):
        read_request(connection)
        reset(connection)

    server = tcp_server(resets)

    with pytest.raises(DownloadError) as caught:
        fetch(make_sample(server.url("/image.png")), tmp_path, attempts=2)

    message = str(caught.value)
    assert "closed the connection before sending a response" in message
    assert "reset" in message
    assert "Could not connect" not in message


def test_refused_connection_named(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/image.png"

    with pytest.raises(DownloadError) as caught:
        fetch(make_sample(url), tmp_path, attempts=1)

    message = str(caught.value)
    assert message.startswith("Could not connect to the server of")
    assert "connection refused" in message


def test_each_retry_logged_once(tcp_server, tmp_path, caplog):
    def resets(connection):
        read_request(connection)
        reset(connection)

    server = tcp_server(resets)

    # The command line's --verbose shows records of level INFO and above.
    with caplog.at_level(logging.INFO), pytest.raises(DownloadError):
        fetch(make_sample(server.url("/image.png")), tmp_path, attempts=2)

    retries = [r for r in caplog.records if "retr" in r.getMessage().lower()]
    assert len(retries) == 1, [r.getMessage() for r in retries]
    assert retries[0].name == "biovfm_utils.download"


# --- Offline --------------------------------------------------------------------


@pytest.mark.parametrize("switch", ["environment", "argument"])
def test_offline_fails_without_request(http_server, tmp_path, monkeypatch, switch):
    url = http_server.serve("/image.png", Reply(body=image_bytes()))
    options = {}
    if switch == "environment":
        monkeypatch.setenv("BIOVFM_OFFLINE", "1")
    else:
        options["offline"] = True

    with pytest.raises(OfflineError) as caught:
        fetch(make_sample(url), tmp_path, **options)

    message = str(caught.value)
    assert "BIOVFM_OFFLINE=1, the --offline option or offline=True" in message
    assert "Unset" not in message
    assert "pass local_root= in Python" in message
    assert http_server.requests == []


def test_offline_still_returns_cached_file(http_server, tmp_path, monkeypatch):
    data = image_bytes()
    url = http_server.serve("/image.png", Reply(body=data))
    sample = make_sample(url, sha256=sha256_of(data))
    fetch(sample, tmp_path)
    monkeypatch.setenv("BIOVFM_OFFLINE", "1")

    result = fetch(sample, tmp_path)

    assert result.from_cache is True
    assert len(http_server.requests) == 1


def test_offline_switch_rejects_unknown_word(monkeypatch):
    monkeypatch.setenv("BIOVFM_OFFLINE", "maybe")

    with pytest.raises(ValueError, match="BIOVFM_OFFLINE"):
        is_offline()


def test_network_available_for_listening_port(http_server):
    assert network_available("127.0.0.1", http_server.port, timeout=2.0) is True


def test_network_unavailable_for_closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    assert network_available("127.0.0.1", closed_port, timeout=2.0) is False


def test_network_unavailable_when_offline(http_server, monkeypatch):
    monkeypatch.setenv("BIOVFM_OFFLINE", "1")

    assert network_available("127.0.0.1", http_server.port) is False


# --- Access control and local copies --------------------------------------------


def test_non_open_source_never_contacted(http_server, tmp_path):
    url = http_server.serve("/closed.png", Reply(body=image_bytes()))
    sample = make_sample(url, source="Closed CXR")

    with pytest.raises(AccessRequiredError) as caught:
        fetch(sample, tmp_path)

    message = str(caught.value)
    assert "PhysioNet account + signed DUA" in message
    assert "https://datasets.example/closed-cxr" in message
    assert "'closed-cxr'" in message
    assert "BIOVFM_DATA_ROOT" in message
    assert "local_root=" in message
    assert http_server.requests == []


def test_source_sample_without_local_copy_requires_access(http_server, tmp_path):
    url = http_server.serve("/closed.png", Reply(body=image_bytes()))
    registry = [make_sample(url, source="Closed CXR")]

    with pytest.raises(AccessRequiredError, match="credentialed"):
        fetch_source_sample(
            "closed cxr",
            local_root=tmp_path / "data",
            cache_dir=tmp_path / "cache",
            catalog=CATALOG,
            registry=registry,
        )
    assert http_server.requests == []


@pytest.mark.parametrize("switch", ["argument", "environment"])
def test_source_sample_read_from_local_copy(tmp_path, monkeypatch, switch):
    folder = tmp_path / "data" / "closed-cxr" / "images"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("not an image")
    data = image_bytes()
    (folder / "patient1.png").write_bytes(data)
    options = {}
    if switch == "argument":
        options["local_root"] = tmp_path / "data"
    else:
        monkeypatch.setenv("BIOVFM_DATA_ROOT", str(tmp_path / "data"))

    result = fetch_source_sample("Closed CXR", catalog=CATALOG, registry=[], **options)

    assert result.path == folder / "patient1.png"
    assert result.sha256 == sha256_of(data)
    assert result.checksum == "unchecked"
    assert result.url is None


def test_local_copy_prefers_registry_file(http_server, tmp_path):
    data = image_bytes(seed=3)
    folder = tmp_path / "data" / "open-set"
    folder.mkdir(parents=True)
    (folder / "aaa.png").write_bytes(image_bytes(seed=4))
    (folder / "image.png").write_bytes(data)
    url = http_server.url("/image.png")
    registry = [make_sample(url, sha256=sha256_of(data))]

    result = fetch_source_sample(
        "Open Set", local_root=tmp_path / "data", catalog=CATALOG, registry=registry
    )

    assert result.path == folder / "image.png"
    assert result.checksum == "verified"
    assert http_server.requests == []


def test_local_copy_folder_missing(tmp_path):
    with pytest.raises(LocalCopyNotFoundError) as caught:
        local_sample_path("Closed CXR", tmp_path, catalog=CATALOG, registry=[])

    message = str(caught.value)
    assert str(tmp_path / "closed-cxr") in message
    assert "'closed-cxr' or 'closed-chest-x-ray'" in message
    assert "pass local_root= in Python" in message


def test_local_copy_found_under_alias(tmp_path):
    folder = tmp_path / "closed-chest-x-ray"
    folder.mkdir()
    data = image_bytes()
    (folder / "patient1.png").write_bytes(data)

    result = fetch_source_sample(
        "Closed CXR", local_root=tmp_path, catalog=CATALOG, registry=[]
    )

    assert result.path == folder / "patient1.png"
    assert result.sha256 == sha256_of(data)


def test_local_copy_prefers_printed_name(tmp_path):
    for name in ("closed-chest-x-ray", "closed-cxr"):
        (tmp_path / name).mkdir()

    folder = local_copy_folder("Closed CXR", tmp_path, catalog=CATALOG)

    assert folder == tmp_path / "closed-cxr"


@pytest.mark.parametrize(
    ("source", "folder_name"),
    [("E-optha", "e-ophtha"), ("SAM-Med2D-20M", "sa-med2d-20m")],
)
def test_local_copy_folder_of_dataset_spelling(tmp_path, source, folder_name):
    (tmp_path / folder_name).mkdir()

    assert local_copy_folder(source, tmp_path) == tmp_path / folder_name


def test_local_copy_folder_absent(tmp_path):
    assert local_copy_folder("Closed CXR", tmp_path, catalog=CATALOG) is None
    assert local_copy_folder("Closed CXR", None, catalog=CATALOG) is None


def test_local_copy_without_images(tmp_path):
    (tmp_path / "closed-cxr").mkdir()
    (tmp_path / "closed-cxr" / "readme.txt").write_text("no images")

    with pytest.raises(LocalCopyNotFoundError, match="no image file"):
        local_sample_path("Closed CXR", tmp_path, catalog=CATALOG, registry=[])


def test_open_source_without_sample_explains_next_step(tmp_path):
    with pytest.raises(SampleNotRegisteredError) as caught:
        fetch_source_sample("Open Set", catalog=CATALOG, registry=[])

    assert "https://datasets.example/open-set" in str(caught.value)
    assert "'open-set'" in str(caught.value)
    assert "pass local_root= in Python" in str(caught.value)


def test_errors_share_one_base_class():
    for error in (
        AccessRequiredError,
        ChecksumMismatchError,
        DownloadError,
        InvalidSampleFileError,
        OfflineError,
        RegistryError,
        WebPageError,
    ):
        assert issubclass(error, FetchError)


# --- Registry -------------------------------------------------------------------

REGISTRY_HEADER = "source,file,url,member,sha256,size_bytes,format,evidence\n"
GOOD_ROW = "Open Set,a.png,https://host.example/a.png,,unknown,,png,test"


def test_packaged_registry_loads():
    samples = load_registry()

    assert len(samples) >= 2
    for sample in samples:
        assert sample.url.startswith(("http://", "https://"))


@pytest.mark.parametrize(
    ("source", "sha256", "size"),
    [
        (
            "ORVS",
            "47a7d7e3d245b91528b175d0991dea5e375ef6fa5ac0d29a06a49ae9352f764c",
            1035981,
        ),
        (
            "ROSSA",
            "e870d06ecc433c7eaf1ce9cab6eb28a0a79a3692a71dbe7cd9f2c609f315c4f5",
            95107,
        ),
    ],
)
def test_packaged_registry_confirmed_hashes(source, sha256, size):
    (sample,) = samples_for(source)

    assert sample.sha256 == sha256
    assert sample.size_bytes == size


def test_packaged_registry_lists_only_open_sources():
    from biovfm_utils.catalog import find_source

    for sample in load_registry():
        row = find_source(sample.source)
        assert row["name"] == sample.source
        assert row["access"] == "open", sample.source


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("Open Set,a.png,ftp://host.example/a.png,,unknown,,png,test", "url"),
        ("Open Set,sub/a.png,https://host.example/a.png,,unknown,,png,test", "file"),
        ("Open Set,a.png,https://host.example/a.png,,abc123,,png,test", "sha256"),
        ("Open Set,a.png,https://host.example/a.png,,unknown,12kB,png,test", "size"),
        ("Open Set,a.png,https://host.example/a.png,,unknown,,png,", "evidence"),
    ],
    ids=["url", "file", "sha256", "size", "evidence"],
)
def test_registry_rejects_invalid_row(tmp_path, row, field):
    path = tmp_path / "samples.csv"
    path.write_text(REGISTRY_HEADER + row + "\n")

    with pytest.raises(RegistryError, match=f"row 1.*field {field}"):
        load_registry(path, catalog=CATALOG)


def test_registry_rejects_duplicate_file(tmp_path):
    path = tmp_path / "samples.csv"
    path.write_text(REGISTRY_HEADER + GOOD_ROW + "\n" + GOOD_ROW + "\n")

    with pytest.raises(RegistryError, match="row 2"):
        load_registry(path, catalog=CATALOG)


def test_registry_reads_byte_order_mark(tmp_path):
    path = tmp_path / "samples.csv"
    path.write_text(REGISTRY_HEADER + GOOD_ROW + "\n", encoding="utf-8-sig")

    (sample,) = load_registry(path, catalog=CATALOG)

    assert sample.source == "Open Set"


def test_registry_rejects_other_encoding(tmp_path):
    path = tmp_path / "samples.csv"
    row = GOOD_ROW.replace(",test", ",checked in Montréal")
    path.write_bytes((REGISTRY_HEADER + row + "\n").encode("latin-1"))

    with pytest.raises(RegistryError) as caught:
        load_registry(path, catalog=CATALOG)

    message = str(caught.value)
    assert str(path) in message
    assert "row 1, field evidence" in message
    assert "UTF-8" in message


@pytest.mark.parametrize(
    ("source", "expected"),
    [("ORVSX", "No source named 'ORVSX'.*Closest: ORVS"), ("orvs", "write 'ORVS'")],
)
def test_registry_rejects_source_not_in_catalog(tmp_path, source, expected):
    path = tmp_path / "samples.csv"
    row = f"{source},a.png,https://host.example/a.png,,unknown,,png,test"
    path.write_text(REGISTRY_HEADER + row + "\n")

    with pytest.raises(RegistryError, match=f"row 1, field source: {expected}"):
        load_registry(path)
