"""Exceptions raised while fetching, verifying and unpacking sample files.

Every exception here derives from :class:`FetchError`, so a notebook can catch
that one class and fall back to a stand-in image. Each message names the URL or
file involved and the next step to take. `classify_network_error` sorts the
network failures that those messages describe into no connection, a read
timeout, and a connection reset or closed by the server.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator


class FetchError(Exception):
    """Base class of every error raised by the fetching modules."""


class RegistryError(FetchError):
    """An invalid row in the sample registry or an unreadable pins file."""


class OfflineError(FetchError):
    """A fetch that needs the network while offline mode is switched on."""

    @classmethod
    def for_url(cls, url: str) -> OfflineError:
        """Return the error for ``url``, with a message for Python and shell users."""
        return cls(
            f"Offline mode is on (BIOVFM_OFFLINE=1, the --offline option or "
            f"offline=True), so {url} was not downloaded. Turn it off to allow "
            "downloads, or set BIOVFM_DATA_ROOT to a folder that contains a local "
            "copy of the source (or pass local_root= in Python)."
        )


class AccessRequiredError(FetchError):
    """A source that needs registration or credentials and has no local copy."""


class LocalCopyNotFoundError(FetchError):
    """A local copy folder that is missing or contains no usable file."""


class SampleNotRegisteredError(FetchError):
    """An open source with no sample file in the registry and no local copy."""


class DownloadError(FetchError):
    """A failed HTTP transfer: error status, refused connection, timeout or loop.

    Attributes
    ----------
    url : str
        The URL that was requested.
    status : int or None
        The last HTTP status received, or None when no response arrived.
    """

    def __init__(self, message: str, *, url: str, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class IncompleteDownloadError(DownloadError):
    """A response body that ended before the announced Content-Length."""


class WebPageError(DownloadError):
    """An HTML page served where an image or archive was expected."""


class InvalidSampleFileError(FetchError):
    """A sample file that is empty, a web page, cut short or of another format.

    Raised before a file without a published sha256 is pinned or returned, so a
    bad first download never becomes the reference for later ones.

    Attributes
    ----------
    url : str
        The URL of the file (the archive URL for an archive member).
    problem : str
        What is wrong with the file.
    """

    def __init__(self, message: str, *, url: str, problem: str):
        super().__init__(message)
        self.url = url
        self.problem = problem


class ChecksumMismatchError(FetchError):
    """Downloaded bytes whose sha256 differs from the published or pinned value.

    Attributes
    ----------
    url : str
        The URL that was downloaded (the archive URL for an archive member).
    expected : str
        The sha256 that the bytes should have.
    actual : str
        The sha256 of the bytes received.
    size : int
        The number of bytes received.
    """

    def __init__(
        self, message: str, *, url: str, expected: str, actual: str, size: int
    ):
        super().__init__(message)
        self.url = url
        self.expected = expected
        self.actual = actual
        self.size = size


class ArchiveError(FetchError):
    """An archive that cannot be read: not an archive, corrupt, or member missing."""


class UnsafeArchiveError(ArchiveError):
    """An archive member that would be written outside the destination folder."""


#: Kinds of network failure that `classify_network_error` returns.
CONNECT_FAILED = "connect"
READ_TIMED_OUT = "read timeout"
CONNECTION_RESET = "reset"
OTHER_FAILURE = "other"


def _causes(error: BaseException) -> Iterator[BaseException]:
    """Yield an exception and the ones wrapped in it, outermost first.

    requests wraps urllib3's errors in its own, urllib3 puts the last error of
    its retries in ``MaxRetryError.reason``, and ``ProtocolError`` carries the
    socket error as its second argument.
    """
    import urllib3

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason:
            current = current.reason
            continue
        wrapped = [arg for arg in current.args if isinstance(arg, BaseException)]
        current = wrapped[0] if wrapped else current.__cause__ or current.__context__


def classify_network_error(error: BaseException) -> tuple[str, str]:
    """Return the kind of a network failure and a short description of it.

    The kind is :data:`CONNECT_FAILED` (no connection was made),
    :data:`READ_TIMED_OUT` (connected, then no data for the read timeout),
    :data:`CONNECTION_RESET` (the server reset or closed the connection) or
    :data:`OTHER_FAILURE`.
    """
    import requests
    import urllib3

    exceptions = urllib3.exceptions
    for cause in _causes(error):
        if isinstance(cause, exceptions.NameResolutionError):
            return CONNECT_FAILED, "the host name could not be resolved"
        if isinstance(cause, exceptions.NewConnectionError):
            refused = any(isinstance(c, ConnectionRefusedError) for c in _causes(cause))
            reason = "connection refused" if refused else "no connection"
            return CONNECT_FAILED, reason
        if isinstance(cause, (exceptions.ConnectTimeoutError, requests.ConnectTimeout)):
            return CONNECT_FAILED, "connect timeout"
        if isinstance(
            cause, (exceptions.ReadTimeoutError, requests.ReadTimeout, TimeoutError)
        ):
            return READ_TIMED_OUT, "read timeout"
        if isinstance(cause, (ConnectionResetError, ConnectionAbortedError)):
            return CONNECTION_RESET, "connection reset by the server"
        if isinstance(cause, (http.client.RemoteDisconnected, BrokenPipeError)):
            return CONNECTION_RESET, "connection closed by the server"
        if isinstance(cause, http.client.IncompleteRead):
            return CONNECTION_RESET, "connection closed before the end of the body"
        if isinstance(cause, exceptions.ProtocolError) and not isinstance(
            cause.args[-1] if cause.args else None, BaseException
        ):
            return CONNECTION_RESET, "connection broken"
    return OTHER_FAILURE, str(error)


def read_timeout_of(timeout) -> float:
    """Return the read timeout of a requests ``timeout`` value, in seconds."""
    return timeout[1] if isinstance(timeout, tuple) else timeout


def transfer_failure(error: BaseException, size: int, read_timeout: float) -> str:
    """Describe a failure while a body was read, after ``size`` bytes arrived."""
    kind, detail = classify_network_error(error)
    if kind == READ_TIMED_OUT:
        return (
            f"the server stopped sending after {size:,} bytes: no data arrived "
            f"for {read_timeout:g} seconds, the read timeout (--timeout on the "
            "command line)"
        )
    if kind == CONNECTION_RESET:
        return f"{detail} after {size:,} bytes"
    return str(error)


def request_failure(
    url: str, error: Exception, timeout, attempts: int
) -> DownloadError:
    """Return the error for a request that got no response, saying what failed.

    ``timeout`` is the requests timeout used, and ``attempts`` the attempts made.
    """
    kind, detail = classify_network_error(error)
    tries = f"on each of {attempts} attempts"
    if kind == CONNECT_FAILED:
        message = (
            f"Could not connect to the server of {url} ({detail}) {tries}. "
            "Check the network and the URL, or set BIOVFM_OFFLINE=1 to skip "
            "downloads."
        )
    elif kind == READ_TIMED_OUT:
        message = (
            f"The server of {url} accepted the connection but sent no "
            f"response: timed out after {read_timeout_of(timeout):g} "
            f"seconds while reading, {tries}. Try again later, or allow a "
            "longer read timeout (--timeout on the command line, "
            "timeout=(connect, read) in Python)."
        )
    elif kind == CONNECTION_RESET:
        message = (
            f"The server of {url} closed the connection before sending a "
            f"response ({detail}), {tries}. Try again later."
        )
    else:
        message = f"Request for {url} failed: {error}"
    return DownloadError(message, url=url)
