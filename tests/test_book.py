"""A real build of the book, and its HTML read back as a reader would see it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from bookbuild import REPO, build_book, built_book, copy_book_settings  # noqa: F401
from biovfm_utils.bibliography import load_bibliography
from biovfm_utils.catalog import citation_numbers, load_catalog


def read_page(build, relative: str) -> BeautifulSoup:
    path = build.html / relative
    assert path.exists(), f"{relative} was not built"
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def cell_text(element) -> str:
    """Return an element's text as a reader sees it, whitespace collapsed."""
    return " ".join(element.get_text().split())


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def table1_rows(built_book):
    page = read_page(built_book, "notebooks/table1.html")
    table = page.select_one("table.biovfm-table1")
    assert table is not None, "Table 1 is missing from notebooks/table1.html"
    return table.select("tbody tr")


def bibliography_lists(build):
    page = read_page(build, "book/bibliography.html")
    lists = page.select("div.bibliography, div.citation-list")
    return page, lists


def test_build_has_no_warnings(built_book):
    # Sphinx prints "path: WARNING: ..." or "WARNING: ..."; the kernel's own log
    # lines ("[IPKernelApp] WARNING | ...") are not Sphinx warnings.
    pattern = re.compile(r"(^|: )WARNING: ")
    warnings = [line for line in built_book.output.splitlines() if pattern.search(line)]
    assert warnings == []


def test_table1_has_61_rows(table1_rows):
    assert len(table1_rows) == 61


def test_table1_rows_show_published_values(table1_rows, catalog):
    for row, (_, source) in zip(table1_rows, catalog.iterrows()):
        dataset, modality, count, link = row.find_all("td")
        # sphinxcontrib-bibtex sorts the labels of one citation: the paper's
        # "SARAS-ESAD [8,7]" renders as "[7, 8]".
        numbers = ", ".join(str(n) for n in sorted(source["reference_numbers"]))
        assert cell_text(dataset) == f"{source['name']} [{numbers}]"
        assert cell_text(modality) == source["modality"]
        assert cell_text(count) == f"{source['n_images']:,}"
        anchor = link.find("a")
        assert anchor["href"] == source["url"]
        assert cell_text(anchor) == "Link"


def test_table1_citations_link_to_numbered_entries(built_book, table1_rows):
    bibliography = read_page(built_book, "book/bibliography.html")
    for row in table1_rows:
        citations = row.find("td").select("a.reference.internal")
        assert citations, cell_text(row)
        for citation in citations:
            page, _, anchor = citation["href"].partition("#")
            assert page.endswith("book/bibliography.html")
            target = bibliography.find(id=anchor)
            assert target is not None, f"{citation['href']} does not resolve"
            label = cell_text(target.find(class_="label")).strip("[]")
            assert label == cell_text(citation)


def test_bibliography_numbers_66_entries_in_paper_order(built_book):
    _, lists = bibliography_lists(built_book)
    entries = lists[0].select("div.citation")
    labels = [cell_text(entry.find(class_="label")).strip("[]") for entry in entries]
    assert labels == [str(n) for n in range(1, 67)]


def test_bibliography_entries_match_keys(built_book):
    # Entry N starts with the first author's last name (or the title) of the key
    # that the catalog numbers N.
    bib = load_bibliography()
    key_of = {number: key for key, number in citation_numbers(load_catalog()).items()}
    _, lists = bibliography_lists(built_book)
    for number, entry in enumerate(lists[0].select("div.citation"), start=1):
        fields = bib.entries[key_of[number]]
        authors = fields.persons.get("author")
        if authors:
            expected = " ".join(authors[0].last_names)
        else:
            expected = re.sub(r"[{}\\]", "", fields.fields["title"]).split()[0]
        text = cell_text(entry)
        assert re.sub(r"[{}]", "", expected) in text, (number, text[:80])


def test_bibliography_lists_the_paper(built_book):
    _, lists = bibliography_lists(built_book)
    assert len(lists) == 2
    entries = lists[1].select("div.citation")
    assert len(entries) == 1
    assert "BioVFM-21M" in entries[0].get_text()


def test_bibliography_shows_et_al_not_others(built_book):
    page, _ = bibliography_lists(built_book)
    text = page.get_text(" ")
    assert "et al." in text
    assert " and others" not in text


def test_no_unrendered_roles_anywhere(built_book):
    for path in built_book.html.rglob("*.html"):
        text = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser").get_text()
        for marker in ("{cite}", "{glue", "{catalog}", "{doc}", "{bibtex-entry}"):
            assert marker not in text, f"{marker} left in {path.relative_to(built_book.html)}"


