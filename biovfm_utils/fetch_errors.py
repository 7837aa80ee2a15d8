"""Exceptions raised while fetching, verifying and unpacking sample files.

Every exception here derives from :class:`FetchError`, so a notebook can catch
that one class and fall back to a stand-in image. Each message names the URL or
file involved and the next step to take.
"""

from __future__ import annotations


class FetchError(Exception):
    """Base class of every error raised by the fetching modules."""


class RegistryError(FetchError):
    """An invalid row in the sample registry or an unreadable pins file."""


class OfflineError(FetchError):
    """A fetch that needs the network while offline mode is switched on."""


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
