"""The built book in headless Chromium, opened from file:// URLs as a reader opens it.

Every page is checked for console errors, broken images, broken internal links
and anchors, requests that leave the machine and skipped heading levels. Table 1
is checked with and without JavaScript, the bibliography for every entry, and
axe-core for accessibility. Screenshots and the axe findings are written to
``test-artifacts/`` at the repository root.

The module needs Debian's Chromium at /usr/bin/chromium and the playwright
Python package; it skips when either is missing.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from bookbuild import REPO, built_book  # noqa: F401  (fixture)
from browser_support import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    element_ids,
    heading_skips,
    image_faults,
    is_local,
    link_faults,
    local_context,
    png_size,
    site_pages,
    visit_page,
)

if not CHROMIUM.is_file():
    pytest.skip(
        f"Chromium not found at {CHROMIUM}; install Debian's chromium package "
        "to run the browser tests.",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed; run `make test` to install the test extras.",
)

ARTIFACTS = REPO / "test-artifacts"
TABLE1 = "notebooks/table1.html"
TABLE1_ROWS = "table.biovfm-table1 tbody tr"
SERIOUS_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the whole module.

    Playwright's ``launch`` gives the browser a fresh temporary profile (user
    data dir) and deletes it on close.
    """
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def html_root(built_book):  # noqa: F811  (the imported fixture)
    return built_book.html


@pytest.fixture(scope="module")
def visits(browser, html_root):
    """Every page of the book, each opened once in a fresh context."""
    results = {}
    for path in site_pages(html_root):
        with local_context(browser) as context:
            results[path.relative_to(html_root).as_posix()] = visit_page(context, path)
    return results


@pytest.fixture(scope="module")
def ids_of(browser, visits, html_root):
    """Return the element ids of any HTML file of the site, read from its DOM."""
    known = {visit.path.resolve(): visit.ids for visit in visits.values()}

    def ids(path):
        path = path.resolve()
        if path not in known:
            with local_context(browser) as context:
                page = context.new_page()
                page.goto(path.as_uri(), wait_until="load")
                known[path] = element_ids(page)
        return known[path]

    return ids


def open_page(context, html_root, relative):
    page = context.new_page()
    page.goto((html_root / relative).as_uri(), wait_until="load")
    return page


@pytest.fixture
def table1(browser, html_root):
    """Table 1 with its controls, in a fresh context."""
    with local_context(browser) as context:
        page = open_page(context, html_root, TABLE1)
        page.wait_for_selector(".biovfm-status")
        yield page


def visible_rows(page):
    return page.locator(f"{TABLE1_ROWS}:visible")


def column_texts(page, column: int) -> list[str]:
    """Return the text of one column (1-based) of the visible rows, top to bottom."""
    return visible_rows(page).locator(f"td:nth-child({column})").all_inner_texts()


# Every page, as loaded.


def toc_files(toc: dict) -> list[str]:
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_walk_finds_every_toc_page(visits):
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    expected = sorted(f"{name}.html" for name in toc_files(toc))
    assert sorted(visits) == expected


def test_pages_log_no_console_errors(visits):
    errors = {
        name: visit.console_errors
        for name, visit in visits.items()
        if visit.console_errors
    }
    assert errors == {}


def test_pages_raise_no_script_errors(visits):
    errors = {
        name: visit.page_errors for name, visit in visits.items() if visit.page_errors
    }
    assert errors == {}


def test_pages_request_only_local_files(visits):
    remote = {
        name: [url for url in visit.requests if not is_local(url)]
        for name, visit in visits.items()
    }
    assert {name: urls for name, urls in remote.items() if urls} == {}


def test_pages_requests_all_succeed(visits):
    failed = {
        name: visit.failed_requests
        for name, visit in visits.items()
        if visit.failed_requests
    }
    assert failed == {}


def test_pages_images_load_with_alt_text(visits):
    faults = {name: image_faults(visit) for name, visit in visits.items()}
    assert {name: found for name, found in faults.items() if found} == {}


#: Pages with figures, and how many images each shows. The image check above
#: would pass on a page that lost its figures, so this table catches that.
IMAGES_SHOWN = {
    "notebooks/statistics.html": 5,
    "notebooks/modalities/x-ray.html": 1,
    "notebooks/modalities/ct.html": 1,
    "notebooks/modalities/mr.html": 1,
    "notebooks/modalities/ultrasound.html": 1,
    "notebooks/modalities/microscopy.html": 1,
    "notebooks/modalities/fundus.html": 1,
    "notebooks/modalities/nuclear-medicine.html": 1,
}


