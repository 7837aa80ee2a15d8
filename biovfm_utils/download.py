"""HTTP transfers for sample files: retries, timeouts and checks of what arrives.

The transfer code is written here rather than taken from pooch's
``HTTPDownloader`` because that downloader reads the body with requests'
``iter_content``, which undoes a gzip ``Content-Encoding``: a ``.tar.gz`` served
with that header would be stored decompressed and fail its checksum. It also
accepts an HTML login page or a body cut short by a dropped connection as if it
were the file. :class:`HTTPFileDownloader` reads ``response.raw`` without
decoding and checks both, and it keeps pooch's downloader interface so that
:func:`pooch.retrieve` still handles the temporary file, the hash check and the
move into the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from biovfm_utils import __version__
from biovfm_utils.fetch_errors import (
    ChecksumMismatchError,
    DownloadError,
    IncompleteDownloadError,
    WebPageError,
    classify_network_error,
    read_timeout_of,
    request_failure,
    transfer_failure,
)

logger = logging.getLogger(__name__)

#: Connect and read timeouts in seconds. The read timeout bounds each wait for
#: bytes from the server, not the whole transfer.
DEFAULT_TIMEOUT = (5.0, 30.0)

#: Attempts per request, counting the first one.
DEFAULT_ATTEMPTS = 5

#: Redirects followed before giving up.
MAX_REDIRECTS = 10

#: Maximum Retry-After wait honoured, in seconds. A longer requested wait is cut
#: to this value.
MAX_RETRY_AFTER = 120.0

#: Statuses retried with back-off. 429 and 503 honour a Retry-After header.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Bytes read from the socket per step.
CHUNK_SIZE = 64 * 1024


def user_agent() -> str:
    """Return the User-Agent header sent with every request."""
    return f"biovfm-utils/{__version__} python-requests/{requests.__version__}"


class _LoggedRetry(Retry):
    """urllib3 ``Retry`` that logs each wait and caps a server's Retry-After."""

    def get_retry_after(self, response):
        seconds = super().get_retry_after(response)
        if seconds is None:
            return None
        return min(seconds, MAX_RETRY_AFTER)

    def sleep(self, response=None):
        retry_after = None
        if response is not None and self.respect_retry_after_header:
            retry_after = self.get_retry_after(response)
        wait = retry_after if retry_after else self.get_backoff_time()

        last = self.history[-1] if self.history else None
        if last is not None and last.status:
            cause = f"HTTP {last.status}"
        elif last is not None and last.error is not None:
            cause = classify_network_error(last.error)[1]
        else:
            cause = "an error"
        path = last.url if last is not None else "?"
        logger.info(
            "Request for %s failed with %s, retry %d in %.1f s",
            path,
            cause,
            len(self.history),
            wait,
        )
        super().sleep(response)


def _drop_repeated_retry_warning(record: logging.LogRecord) -> bool:
    """Drop urllib3's retry warning for a request that `_LoggedRetry` governs.

    `_LoggedRetry` logs each retry with the URL, the cause and the wait, and
    urllib3 would repeat it as "Retrying (...) after connection broken by ...".
    Retries of other code in the process keep urllib3's warning.
    """
    arguments = record.args if isinstance(record.args, tuple) else ()
    return not (arguments and isinstance(arguments[0], _LoggedRetry))


logging.getLogger("urllib3.connectionpool").addFilter(_drop_repeated_retry_warning)


