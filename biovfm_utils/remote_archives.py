"""Single members of remote archives, read without keeping the whole archive.

A member of a remote zip is read with HTTP range requests through the
``remotezip`` package, which requests the end of the archive, then the central
directory, then only the member's local header and compressed bytes. A server
that ignores ranges makes the code download the whole archive instead, with a
warning. A member of a remote tar archive (``.tar``, ``.tar.gz`` and so on) is
read by streaming the archive until the member has passed, because tar has no
index to seek to.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import logging
import os
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import urllib3

from biovfm_utils.download import (
    CHUNK_SIZE,
    DEFAULT_ATTEMPTS,
    DEFAULT_TIMEOUT,
    HTTPClient,
    HTTPFileDownloader,
    looks_like_html,
    progress_bar,
)
from biovfm_utils.fetch_errors import (
    ArchiveError,
    ChecksumMismatchError,
    DownloadError,
    IncompleteDownloadError,
    OfflineError,
    WebPageError,
)
from biovfm_utils.network import is_offline

logger = logging.getLogger(__name__)

#: Bytes requested from the end of a remote zip to find its end-of-central-
#: directory record (22 bytes, plus 76 for Zip64, plus any comment). The central
#: directory is requested separately, so a larger value only costs bytes.
ZIP_TAIL_BYTES = 1024

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".gz", ".tar.bz2", ".tbz2", ".tar.xz")


def archive_kind(url: str) -> str:
    """Return ``"zip"`` or ``"tar"`` from the file name at the end of ``url``.

    Raises
    ------
    ArchiveError
        If the name ends in neither a zip nor a tar suffix.
    """
    name = urlsplit(url).path.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    raise ArchiveError(
        f"Cannot tell the archive type of {url} from its name. Only .zip and tar "
        "archives (.tar, .tar.gz, .tgz, .gz, .tar.bz2, .tar.xz) are supported."
    )


def read_zip_member(
    url: str,
    member: str,
    *,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
    offline: bool | None = None,
    progress: bool = False,
) -> bytes:
    """Read one member of a remote zip archive with HTTP range requests.

    Parameters
    ----------
    url
        URL of the zip archive.
    member
        Path of the member inside the archive, as the archive lists it.
    timeout
        ``(connect, read)`` timeouts in seconds.
    attempts
        Attempts per request, counting the first one.
    offline
        Fail with :class:`~biovfm_utils.fetch_errors.OfflineError` instead of
        connecting; None reads ``BIOVFM_OFFLINE``.
    progress
        Show a progress bar.

    Returns
    -------
    bytes
        The uncompressed member, its CRC-32 checked.

    Raises
    ------
    ArchiveError
        If the member is missing, the archive is not a zip, or the CRC-32 fails.
    DownloadError
        If a request fails after its retries.
    """
    if is_offline(offline):
        raise OfflineError.for_url(url)
    buffer = io.BytesIO()
    with HTTPClient(timeout=timeout, attempts=attempts) as client:
        copy_zip_member(client, url, member, buffer, progress=progress)
    return buffer.getvalue()


def copy_zip_member(
    client: HTTPClient,
    url: str,
    member: str,
    output,
    *,
    progress: bool = False,
    scratch_dir: str | os.PathLike | None = None,
) -> None:
    """Write one member of a remote zip to the binary file object ``output``.

    ``scratch_dir`` receives the whole archive, deleted afterwards, when the
    server does not reply to range requests with 206 Partial Content.
    """
    try:
        from remotezip import (
            RangeNotSupported,
            RemoteIOError,
            RemoteZip,
            RemoteZipError,
        )
    except ImportError as error:
        raise ImportError(
            "Reading zip members by HTTP range requests needs the remotezip "
            "package: pip install remotezip"
        ) from error

    # remotezip raises RangeNotSupported or an HTTP error without closing the
    # response, so the responses are kept to close them here. The constructor
    # reads its responses (the archive's end and central directory) in full.
    responses = []

    def remember(response, **kwargs):
        responses.append(response)

    client.session.hooks["response"].append(remember)
    try:
        archive = RemoteZip(
            url,
            initial_buffer_size=ZIP_TAIL_BYTES,
            session=client.session,
            timeout=client.timeout,
        )
    except RangeNotSupported:
        archive = None
    except RemoteIOError as error:
        raise _range_request_error(url, error) from error
    except (zipfile.BadZipFile, RemoteZipError) as error:
        raise ArchiveError(
            f"{url} is not a readable zip archive ({error}). The URL may point to "
            "another kind of file. Check it in a browser."
        ) from error
    finally:
        client.session.hooks["response"].remove(remember)
        for response in responses:
            response.close()

    if archive is None:
        logger.warning(
            "%s does not support HTTP range requests, so the whole archive is "
            "downloaded to read %s",
            url,
            member,
        )
        _copy_member_from_whole_archive(
            client, url, member, output, progress, scratch_dir
        )
        return

    with archive:
        logger.info(
            "Reading %s from %s by range requests (archive size %d bytes)",
            member,
            url,
            archive.size(),
        )
        try:
            _copy_zip_member(archive, url, member, output, progress)
        except RemoteIOError as error:
            raise _range_request_error(url, error) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise IncompleteDownloadError(
                f"Reading {member} from {url} failed mid-transfer ({error}). Run "
                "again to retry.",
                url=url,
            ) from error
        except RemoteZipError as error:
            raise ArchiveError(
                f"{member} in {url} could not be read ({error}): the archive's "
                "directory does not match its contents."
            ) from error


def _range_request_error(url: str, error: Exception) -> DownloadError:
    # remotezip wraps the requests exception, which carries the response.
    response = getattr(error.__context__, "response", None)
    return DownloadError(
        f"Range request for {url} failed: {error}. Open the URL in a browser to "
        "check that the archive is still there.",
        url=url,
        status=getattr(response, "status_code", None),
    )


def _copy_member_from_whole_archive(client, url, member, output, progress, scratch):
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".archive-") as folder:
        path = Path(folder) / "archive.zip"
        downloader = HTTPFileDownloader(
            client, progress=progress, description=Path(urlsplit(url).path).name
        )
        downloader(url, path)
        try:
            with zipfile.ZipFile(path) as archive:
                _copy_zip_member(archive, url, member, output, progress)
        except zipfile.BadZipFile as error:
            raise ArchiveError(
                f"{url} is not a readable zip archive ({error}). The URL may point "
                "to another kind of file. Check it in a browser."
            ) from error


def _copy_zip_member(archive: zipfile.ZipFile, url, member, output, progress):
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise ArchiveError(_member_not_found(url, member, archive.namelist())) from None
    if info.is_dir():
        raise ArchiveError(f"{member} in {url} is a folder, not a file.")

    bar = progress_bar(info.file_size, Path(member).name, progress)
    try:
        with bar, archive.open(info) as source:
            while chunk := source.read(CHUNK_SIZE):
                output.write(chunk)
                bar.update(len(chunk))
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ArchiveError(
            f"{member} in {url} is corrupt ({error}). The CRC-32 or compressed "
            "data does not match the archive's directory. Run again, and if it "
            "fails the same way, the archive on the server is damaged."
        ) from error


def _member_not_found(url: str, member: str, names: list[str]) -> str:
    close = difflib.get_close_matches(member, names, n=3, cutoff=0.6)
    hint = f" Closest names: {', '.join(close)}." if close else ""
    return (
        f"{member} is not in the archive {url} ({len(names)} members).{hint} "
        "The member path in the registry may be wrong."
    )


class _CheckedRawStream:
    """File-like view of an undecoded response body for ``tarfile`` stream mode."""

    def __init__(self, response, url: str):
        self._response = response
        self._url = url
        self._first = True

    def read(self, size: int = -1) -> bytes:
        amount = None if size is None or size < 0 else size
        try:
            data = self._response.raw.read(amount, decode_content=False)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise IncompleteDownloadError(
                f"The transfer of {self._url} failed ({error}). Run again to retry.",
                url=self._url,
            ) from error
        if self._first and data:
            self._first = False
            if looks_like_html(data):
                raise WebPageError(
                    f"{self._url} returned a web page (the body is HTML) rather "
                    "than the archive. This is often a login or consent page. "
                    "Open the URL in a browser.",
                    url=self._url,
                )
        return data


def copy_tar_member(
    client: HTTPClient, url: str, member: str, output, *, progress: bool = False
) -> None:
    """Stream a remote tar archive until ``member`` and write it to ``output``.

    Reading stops after the member and the connection is closed, so the rest of
    the archive is not downloaded beyond what the network buffers already hold.
    """
    expected_name = _normalise_member_name(member)
    with client.open(url) as response:
        stream = _CheckedRawStream(response, url)
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as archive:
                for info in archive:
                    if _normalise_member_name(info.name) != expected_name:
                        continue
                    if not info.isfile():
                        raise ArchiveError(f"{member} in {url} is not a regular file.")
                    source = archive.extractfile(info)
                    with progress_bar(info.size, Path(member).name, progress) as bar:
                        while chunk := source.read(CHUNK_SIZE):
                            output.write(chunk)
                            bar.update(len(chunk))
                    return
        except (tarfile.TarError, EOFError, zlib.error) as error:
            raise ArchiveError(
                f"{url} is not a readable tar archive or ended early ({error})."
            ) from error
    raise ArchiveError(
        f"{member} is not in the tar archive {url}. The member path in the "
        "registry may be wrong."
    )


def _normalise_member_name(name: str) -> str:
    return str(PurePosixPath("/", name))[1:]


class _HashingWriter:
    def __init__(self, output):
        self._output = output
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._output.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)


class ArchiveMemberDownloader:
    """A pooch downloader that writes one member of a remote archive.

    Zip archives are read by range requests, tar archives by streaming. After a
    complete call the instance stores the sha256 and size of the member.

    Parameters
    ----------
    client
        The HTTP client to use.
    member
        Path of the member inside the archive.
    expected_size
        Size of the member in bytes from the registry, or None if unknown.
    progress
        Show a progress bar.
    scratch_dir
        Folder for a whole-archive download when the server ignores ranges.
    """

    def __init__(
        self,
        client: HTTPClient,
        member: str,
        *,
        expected_size: int | None = None,
        progress: bool = True,
        scratch_dir: str | os.PathLike | None = None,
    ):
        self.client = client
        self.member = member
        self.expected_size = expected_size
        self.progress = progress
        self.scratch_dir = scratch_dir
        self.sha256: str | None = None
        self.size: int | None = None
        self.calls = 0

    def __call__(self, url: str, output_file, pooch=None, check_only: bool = False):
        if check_only:
            raise NotImplementedError("ArchiveMemberDownloader does not check URLs.")
        self.calls += 1
        self.sha256 = None
        self.size = None
        kind = archive_kind(url)
        with open(output_file, "wb") as handle:
            writer = _HashingWriter(handle)
            if kind == "zip":
                copy_zip_member(
                    self.client,
                    url,
                    self.member,
                    writer,
                    progress=self.progress,
                    scratch_dir=self.scratch_dir,
                )
            else:
                copy_tar_member(
                    self.client, url, self.member, writer, progress=self.progress
                )

        sha256 = writer.digest.hexdigest()
        if self.expected_size is not None and writer.size != self.expected_size:
            raise ChecksumMismatchError(
                f"{self.member} in {url} has {writer.size} bytes but the registry "
                f"lists {self.expected_size} bytes (sha256 of what arrived: "
                f"{sha256}). Nothing was kept.",
                url=url,
                expected=f"{self.expected_size} bytes",
                actual=sha256,
                size=writer.size,
            )
        self.sha256 = sha256
        self.size = writer.size