@pytest.mark.parametrize("name, count", IMAGES_SHOWN.items())
def test_page_shows_images(visits, name, count):
    assert len(visits[name].images) == count


def test_pages_links_resolve(visits, html_root, ids_of):
    faults = {
        name: link_faults(visit, html_root, ids_of) for name, visit in visits.items()
    }
    assert {name: found for name, found in faults.items() if found} == {}


def test_pages_headings_skip_no_level(visits):
    skips = {name: heading_skips(visit.headings) for name, visit in visits.items()}
    assert {name: found for name, found in skips.items() if found} == {}


def test_page_checks_catch_faults(browser, tmp_path, http_server):
    # A page with one of each fault, so that the checks above can be trusted to
    # fail. Its remote image points at a loopback server that must see nothing,
    # because the context aborts the request before it is sent.
    remote = http_server.url("/pixel.png")
    page = tmp_path / "faults.html"
    page.write_text(
        "<!doctype html><html lang='en'><head><title>Faults</title></head><body>"
        "<h1>Faults</h1><h3>Skipped level</h3>"
        "<img src='missing.png' alt='A missing file'>"
        f"<img src='{remote}' alt=''>"
        "<a href='missing.html'>missing page</a>"
        "<a href='#nowhere'>missing anchor</a>"
        "<a href='#here' id='here'>this anchor</a>"
        "<script>console.error('deliberate console error');"
        "throw new Error('deliberate script error');</script>"
        "</body></html>",
        encoding="utf-8",
    )
    with local_context(browser) as context:
        visit = visit_page(context, page)

    assert any("deliberate console error" in text for text in visit.console_errors)
    assert any("deliberate script error" in text for text in visit.page_errors)
    assert remote in visit.requests
    assert http_server.requests == []
    assert len(image_faults(visit)) == 3
    assert heading_skips(visit.headings) == ["h1 'Faults' -> h3 'Skipped level'"]
    faults = link_faults(visit, tmp_path, lambda path: visit.ids)
    assert [fault.split(":")[0] for fault in faults] == ["missing.html", "#nowhere"]


# Table 1.


def test_table1_has_61_rows(table1):
    assert table1.locator(TABLE1_ROWS).count() == 61


def test_table1_status_counts_all(table1):
    assert "61 of 61 sources shown" in table1.locator(".biovfm-status").inner_text()


def apply_filters(page, search="", modality="", collections=False, access=""):
    if modality:
        page.locator("#biovfm-modality").select_option(label=modality)
    if collections:
        page.locator("#biovfm-collections").check()
    if access:
        page.locator("#biovfm-access").select_option(label=access)
    if search:
        page.locator("#biovfm-search").press_sequentially(search)


FILTER_CASES = [
    pytest.param({"modality": "Fundus"}, 20, id="fundus"),
    pytest.param(
        {"modality": "Fundus", "collections": True}, 21, id="fundus-with-collections"
    ),
    pytest.param({"modality": "CT"}, 2, id="ct"),
    pytest.param({"modality": "CT", "collections": True}, 5, id="ct-with-collections"),
    pytest.param({"modality": "Multi-modality collections"}, 3, id="collections-only"),
    pytest.param({"access": "Hugging Face"}, 2, id="hugging-face"),
    pytest.param({"modality": "Fundus", "access": "Kaggle"}, 2, id="fundus-on-kaggle"),
    pytest.param({"search": "vindr"}, 7, id="search-vindr"),
    pytest.param({"search": "VINDR"}, 7, id="search-ignores-case"),
    pytest.param({"search": "ChestX-ray8"}, 1, id="search-alias"),
    pytest.param({"search": "eophtha"}, 1, id="search-without-punctuation"),
    pytest.param({"search": "no such dataset"}, 0, id="search-no-match"),
]


@pytest.mark.parametrize("filters, shown", FILTER_CASES)
def test_table1_filter(table1, filters, shown):
    apply_filters(table1, **filters)
    assert visible_rows(table1).count() == shown
    assert (
        f"{shown} of 61 sources shown" in table1.locator(".biovfm-status").inner_text()
    )


def test_table1_fundus_rows_are_fundus(table1):
    apply_filters(table1, modality="Fundus")
    assert set(column_texts(table1, 2)) == {"Fundus"}


def test_table1_hugging_face_rows(table1):
    apply_filters(table1, access="Hugging Face")
    names = [re.sub(r"\s*\[.*\]$", "", text) for text in column_texts(table1, 1)]
    assert names == ["RP3D-DiagDS", "SAM-Med2D-20M"]


