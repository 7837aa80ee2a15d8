"""The link checker against HTTP servers started on 127.0.0.1."""

from __future__ import annotations

import datetime
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from biovfm_utils import linkcheck
from biovfm_utils.catalog import load_catalog
from biovfm_utils.cli import main
from biovfm_utils.linkcheck import LinkTarget, check_links, report_markdown, write_report


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _reply(self, status, headers=None, body=b""):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def _route(self):
        server = self.server
        with server.lock:
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            server.methods.append((self.command, self.path))
        try:
            if self.path == "/ok":
                self._reply(200, body=b"fine")
            elif self.path == "/missing":
                self._reply(404)
            elif self.path == "/moved":
                self._reply(301, {"Location": "/ok"})
            elif self.path == "/no-head":
                if self.command == "HEAD":
                    self._reply(405)
                else:
                    self._reply(200, body=b"get only")
            elif self.path.startswith("/slow"):
                time.sleep(0.3)
                self._reply(200, body=b"slow")
            elif self.path == "/hang":
                time.sleep(3)
                self._reply(200)
        finally:
            with server.lock:
                server.in_flight -= 1

    do_GET = _route
    do_HEAD = _route


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.lock = threading.Lock()
    httpd.in_flight = httpd.max_in_flight = 0
    httpd.methods = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(server, path):
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check(server, *paths, **options):
    targets = [LinkTarget("Test", "official link", url(server, path)) for path in paths]
    return check_links(targets, progress=False, **options)


def test_ok_link(server):
    (result,) = check(server, "/ok")
    assert result.ok
    assert result.status == 200


def test_missing_link(server):
    (result,) = check(server, "/missing")
    assert not result.ok
    assert result.status == 404


def test_redirect_is_followed(server):
    (result,) = check(server, "/moved")
    assert result.ok
    assert result.final_url == url(server, "/ok")


def test_head_rejected_falls_back_to_get(server):
    (result,) = check(server, "/no-head")
    assert result.ok
    assert ("GET", "/no-head") in server.methods


def test_timeout_is_reported(server):
    (result,) = check(server, "/hang", timeout=(1.0, 0.5))
    assert not result.ok
    assert result.status is None
    assert "Timeout" in result.error


def test_refused_connection_is_reported():
    target = LinkTarget("Test", "sample", f"http://127.0.0.1:{closed_port()}/x")
    (result,) = check_links([target], progress=False)
    assert not result.ok
    assert "ConnectionError" in result.error


def test_concurrency_is_bounded(server):
    paths = [f"/slow/{number}" for number in range(12)]
    results = check(server, *paths, concurrency=3)
    assert all(result.ok for result in results)
    assert server.max_in_flight <= 3
    assert server.max_in_flight >= 2


def test_results_keep_target_order(server):
    results = check(server, "/missing", "/ok", "/moved")
    assert [result.url.rsplit("/", 1)[1] for result in results] == ["missing", "ok", "moved"]


def test_report_is_dated_and_parseable(server, tmp_path):
    results = check(server, "/ok", "/missing")
    path = write_report(results, tmp_path / "report.json", datetime.date(2026, 12, 1))
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["checked_on"] == "2026-12-01"
    assert report["n_checked"] == 2
    assert report["n_ok"] == 1
    assert list(tmp_path.iterdir()) == [path]


def test_report_markdown_lists_failures(server, tmp_path):
    results = check(server, "/ok", "/missing")
    path = write_report(results, tmp_path / "report.json", datetime.date(2026, 12, 1))
    text = report_markdown(linkcheck.read_report(path))
    assert text.startswith("Links last checked on 2026-12-01")
    assert "1 of 2" in text
    assert "HTTP 404" in text
    assert url(server, "/missing") in text


def test_report_markdown_without_report():
    assert "not been checked yet" in report_markdown(None)


def test_targets_cover_catalog_and_registry():
    catalog = load_catalog()
    targets = linkcheck.link_targets(catalog)
    official = [target for target in targets if target.kind == "official link"]
    assert len(official) == len(catalog)
    samples = [target.url for target in targets if target.kind == "sample"]
    assert samples
    assert len(set(samples)) == len(samples)
    assert not set(samples) & {target.url for target in official}


def test_cli_rejects_zero_concurrency(capsys):
    assert main(["links", "--concurrency", "0"]) == 2
    assert "--concurrency" in capsys.readouterr().err
