"""Building the book in tests: one real build per session, and a helper for small books."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def jupyter_book_command() -> list[str]:
    """Return the command that runs the jupyter-book CLI of this environment."""
    script = Path(sys.executable).parent / "jupyter-book"
    if script.exists():
        return [str(script)]
    found = shutil.which("jupyter-book")
    if found is None:
        pytest.fail("jupyter-book is not installed; run `make test` to install it.")
    return [found]


@dataclass
class BookBuild:
    """The result of one `jupyter-book build` run."""

    returncode: int
    output: str
    html: Path


def build_book(
    source: Path, output: Path, *extra: str, env: dict[str, str] | None = None
) -> BookBuild:
    """Build the book at ``source`` into ``output`` with warnings as errors.

    The build runs with ``BIOVFM_OFFLINE=1``, so the modality chapters contact no
    host and show their offline stand-ins, whatever network the machine has.
    """
    command = [
        *jupyter_book_command(),
        "build",
        str(source),
        "--path-output",
        str(output),
        "--warningiserror",
        "--keep-going",
        *extra,
    ]
    environment = {**os.environ, "BIOVFM_OFFLINE": "1"}
    environment.pop("BIOVFM_DATA_ROOT", None)
    environment.pop("GITHUB_REPOSITORY", None)
    environment.update(env or {})
    result = subprocess.run(
        command,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return BookBuild(result.returncode, result.stdout + result.stderr, output / "_build" / "html")


def copy_book_settings(source: Path) -> None:
    """Copy the book's configuration, bibliography and static files into ``source``.

    Small books made by the tests then build with the same extensions and
    settings as the real one.
    """
    source.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "_config.yml", source / "_config.yml")
    shutil.copy(REPO / "references.bib", source / "references.bib")
    shutil.copytree(REPO / "book" / "_static", source / "book" / "_static")
    shutil.copytree(REPO / "book" / "_templates", source / "book" / "_templates")


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> BookBuild:
    """The repository's book, built once per test session into a fresh folder.

    A fresh output folder has an empty execution cache, so every notebook runs.
    """
    output = tmp_path_factory.mktemp("book")
    build = build_book(REPO, output)
    if build.returncode != 0:
        pytest.fail(f"The book build failed:\n{build.output[-6000:]}")
    return build