def image_counts(page) -> list[int]:
    return [int(text.replace(",", "")) for text in column_texts(page, 3)]


def test_table1_sort_by_images_ascending(table1):
    table1.get_by_role("button", name="#Images").click()
    header = table1.locator("table.biovfm-table1 thead th").nth(2)
    assert header.get_attribute("aria-sort") == "ascending"
    counts = image_counts(table1)
    assert counts == sorted(counts)
    assert len(counts) == 61


def test_table1_sort_by_images_descending(table1):
    button = table1.get_by_role("button", name="#Images")
    button.click()
    button.click()
    headers = table1.locator("table.biovfm-table1 thead th")
    assert headers.nth(2).get_attribute("aria-sort") == "descending"
    assert [headers.nth(i).get_attribute("aria-sort") for i in (0, 1, 3)] == [
        "none"
    ] * 3
    assert column_texts(table1, 1)[0].startswith("RP3D-DiagDS")
    counts = image_counts(table1)
    assert counts == sorted(counts, reverse=True)


@pytest.fixture
def static_table1(browser, html_root):
    """Table 1 in a context with JavaScript disabled."""
    with local_context(browser, javascript=False) as context:
        yield open_page(context, html_root, TABLE1)


def test_table1_without_scripts_shows_61_rows(static_table1):
    assert visible_rows(static_table1).count() == 61


@pytest.mark.parametrize(
    "control",
    [
        "form.biovfm-table1-controls",
        "#biovfm-search",
        "#biovfm-modality",
        "#biovfm-collections",
        "#biovfm-access",
        ".biovfm-status",
        "button.biovfm-sort",
    ],
)
def test_table1_without_scripts_has_no_control(static_table1, control):
    assert static_table1.locator(control).count() == 0


# Bibliography.


@pytest.fixture
def bibliography(browser, html_root):
    with local_context(browser) as context:
        yield open_page(context, html_root, "book/bibliography.html")


def test_bibliography_shows_67_entries(bibliography):
    assert bibliography.locator("div.citation").count() == 67
    assert bibliography.locator("div.citation:visible").count() == 67


def test_bibliography_labels_1_to_66_then_paper(bibliography):
    labels = bibliography.locator("div.citation > .label").all_inner_texts()
    assert labels[:66] == [f"[{number}]" for number in range(1, 67)]
    last = bibliography.locator("div.citation").nth(66).inner_text()
    assert "BioVFM-21M" in last


# Accessibility.


@pytest.fixture(scope="module")
def axe_violations(browser, html_root):
    """Run axe-core on every page and write its violations to test-artifacts/.

    Returns ``{page: [violation, ...]}``, each violation with its rule id,
    impact, help text and the CSS targets of the failing nodes.
    """
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        pytest.fail(
            "axe-playwright-python is not installed; install it with "
            "`.venv/bin/pip install axe-playwright-python==0.1.8`."
        )
    axe = Axe()
    results = {}
    for path in site_pages(html_root):
        name = path.relative_to(html_root).as_posix()
        with local_context(browser) as context:
            page = open_page(context, html_root, name)
            response = axe.run(page).response
        results[name] = [
            {
                "rule": violation["id"],
                "impact": violation["impact"],
                "help": violation["help"],
                "targets": [node["target"] for node in violation["nodes"]],
            }
            for violation in response["violations"]
        ]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe-violations.json").write_text(
        json.dumps(results, indent=2), encoding="utf-8"
    )
    return results


def serious(violations):
    return [v for v in violations if v["impact"] in SERIOUS_IMPACTS]


def test_table1_has_no_axe_violations(axe_violations):
    assert axe_violations[TABLE1] == []


def test_pages_have_no_serious_axe_violations(axe_violations):
    found = {name: serious(violations) for name, violations in axe_violations.items()}
    assert {name: violations for name, violations in found.items() if violations} == {}


# Screenshots, kept as test artefacts.


@pytest.mark.parametrize(
    "relative, name",
    [(TABLE1, "table1.png"), ("notebooks/modalities/ct.html", "ct.png")],
)
def test_screenshot_saved(browser, html_root, relative, name):
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    target.unlink(missing_ok=True)
    with local_context(browser) as context:
        page = open_page(context, html_root, relative)
        page.screenshot(path=target, full_page=True)
        viewport_height = page.viewport_size["height"]
    width, height = png_size(target)
    assert width > 0
    # A full-page shot of a long page is taller than the window.
    assert height > viewport_height