def test_statistics_figures_are_numbered_with_alt_text(built_book):
    page = read_page(built_book, "notebooks/statistics.html")
    figures = page.select("figure")
    assert len(figures) == 5
    for number, figure in enumerate(figures, start=1):
        image = figure.find("img")
        assert image is not None
        assert image.get("alt", "").strip(), f"figure {number} has no alt text"
        source = (built_book.html / "notebooks" / image["src"]).resolve()
        assert source.exists(), image["src"]
        assert source.stat().st_size > 1000
        caption = cell_text(figure.find("figcaption"))
        assert caption.startswith(f"Fig. {number}"), caption


def test_statistics_page_shows_known_values(built_book):
    text = read_page(built_book, "notebooks/statistics.html").get_text(" ")
    assert "21,472,715" in text
    assert "18,241,389" in text
    assert "84.95 %" in text


def test_intro_quotes_catalog_totals(built_book):
    text = cell_text(read_page(built_book, "book/intro.html"))
    assert "21,472,715 biomedical images" in text
    assert "61 public sources" in text


def test_intro_shows_paper_bibtex(built_book):
    page = read_page(built_book, "book/intro.html")
    blocks = [cell_text(block) for block in page.select("div.highlight-bibtex pre")]
    assert any("@misc{liu2025biovfm" in block or "liu2025biovfm" in block for block in blocks)


def test_notes_page_lists_repaired_links(built_book, catalog):
    text = read_page(built_book, "book/table1-notes.html").get_text(" ")
    for url in catalog.loc[catalog["url_as_printed"] != "", "url"]:
        assert url in text


def test_notes_page_lists_training_splits(built_book, catalog):
    page = read_page(built_book, "book/table1-notes.html")
    text = page.get_text(" ")
    for name in catalog.loc[catalog["count_relation"] == "training split", "name"]:
        assert name in text


# Small books that check how the build fails.