class HTTPClient:
    """A requests session with retries, timeouts and this package's User-Agent.

    Status retries (429, 500, 502, 503, 504) and connection retries use urllib3's
    ``Retry``. Its exponential back-off waits nothing before the first retry and
    then 1 s, 2 s, 4 s and so on (``backoff_factor`` 0.5, urllib3 1.26 and 2.x).
    A Retry-After header on a 429 or 503 replaces that wait, up to
    :data:`MAX_RETRY_AFTER`. Requests send ``Accept-Encoding: identity`` so that
    servers do not compress on the fly, because the stored bytes must equal the
    file's bytes.

    Parameters
    ----------
    timeout
        ``(connect, read)`` timeouts in seconds.
    attempts
        Attempts per request, counting the first one.
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
    ):
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}.")
        self.timeout = timeout
        self.attempts = attempts

        retries = _LoggedRetry(
            total=attempts - 1,
            connect=attempts - 1,
            read=attempts - 1,
            status=attempts - 1,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            backoff_factor=0.5,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retries)
        self.session = requests.Session()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.max_redirects = MAX_REDIRECTS
        self.session.headers["User-Agent"] = user_agent()
        self.session.headers["Accept-Encoding"] = "identity"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    @contextlib.contextmanager
    def open(
        self, url: str, headers: dict[str, str] | None = None
    ) -> Iterator[requests.Response]:
        """Send a streaming GET and yield the response once it passed the checks.

        Raises
        ------
        DownloadError
            For a refused connection, a timeout, too many redirects, or an error
            status after the retries.
        WebPageError
            If the server returns an HTML page (Content-Type text/html).
        """
        try:
            response = self.session.get(
                url, stream=True, timeout=self.timeout, headers=headers
            )
        except requests.TooManyRedirects as error:
            raise DownloadError(
                f"More than {MAX_REDIRECTS} redirects starting from {url}. Open the "
                "URL in a browser to see where it leads and update the registry.",
                url=url,
            ) from error
        except requests.RequestException as error:
            raise request_failure(url, error, self.timeout, self.attempts) from error

        with response:
            if response.history:
                logger.info(
                    "Followed %d redirect(s) from %s to %s",
                    len(response.history),
                    url,
                    response.url,
                )
            _check_status(response, url, self.attempts)
            _check_not_web_page_type(response, url)
            yield response


def _check_status(response: requests.Response, url: str, attempts: int) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return

    where = url if response.url == url else f"{url} (redirected to {response.url})"
    if status in (401, 403):
        advice = (
            "The server refused access: the file may need a login, or it moved. "
            "Open the URL in a browser."
        )
    elif status in (404, 410):
        advice = "The file is not at this address. The registry URL may be outdated."
    elif status in RETRY_STATUSES:
        advice = f"The server is busy or failing after {attempts} attempts. Try later."
    else:
        advice = "Open the URL in a browser to see what the server returns."
    raise DownloadError(
        f"{where} returned HTTP {status} {response.reason}. {advice}",
        url=url,
        status=status,
    )


def _web_page_error(url: str, final_url: str, reason: str) -> WebPageError:
    where = url if final_url == url else f"{url} (redirected to {final_url})"
    return WebPageError(
        f"{where} returned a web page ({reason}) rather than the file. This is "
        "often a login, consent or error page. Open the URL in a browser, and if "
        "it needs an account, download the file by hand into a folder named "
        "after the source, and set BIOVFM_DATA_ROOT to the folder that contains "
        "that folder (or pass local_root= in Python).",
        url=url,
    )


def _check_not_web_page_type(response: requests.Response, url: str) -> None:
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if content_type.lower() in ("text/html", "application/xhtml+xml"):
        raise _web_page_error(url, response.url, f"Content-Type {content_type}")


def looks_like_html(first_bytes: bytes) -> bool:
    """Return whether a body starts like an HTML document."""
    head = first_bytes[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def content_length(response: requests.Response) -> int | None:
    """Return the Content-Length of a response, or None if missing or invalid."""
    value = response.headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def progress_bar(total: int | None, description: str, enabled: bool):
    """Return a tqdm progress bar in bytes that renders in terminals and notebooks.

    Without a known total the bar shows only a byte count, redrawn at most every
    2 seconds so that logs of non-interactive runs stay short.
    """
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=description,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not enabled,
        leave=False,
        mininterval=0.5 if total else 2.0,
    )


class HTTPFileDownloader:
    """Download one URL to a file, storing exactly the bytes the server sent.

    The instance is a pooch downloader: :func:`pooch.retrieve` calls it with the
    URL and the path of a temporary file. It rejects HTML pages and bodies shorter
    than their Content-Length, and afterwards stores the sha256 and size of what
    it wrote.

    Parameters
    ----------
    client
        The HTTP client to use.
    expected_size
        Size in bytes from the registry, or None if unknown.
    progress
        Show a progress bar.
    description
        Label of the progress bar, usually the file name.
    """

    def __init__(
        self,
        client: HTTPClient,
        *,
        expected_size: int | None = None,
        progress: bool = True,
        description: str = "",
    ):
        self.client = client
        self.expected_size = expected_size
        self.progress = progress
        self.description = description
        #: sha256 (hex) of the bytes written by the last complete call.
        self.sha256: str | None = None
        #: Bytes written by the last complete call.
        self.size: int | None = None
        #: Number of calls, so a caller can tell whether a download happened.
        self.calls = 0

    def __call__(self, url: str, output_file, pooch=None, check_only: bool = False):
        if check_only:
            raise NotImplementedError("HTTPFileDownloader does not check URLs.")
        self.calls += 1
        self.sha256 = None
        self.size = None
        with self.client.open(url) as response:
            sha256, size = self._copy(response, url, output_file)

        if self.expected_size is not None and size != self.expected_size:
            raise ChecksumMismatchError(
                f"{url} sent {size} bytes but the registry lists "
                f"{self.expected_size} bytes (sha256 of what arrived: {sha256}). "
                "The file changed on the server or the registry is wrong. Nothing "
                "was kept.",
                url=url,
                expected=f"{self.expected_size} bytes",
                actual=sha256,
                size=size,
            )
        self.sha256 = sha256
        self.size = size
        logger.info("Downloaded %d bytes from %s", size, response.url)

    def _copy(self, response: requests.Response, url: str, output_file):
        total = content_length(response)
        digest = hashlib.sha256()
        size = 0
        first_chunk = True
        bar = progress_bar(total, self.description, self.progress)
        # read1 (urllib3 2) returns the bytes that have arrived. read waits for a
        # whole chunk and loses a partial one on a timeout, so with read1 the
        # count of bytes received stays exact when a transfer stalls.
        read = getattr(response.raw, "read1", response.raw.read)
        with bar, _open_output(output_file) as output:
            while True:
                try:
                    chunk = read(CHUNK_SIZE, decode_content=False)
                except (urllib3.exceptions.HTTPError, OSError) as error:
                    read_timeout = read_timeout_of(self.client.timeout)
                    cause = transfer_failure(error, size, read_timeout)
                    raise _incomplete(url, size, total, cause) from error
                if not chunk:
                    break
                if first_chunk and looks_like_html(chunk):
                    raise _web_page_error(url, response.url, "the body is HTML")
                first_chunk = False
                output.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                bar.update(len(chunk))

        if total is not None and size != total:
            raise _incomplete(url, size, total, "the connection closed before the end")
        return digest.hexdigest(), size


def _incomplete(
    url: str, size: int, total: int | None, cause
) -> IncompleteDownloadError:
    expected = "an unknown number of" if total is None else f"{total:,}"
    return IncompleteDownloadError(
        f"The transfer of {url} failed after {size:,} of {expected} bytes "
        f"({cause}). The partial file was deleted. Run again to restart the "
        "download.",
        url=url,
    )


@contextlib.contextmanager
def _open_output(output_file):
    if hasattr(output_file, "write"):
        yield output_file
    else:
        with Path(output_file).open("wb") as handle:
            yield handle
