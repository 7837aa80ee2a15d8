"""Check that the official links and sample URLs of the catalog still respond.

Run on demand (``biovfm links``), not in the test suite: it needs the network.
Requests go out with bounded concurrency and per-request timeouts. Each URL is
tried with HEAD first and, where a server rejects HEAD, with a GET whose body is
not read. The result is a dated JSON report that the book's notes page shows as
"links last checked on".
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from biovfm_utils import __version__

logger = logging.getLogger(__name__)

#: HTTP statuses after which a HEAD request is retried as GET: many servers do
#: not implement HEAD, or forbid it for bots.
HEAD_REJECTED = {400, 403, 404, 405, 406, 429, 500, 501, 503}

#: Report shipped with the package and shown on the notes page.
REPORT_NAME = "link_report.json"


@dataclass(frozen=True)
class LinkTarget:
    """A URL to check and where the catalog uses it."""

    source: str
    kind: str
    url: str


@dataclass(frozen=True)
class LinkResult:
    """The outcome of checking one URL.

    ``ok`` is true for a final status below 400. ``status`` is None when no
    response arrived, and ``error`` then gives the reason (timeout, refused, DNS).
    """

    source: str
    kind: str
    url: str
    ok: bool
    status: int | None
    final_url: str | None
    error: str | None
    seconds: float


def link_targets(catalog=None, registry=None) -> list[LinkTarget]:
    """Return the official link of every source and the URL of every sample."""
    from biovfm_utils.catalog import load_catalog
    from biovfm_utils.sample_registry import load_registry

    catalog = load_catalog() if catalog is None else catalog
    registry = load_registry() if registry is None else registry
    targets = [
        LinkTarget(source["name"], "official link", source["url"])
        for _, source in catalog.iterrows()
    ]
    seen = {target.url for target in targets}
    for sample in registry:
        if sample.url not in seen:
            seen.add(sample.url)
            targets.append(LinkTarget(sample.source, "sample", sample.url))
    return targets


def _check_one(session: requests.Session, target: LinkTarget, timeout) -> LinkResult:
    start = time.monotonic()
    status = final_url = error = None
    try:
        response = session.head(target.url, allow_redirects=True, timeout=timeout)
        status, final_url = response.status_code, response.url
        response.close()
        if status in HEAD_REJECTED:
            response = session.get(target.url, allow_redirects=True, timeout=timeout, stream=True)
            status, final_url = response.status_code, response.url
            response.close()
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    elapsed = round(time.monotonic() - start, 3)
    ok = status is not None and status < 400
    if not ok:
        logger.info("Link check failed for %s: %s", target.url, error or status)
    return LinkResult(target.source, target.kind, target.url, ok, status, final_url, error, elapsed)


def check_links(
    targets: list[LinkTarget],
    *,
    concurrency: int = 8,
    timeout: tuple[float, float] = (5.0, 15.0),
    progress: bool = True,
) -> list[LinkResult]:
    """Check every target with at most ``concurrency`` requests in flight.

    Parameters
    ----------
    concurrency
        Number of worker threads, each with one request at a time.
    timeout
        Connect and read timeouts in seconds, per request.

    Returns
    -------
    list of LinkResult
        In the order of ``targets``.
    """
    from tqdm.auto import tqdm

    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}.")
    session = requests.Session()
    session.headers["User-Agent"] = f"biovfm-utils/{__version__} link check"
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=concurrency)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(_check_one, session, target, timeout) for target in targets]
        results = [
            future.result()
            for future in tqdm(futures, desc="Checking links", unit="link", disable=not progress)
        ]
    session.close()
    return results


def write_report(results: list[LinkResult], path: str | os.PathLike, checked_on: datetime.date | None = None) -> Path:
    """Write the results as a dated JSON report, atomically, and return its path."""
    path = Path(path)
    checked_on = checked_on or datetime.date.today()
    report = {
        "checked_on": checked_on.isoformat(),
        "tool": f"biovfm-utils {__version__}",
        "n_checked": len(results),
        "n_ok": sum(result.ok for result in results),
        "results": [asdict(result) for result in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    # mkstemp creates the file readable by its owner only; the report is public.
    os.chmod(temporary, 0o644)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as output:
            json.dump(report, output, indent=2, ensure_ascii=False)
            output.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def in_source_checkout() -> bool:
    """Return whether the package is used from a source checkout (not installed)."""
    return (Path(__file__).resolve().parent.parent / "pyproject.toml").exists()


def default_report_path() -> Path:
    """Return the path of the report shipped in the package's data folder."""
    return Path(__file__).parent / "data" / REPORT_NAME


def read_report(path: str | os.PathLike | None = None) -> dict | None:
    """Return the saved report, or None if the links have never been checked."""
    path = default_report_path() if path is None else Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def report_markdown(report: dict | None) -> str:
    """Render a link report for the notes page: date, counts, and failures."""
    if report is None:
        return (
            "The links have not been checked yet. Run `biovfm links` with network "
            "access to check them; it writes the report this section shows."
        )
    lines = [
        f"Links last checked on {report['checked_on']} with `biovfm links`: "
        f"{report['n_ok']} of {report['n_checked']} answered with a status below 400.",
    ]
    failures = [result for result in report["results"] if not result["ok"]]
    if failures:
        lines += ["", "| Source | Link | Result |", "| :-- | :-- | :-- |"]
        for result in failures:
            outcome = f"HTTP {result['status']}" if result["status"] else (result["error"] or "no answer")
            outcome = " ".join(outcome.split()).replace("|", "\\|")[:160]
            lines.append(f"| {result['source']} ({result['kind']}) | <{result['url']}> | {outcome} |")
    return "\n".join(lines)
