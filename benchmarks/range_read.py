"""Measure the bytes transferred to read one zip member by HTTP range requests.

The script builds a zip of 200 members of random (incompressible) bytes in
memory, serves it from a loopback HTTP server that honours single byte ranges,
and reads the first, middle and last member with
:func:`biovfm_utils.fetch.read_zip_member`. For each it reports the body bytes
the server sent against the archive size and against the least any range reader
needs: the member's compressed size plus the central directory. The target is at
most 10 % above that least amount.

Run with ``python benchmarks/range_read.py``. It writes
``benchmarks/results/range_read.md`` and prints the same table.
"""

from __future__ import annotations

import datetime
import io
import os
import platform
import random
import re
import struct
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from biovfm_utils.fetch import read_zip_member

MEMBER_COUNT = 200
MEMBER_SIZE = 25_000
TARGET_OVERHEAD = 0.10
RESULTS = Path(__file__).resolve().parent / "results" / "range_read.md"


def make_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index in range(MEMBER_COUNT):
            data = random.Random(index).randbytes(MEMBER_SIZE)
            archive.writestr(f"images/image_{index:03d}.png", data)
    return buffer.getvalue()


class RangeServer:
    """Loopback server of one file that supports ``Range: bytes=a-b`` and ``-n``."""

    def __init__(self, body: bytes):
        self.body = body
        self.body_bytes = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/archive.zip"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def reset_counts(self) -> None:
        with self._lock:
            self.body_bytes = 0
            self.requests = 0

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_GET(self):
                total = len(server.body)
                first, last = 0, total - 1
                status = 200
                match = re.match(r"bytes=(\d*)-(\d*)$", self.headers.get("Range", ""))
                if match:
                    start, end = match.groups()
                    if start:
                        first = int(start)
                        last = min(int(end), total - 1) if end else total - 1
                    else:
                        first = max(0, total - int(end))
                    status = 206
                chunk = server.body[first : last + 1]

                self.send_response(status)
                self.send_header("Content-Length", str(len(chunk)))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {first}-{last}/{total}")
                self.end_headers()
                self.wfile.write(chunk)
                with server._lock:
                    server.body_bytes += len(chunk)
                    server.requests += 1

        return Handler


def central_directory_size(archive: bytes) -> int:
    # The end-of-central-directory record (no comment) is the last 22 bytes;
    # the directory size is the 4-byte field at offset 12.
    return struct.unpack("<I", archive[-10:-6])[0]


def main() -> int:
    archive = make_archive()
    directory_size = central_directory_size(archive)
    infos = zipfile.ZipFile(io.BytesIO(archive)).infolist()
    chosen = [infos[0], infos[len(infos) // 2], infos[-1]]

    rows = []
    with RangeServer(archive) as server:
        for info in chosen:
            server.reset_counts()
            started = time.perf_counter()
            data = read_zip_member(server.url, info.filename)
            seconds = time.perf_counter() - started
            if len(data) != info.file_size:
                raise SystemExit(
                    f"{info.filename}: read {len(data)} bytes, expected "
                    f"{info.file_size}"
                )
            least = info.compress_size + directory_size
            rows.append(
                (
                    info.filename,
                    server.requests,
                    server.body_bytes,
                    least,
                    server.body_bytes / least - 1,
                    server.body_bytes / len(archive),
                    seconds,
                )
            )

    archive_line = (
        f"- Archive: {MEMBER_COUNT} members of {MEMBER_SIZE} random bytes, deflated; "
        f"{len(archive):,} bytes; central directory {directory_size:,} bytes"
    )
    server_line = (
        "- Server: loopback HTTP/1.1 in the same process; bytes are response "
        "bodies (headers excluded)"
    )
    target_line = (
        f"- Target: transferred at most {TARGET_OVERHEAD:.0%} above "
        "compressed member + central directory"
    )
    columns = (
        "member",
        "requests",
        "bytes transferred",
        "compressed member + central directory",
        "overhead",
        "share of archive",
        "seconds",
        "target met",
    )
    lines = [
        "## Range read of one zip member",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()})",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        archive_line,
        server_line,
        target_line,
        "",
        "| " + " | ".join(columns) + " |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, requests, sent, least, overhead, share, seconds in rows:
        met = "yes" if overhead <= TARGET_OVERHEAD else "no"
        lines.append(
            f"| {name} | {requests} | {sent:,} | {least:,} | {overhead:.1%} | "
            f"{share:.2%} | {seconds:.3f} | {met} |"
        )
    table = "\n".join(lines) + "\n"

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    print(table)
    all_met = all(row[4] <= TARGET_OVERHEAD for row in rows)
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
