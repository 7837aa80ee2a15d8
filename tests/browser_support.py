"""Open pages of the built book in headless Chromium and record what a reader meets.

This module does not import Playwright, so that ``test_browser.py`` can skip with
a clear message before anything needs it. The functions take Playwright's sync
API objects (``Browser``, ``BrowserContext``, ``Page``) as arguments.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

#: Debian's Chromium. Playwright's own browser download is not used.
CHROMIUM = Path("/usr/bin/chromium")

#: Flags for running as root without a display, and without the background
#: traffic (updates, sync, metrics) that Chromium starts on its own.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: URL schemes that never leave the machine.
LOCAL_SCHEMES = ("file", "data", "blob", "about")

#: Link schemes that lead off the site, whose targets are not checked here.
EXTERNAL_LINK_SCHEMES = ("http", "https", "mailto")

#: Files at the root of the output that are not chapters: the Sphinx index and
#: search pages, and index.html, which only redirects to the first chapter.
NOT_PAGES = {"genindex.html", "search.html", "index.html"}

#: Time for an image to load and decode before it counts as broken, in ms.
IMAGE_TIMEOUT_MS = 10_000


def url_scheme(url: str) -> str:
    return url.partition(":")[0].lower()


def is_local(url: str) -> bool:
    """Return whether a request URL stays on this machine."""
    return url_scheme(url) in LOCAL_SCHEMES


def site_pages(html_root: Path) -> list[Path]:
    """Return the pages of the built book, found by walking the output folder.

    Folders whose name starts with an underscore are skipped: Sphinx puts
    assets there (``_static``, ``_images``, ``_sources``, ``_downloads``), and
    ``_static`` contains the theme's Jinja macro files, which end in ``.html`` but
    are not pages.
    """
    pages = []
    for path in sorted(html_root.rglob("*.html")):
        relative = path.relative_to(html_root)
        if any(part.startswith("_") for part in relative.parts):
            continue
        if relative.as_posix() in NOT_PAGES:
            continue
        pages.append(path)
    return pages


@contextlib.contextmanager
def local_context(browser, *, javascript: bool = True):
    """Yield a fresh browser context in which every non-local request is aborted.

    A fresh context has empty storage, so each page opens as on a reader's first
    visit. Because remote requests are aborted, a page that requests a remote
    URL shows a failed request at once instead of waiting for a timeout.
    """
    context = browser.new_context(java_script_enabled=javascript)

    def route(route):
        if is_local(route.request.url):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)
    try:
        yield context
    finally:
        context.close()


@dataclass
class Image:
    """An ``<img>`` element after it had the chance to load."""

    src: str
    alt: str | None
    natural_width: int


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Link:
    """An ``<a href>``: the attribute as written, and the URL it resolves to."""

    href: str
    url: str


@dataclass
class PageVisit:
    """What happened while one page loaded, and what its DOM contained afterwards."""

    path: Path
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


# Scroll each image into view (lazy images load only there), then wait until it
# is decoded. decode() rejects for a broken image, and a timer bounds the wait,
# so one bad image cannot stall the page.
_LOAD_IMAGES = """
async (timeout) => {
  const images = Array.from(document.images);
  for (const image of images) {
    image.loading = "eager";
    image.scrollIntoView();
    const timer = new Promise((resolve) => setTimeout(resolve, timeout));
    await Promise.race([image.decode().catch(() => {}), timer]);
  }
  return images.map((image) => ({
    src: image.getAttribute("src"),
    alt: image.getAttribute("alt"),
    natural_width: image.naturalWidth,
  }));
}
"""

_HEADINGS = """
() => Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6")).map((h) => ({
  level: Number(h.tagName.slice(1)),
  text: h.textContent.trim(),
}))
"""

_LINKS = """
() => Array.from(document.querySelectorAll("a[href]")).map((a) => ({
  href: a.getAttribute("href"),
  url: a.href,
}))
"""

_IDS = """
() => [
  ...Array.from(document.querySelectorAll("[id]"), (node) => node.id),
  ...Array.from(document.querySelectorAll("a[name]"), (node) => node.getAttribute("name")),
]
"""


def visit_page(context, path: Path) -> PageVisit:
    """Open ``path`` in a new tab of ``context`` and record the visit.

    The tab waits for the load event and for the network to be idle, loads
    every image, and closes again.
    """
    visit = PageVisit(path)
    page = context.new_page()
    page.on("console", lambda message: _record_console(visit, message))
    page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on(
        "requestfailed",
        lambda request: visit.failed_requests.append(
            f"{request.url} ({request.failure})"
        ),
    )
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_load_state("networkidle")
        visit.images = [
            Image(**image) for image in page.evaluate(_LOAD_IMAGES, IMAGE_TIMEOUT_MS)
        ]
        visit.headings = [Heading(**heading) for heading in page.evaluate(_HEADINGS)]
        visit.links = [Link(**link) for link in page.evaluate(_LINKS)]
        visit.ids = element_ids(page)
    finally:
        page.close()
    return visit


def _record_console(visit: PageVisit, message) -> None:
    if message.type == "error":
        visit.console_errors.append(message.text)


def element_ids(page) -> set[str]:
    """Return every ``id`` and every ``<a name>`` in the page's DOM."""
    return set(page.evaluate(_IDS))


def image_faults(visit: PageVisit) -> list[str]:
    """Describe each image that did not load or has no alt text."""
    faults = []
    for image in visit.images:
        if image.natural_width == 0:
            faults.append(f"{image.src}: not loaded (naturalWidth 0)")
        if not (image.alt or "").strip():
            faults.append(f"{image.src}: no alt text")
    return faults


def heading_skips(headings: list[Heading]) -> list[str]:
    """Describe each heading that is more than one level below the one before.

    Going up any number of levels is fine (an h4 followed by an h2), but going
    down must be one level at a time (an h2 followed by an h4 skips the h3).
    """
    skips = []
    for before, after in itertools.pairwise(headings):
        if after.level > before.level + 1:
            skips.append(
                f"h{before.level} {before.text!r} -> h{after.level} {after.text!r}"
            )
    return skips


def link_target(url: str) -> tuple[Path, str]:
    """Return the file and the decoded fragment that a ``file:`` URL points to."""
    parts = urlsplit(url)
    return Path(url2pathname(parts.path)), unquote(parts.fragment)


def link_faults(visit: PageVisit, html_root: Path, ids_of) -> list[str]:
    """Describe each link of a page that does not resolve inside the built site.

    ``ids_of(path)`` returns the element ids of the HTML page at ``path``. A
    link's fragment must be one of the ids of its target page.
    """
    faults = []
    root = html_root.resolve()
    for link in visit.links:
        scheme = url_scheme(link.url)
        if scheme in EXTERNAL_LINK_SCHEMES:
            continue
        if scheme != "file":
            faults.append(f"{link.href}: {scheme}: link, expected a file in the site")
            continue
        target, fragment = link_target(link.url)
        if not target.resolve().is_relative_to(root):
            faults.append(f"{link.href}: points outside the built site, to {target}")
            continue
        if not target.is_file():
            faults.append(f"{link.href}: file not found, {target}")
            continue
        if fragment and target.suffix == ".html" and fragment not in ids_of(target):
            faults.append(
                f"{link.href}: no element with id {fragment!r} in {target.name}"
            )
    return faults


def png_size(path: Path) -> tuple[int, int]:
    """Return the (width, height) of a PNG file, read from its IHDR chunk."""
    header = path.read_bytes()[:24]
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", header[16:24])
