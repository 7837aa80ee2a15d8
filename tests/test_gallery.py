"""Sample galleries of the modality chapters: downloads, local copies, stand-ins."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from conftest import Reply

from biovfm_utils import gallery
from biovfm_utils.catalog import load_catalog
from biovfm_utils.sample_registry import load_registry

STANDIN_MODALITIES = ["X-ray", "CT", "MR", "Ultrasound", "Microscopy", "Fundus", "Nuclear medicine"]
NO_STANDIN_MODALITIES = ["Endoscopy", "Dermoscopy", "OCTA"]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def png_bytes(size=(6, 4), value=90) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, value).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("modality", STANDIN_MODALITIES)
def test_offline_gallery_uses_standins(modality, catalog):
    samples, attempts = gallery.gather_samples(modality, offline=True, catalog=catalog)
    assert samples, modality
    for sample in samples:
        assert sample.kind == gallery.STANDIN
        assert sample.image.pixels.size > 0
        assert "Offline stand-in" in sample.origin
    for attempt in attempts:
        assert attempt.status in {"not downloaded", "no sample registered"}


@pytest.mark.parametrize("modality", NO_STANDIN_MODALITIES)
def test_offline_gallery_without_standin_is_empty(modality, catalog):
    samples, _ = gallery.gather_samples(modality, offline=True, catalog=catalog)
    assert samples == []
    text = gallery.samples_markdown(samples, modality)
    assert "No image on this page" in text
    assert "synthetic" in text


def test_offline_gallery_never_contacts_closed_sources(catalog):
    _, attempts = gallery.gather_samples("MR", offline=True, catalog=catalog)
    names = {attempt.source for attempt in attempts}
    closed = set(catalog.loc[catalog["access"] != "open", "name"])
    assert names.isdisjoint(closed)


def test_gallery_downloads_registered_sample(tmp_path, http_server, catalog):
    url = http_server.serve("/rossa.png", Reply(body=png_bytes()))
    registry_path = tmp_path / "samples.csv"
    registry_path.write_text(
        "source,file,url,member,sha256,size_bytes,format,evidence\n"
        f"ROSSA,1.png,{url},,unknown,,png,served by the test\n",
        encoding="utf-8",
    )
    samples, attempts = gallery.gather_samples(
        "OCTA",
        offline=False,
        catalog=catalog,
        registry=load_registry(registry_path),
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    assert [sample.kind for sample in samples] == [gallery.DOWNLOADED]
    assert samples[0].label == "ROSSA"
    assert url in samples[0].origin
    assert "pinned" in samples[0].origin
    assert [(a.source, a.status) for a in attempts] == [("ROSSA", gallery.DOWNLOADED)]
    assert len(http_server.requests_for("/rossa.png")) == 1


def test_gallery_reads_local_copy_of_closed_source(tmp_path, catalog):
    folder = tmp_path / "data" / "octa-500"
    folder.mkdir(parents=True)
    (folder / "10001.png").write_bytes(png_bytes())
    samples, attempts = gallery.gather_samples(
        "OCTA", offline=True, local_root=tmp_path / "data", catalog=catalog
    )
    assert [sample.kind for sample in samples] == [gallery.LOCAL_COPY]
    assert samples[0].label == "OCTA-500"
    assert "10001.png" in samples[0].origin
    assert ("OCTA-500", gallery.LOCAL_COPY) in [(a.source, a.status) for a in attempts]


def test_gallery_reports_undecodable_sample(tmp_path, catalog):
    folder = tmp_path / "data" / "rossa"
    folder.mkdir(parents=True)
    (folder / "broken.png").write_bytes(b"<!DOCTYPE html><html>login</html>")
    samples, attempts = gallery.gather_samples(
        "OCTA", offline=True, local_root=tmp_path / "data", catalog=catalog
    )
    assert samples == []
    rossa = [attempt for attempt in attempts if attempt.source == "ROSSA"]
    assert rossa[0].status == "not displayable"
    assert "HTML page" in rossa[0].detail


def test_samples_markdown_labels_every_standin(catalog):
    samples, _ = gallery.gather_samples("X-ray", offline=True, catalog=catalog)
    text = gallery.samples_markdown(samples, "X-ray")
    assert text.count("is an offline stand-in") == len(samples)
    assert "Licence:" in text
    assert "Origin:" in text
    table_rows = [line for line in text.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(table_rows) == len(samples)
    assert "MONOCHROME1" in text


def test_sources_markdown_marks_collections(catalog):
    text = gallery.sources_markdown("CT", catalog)
    assert "RadImageNet (collection: CT, MR, US)" in text
    assert "{cite}`de2024uls23`" in text


def test_access_markdown_lists_steps_for_closed_sources(catalog):
    text = gallery.access_markdown("Dermoscopy", catalog)
    assert "**ISIC-2024** (Kaggle)" in text
    assert "fitzpatrick17k" not in text


def test_cite_markdown_has_one_block_per_source(catalog):
    text = gallery.cite_markdown("Fundus", catalog)
    assert text.count("```{bibtex-entry}") == 21
    assert "```{bibtex-entry} decenciere2014feedback abramoff2013automated" in text


def test_no_image_text_names_registered_sources(catalog):
    samples, _ = gallery.gather_samples("OCTA", offline=True, catalog=catalog)
    text = gallery.samples_markdown(samples, "OCTA")
    assert "registered sample of ROSSA" in text


def test_chapter_files_cover_every_modality():
    from biovfm_utils.catalog import MODALITIES

    assert [gallery.chapter_file(modality) for modality in MODALITIES] == [
        "x-ray",
        "ct",
        "mr",
        "ultrasound",
        "endoscopy",
        "dermoscopy",
        "microscopy",
        "fundus",
        "octa",
        "nuclear-medicine",
    ]
