"""The committed notebooks: no outputs, and one skeleton for every modality chapter."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from biovfm_utils.catalog import MODALITIES
from biovfm_utils.gallery import chapter_file

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))
CHAPTERS = {modality: REPO / "notebooks" / "modalities" / f"{chapter_file(modality)}.ipynb" for modality in MODALITIES}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} has outputs"
            assert cell.execution_count is None, f"{path.name} has execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_valid_and_uses_python3(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_every_modality_has_a_chapter():
    for modality, path in CHAPTERS.items():
        assert path.exists(), f"no chapter for {modality}"


def test_every_chapter_is_in_the_toc():
    toc = (REPO / "_toc.yml").read_text(encoding="utf-8")
    for path in CHAPTERS.values():
        assert f"notebooks/modalities/{path.stem}" in toc


def test_chapters_share_one_skeleton():
    # Every chapter has the same cells except its title and its parameter cell.
    reference = None
    for modality, path in CHAPTERS.items():
        cells = nbformat.read(path, as_version=4).cells
        assert cells[1].source == f'MODALITY = "{modality}"'
        assert "parameters" in cells[1].metadata["tags"]
        assert cells[0].source.startswith("# ")
        body = [(cell.cell_type, cell.source, dict(cell.metadata)) for cell in cells[2:]]
        for _, _, metadata in body:
            figure = metadata.get("mystnb", {}).get("figure")
            if figure:
                figure.pop("name")
        if reference is None:
            reference = body
        assert body == reference, f"{path.name} differs from the other chapters"


def test_chapter_logic_lives_in_the_package():
    # Code cells only call biovfm_utils: no function or class definitions.
    for path in CHAPTERS.values():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert "def " not in cell.source
                assert "class " not in cell.source
