"""Shared fixtures.

``http_server`` is a real HTTP/1.1 server on 127.0.0.1 running in a thread. Each
path gets a list of scripted replies, used in order (the last one repeats), and
every request is recorded with its headers, arrival time, status and the number
of body bytes sent.

``tcp_server`` starts TCP servers on 127.0.0.1 whose connections a test handles
byte by byte, for failures that an HTTP server does not produce on purpose: a
server that never responds, stops in the middle of a body, or resets the
connection.
"""

from __future__ import annotations

import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Reply:
    """One scripted response.

    ``ranges`` makes a 200 reply serve a ``Range: bytes=...`` request with 206
    Partial Content. ``cut_after`` sends the full Content-Length header but only
    that many body bytes, then closes the connection. A header set to None is left
    out, and without Content-Length the body ends when the connection closes.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str | None] = field(default_factory=dict)
    ranges: bool = False
    cut_after: int | None = None


@dataclass
class RecordedRequest:
    """A request as the server saw it, and what the server sent back."""

    method: str
    path: str
    headers: dict[str, str]
    time: float
    status: int = 0
    body_bytes: int = 0


_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def _byte_range(header: str, total: int) -> tuple[int, int] | None:
    """Return the inclusive (first, last) byte of a single-range header."""
    match = _RANGE.match(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    first_text, last_text = match.groups()
    if first_text == "":
        first = max(0, total - int(last_text))
        last = total - 1
    else:
        first = int(first_text)
        last = min(int(last_text), total - 1) if last_text else total - 1
    if first > last:
        return None
    return first, last


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that closes a kept-alive connection is normal in these tests.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 with per-path scripted replies."""

    def __init__(self):
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd = _QuietHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, *replies: Reply) -> str:
        """Script the replies for ``path`` and return its URL."""
        with self._lock:
            self.routes[path] = list(replies)
        return self.url(path)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def body_bytes_sent(self, path: str) -> int:
        return sum(request.body_bytes for request in self.requests_for(path))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            replies = self.routes.get(path)
            if not replies:
                return Reply(status=404, body=b"not found")
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 5

            def log_message(self, format, *args):
                pass

            def do_HEAD(self):
                self._respond(send_body=False)

            def do_GET(self):
                self._respond(send_body=True)

            def _respond(self, send_body: bool):
                path = self.path.split("?")[0]
                record = RecordedRequest(
                    method=self.command,
                    path=path,
                    headers=dict(self.headers.items()),
                    time=time.monotonic(),
                )
                with server._lock:
                    server.requests.append(record)
                reply = server._next_reply(path)

                status, body = reply.status, reply.body
                headers = {"Content-Length": str(len(body)), **reply.headers}
                requested = self.headers.get("Range")
                if reply.ranges and status == 200:
                    headers["Accept-Ranges"] = "bytes"
                    if requested:
                        byte_range = _byte_range(requested, len(body))
                        if byte_range is None:
                            status, body = 416, b""
                            headers["Content-Range"] = f"bytes */{len(reply.body)}"
                        else:
                            first, last = byte_range
                            status, body = 206, body[first : last + 1]
                            headers["Content-Range"] = (
                                f"bytes {first}-{last}/{len(reply.body)}"
                            )
                        headers["Content-Length"] = str(len(body))

                self.send_response(status)
                for name, value in headers.items():
                    if value is not None:
                        self.send_header(name, value)
                self.end_headers()
                record.status = status
                if not send_body:
                    return

                sent = body if reply.cut_after is None else body[: reply.cut_after]
                try:
                    self.wfile.write(sent)
                    self.wfile.flush()
                except OSError:
                    # The client closed the connection or stopped reading.
                    self.close_connection = True
                    return
                record.body_bytes = len(sent)
                if reply.cut_after is not None or headers["Content-Length"] is None:
                    self.close_connection = True

        return Handler


@pytest.fixture
def http_server():
    """A running :class:`LoopbackServer`, stopped after the test."""
    server = LoopbackServer()
    server.start()
    yield server
    server.stop()


class TCPServer:
    """A TCP server on 127.0.0.1 that passes each connection to ``handle``.

    ``handle`` runs in its own thread per connection, and the connection is
    closed when it returns.
    """

    def __init__(self, handle: Callable[[socket.socket], None]):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._handle = handle
        self._connections: list[socket.socket] = []
        self.connections_accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections_accepted += 1
            self._connections.append(connection)
            threading.Thread(
                target=self._serve, args=(connection,), daemon=True
            ).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            self._handle(connection)
        except OSError:
            pass  # the client gave up first
        finally:
            connection.close()

    def stop(self) -> None:
        self._listener.close()
        for connection in self._connections:
            connection.close()


def read_request(connection: socket.socket) -> bytes:
    """Read an HTTP request head from a connection, up to its blank line."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def reset(connection: socket.socket) -> None:
    """Close a connection with a TCP reset instead of an orderly close."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


@pytest.fixture
def tcp_server():
    """Return a function that starts a :class:`TCPServer`; all stop after the test."""
    servers: list[TCPServer] = []

    def start(handle: Callable[[socket.socket], None]) -> TCPServer:
        server = TCPServer(handle)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