def make_small_book(
    tmp_path: Path, code: str, timeout: int = 60, fingerprint_paths=()
) -> Path:
    source = tmp_path / "book"
    copy_book_settings(source)
    config = (source / "_config.yml").read_text(encoding="utf-8")
    config = re.sub(r"timeout: \d+", f"timeout: {timeout}", config)
    if fingerprint_paths:
        listed = "".join(f"\n      - {path}" for path in fingerprint_paths)
        config = config.replace(
            "  config:\n", f"  config:\n    biovfm_fingerprint_paths:{listed}\n", 1
        )
    (source / "_config.yml").write_text(config, encoding="utf-8")
    (source / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: broken\n", encoding="utf-8"
    )
    (source / "intro.md").write_text("# Small book\n", encoding="utf-8")
    notebook = {
        "cells": [
            {"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# Broken"},
            {
                "cell_type": "code",
                "id": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": code,
            },
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (source / "broken.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    return source


def test_failing_cell_fails_build(tmp_path):
    source = make_small_book(tmp_path, "raise RuntimeError('deliberate failure')")
    build = build_book(source, tmp_path / "out")
    assert build.returncode != 0
    assert "broken.ipynb" in build.output
    assert "deliberate failure" in build.output


def test_cell_timeout_fails_build(tmp_path):
    source = make_small_book(tmp_path, "import time\ntime.sleep(60)", timeout=3)
    build = build_book(source, tmp_path / "out")
    assert build.returncode != 0
    assert "broken.ipynb" in build.output


def test_warm_rebuild_reuses_outputs(tmp_path):
    source = make_small_book(tmp_path, "print('ran')")
    first = build_book(source, tmp_path / "out")
    assert first.returncode == 0, first.output[-3000:]
    cache = tmp_path / "out" / "_build" / ".jupyter_cache"
    assert cache.exists()
    # A newer file makes Sphinx read the notebook again; its code is unchanged,
    # so the execution cache must supply the outputs.
    (source / "broken.ipynb").touch()
    second = build_book(source, tmp_path / "out")
    assert second.returncode == 0, second.output[-3000:]
    assert "broken" in second.output
    assert "Executing notebook" not in second.output


def test_how_to_cite_download_links_resolve(built_book):
    page = read_page(built_book, "book/how-to-cite.html")
    links = page.select("a.download")
    names = {link.get_text() for link in links}
    assert "biovfm-21m-all-sources.bib" in names
    assert "biovfm-21m.jsonld" in names
    for link in links:
        target = (built_book.html / "book" / link["href"]).resolve()
        assert target.exists(), link["href"]


def test_downloaded_bib_files_hold_expected_keys(built_book, catalog):
    folder = built_book.html / "_downloads" / "biovfm"
    all_sources = load_bibliography(folder / "biovfm-21m-all-sources.bib")
    assert set(all_sources.entries) == set(citation_numbers(catalog))
    fundus = load_bibliography(folder / "biovfm-21m-fundus.bib")
    expected = {
        key
        for keys in catalog.loc[catalog["group"] == "Fundus", "citation_keys"]
        for key in keys
    }
    assert set(fundus.entries) == expected


def test_downloaded_jsonld_lists_every_source(built_book, catalog):
    document = json.loads(
        (built_book.html / "_downloads" / "biovfm" / "biovfm-21m.jsonld").read_text(
            encoding="utf-8"
        )
    )
    assert [part["name"] for part in document["hasPart"]] == list(catalog["name"])


# Modality chapters, built offline.

STANDIN_MODALITIES = ["X-ray", "CT", "MR", "Ultrasound", "Microscopy", "Fundus", "Nuclear medicine"]
NO_STANDIN_MODALITIES = ["Endoscopy", "Dermoscopy", "OCTA"]


def chapter_page(build, modality):
    from biovfm_utils.gallery import chapter_file

    return read_page(build, f"notebooks/modalities/{chapter_file(modality)}.html")


@pytest.mark.parametrize("modality", STANDIN_MODALITIES)
def test_chapter_shows_labelled_standin_image(built_book, modality):
    from biovfm_utils.gallery import chapter_file

    page = chapter_page(built_book, modality)
    figure = page.find("figure", id=f"fig-samples-{chapter_file(modality)}")
    assert figure is not None, "no sample figure"
    image = figure.find("img")
    assert image.get("alt", "").strip()
    source = (built_book.html / "notebooks" / "modalities" / image["src"]).resolve()
    assert source.stat().st_size > 5000
    titles = [cell_text(title) for title in page.select("div.admonition p.admonition-title")]
    assert any("offline stand-in" in title for title in titles), titles
    assert "Licence:" in cell_text(page)


@pytest.mark.parametrize("modality", NO_STANDIN_MODALITIES)
def test_chapter_without_standin_says_so(built_book, modality):
    page = chapter_page(built_book, modality)
    assert page.find("figure") is None
    titles = [cell_text(title) for title in page.select("div.admonition p.admonition-title")]
    assert "No image on this page" in titles
    assert "synthetic" in cell_text(page)


def test_chapter_cite_blocks_have_bibtex_and_links(built_book, catalog):
    from biovfm_utils.catalog import sources_for_modality

    page = chapter_page(built_book, "Fundus")
    blocks = page.select("div.highlight-bibtex pre")
    sources = sources_for_modality("Fundus", catalog)
    assert len(blocks) == len(sources)
    cited = {a["href"].partition("#")[0] for a in page.select("a.reference.internal") if "#id" in a.get("href", "")}
    assert cited == {"../../book/bibliography.html"}


def test_chapter_marks_collections(built_book):
    text = cell_text(chapter_page(built_book, "CT"))
    assert "RP3D-DiagDS (collection:" in text
    assert "SAM-Med2D-20M (collection:" in text


def test_modality_mix_page_labels_estimates(built_book):
    page = read_page(built_book, "notebooks/modality-mix.html")
    text = cell_text(page)
    assert "estimate" in text
    assert "21,472,715" in text
    figure = page.find("figure")
    assert figure is not None
    assert figure.find("img").get("alt", "").strip()
    for grade in ("documented", "third-party", "inferred"):
        assert grade in text


def test_rebuild_locally_page_shows_verify_run(built_book):
    page = read_page(built_book, "notebooks/rebuild-locally.html")
    text = cell_text(page)
    assert "biovfm verify" in text
    figures = page.select("figure")
    assert len(figures) >= 2
    for figure in figures:
        assert figure.find("img").get("alt", "").strip()


def test_benchmarks_page_includes_results(built_book):
    text = cell_text(read_page(built_book, "book/benchmarks.html"))
    for heading in ("Book build", "Range read of one zip member", "Verify scan"):
        assert heading in text


def test_rebuild_after_package_change_executes_again(tmp_path):
    # The notebook reads a data file that the execution cache does not watch.
    # Listed among the fingerprinted paths, a change to it must make a rebuild
    # run the notebook again, as a change to the biovfm_utils package does.
    source = make_small_book(
        tmp_path, "print(open('data/value.txt').read())", fingerprint_paths=["data"]
    )
    (source / "data").mkdir()
    (source / "data" / "value.txt").write_text("first-value", encoding="utf-8")
    first = build_book(source, tmp_path / "out")
    assert first.returncode == 0, first.output[-3000:]
    page = (first.html / "broken.html").read_text(encoding="utf-8")
    assert "first-value" in page

    (source / "data" / "value.txt").write_text("second-value", encoding="utf-8")
    second = build_book(source, tmp_path / "out")
    assert second.returncode == 0, second.output[-3000:]
    assert "Executing notebook" in second.output
    page = (second.html / "broken.html").read_text(encoding="utf-8")
    assert "second-value" in page
    assert "first-value" not in page
