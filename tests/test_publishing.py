"""Publishing: the GitHub Actions workflows and the repository and launch buttons."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bookbuild import REPO, build_book, copy_book_settings

WORKFLOWS = REPO / ".github" / "workflows"


def load_workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def steps_of(job: dict) -> list[str]:
    return [step.get("run", "") + step.get("uses", "") for step in job["steps"]]


def test_book_workflow_tests_builds_and_deploys():
    workflow = load_workflow("book.yml")
    jobs = workflow["jobs"]
    assert "bash .ci/run" in steps_of(jobs["test"])
    assert "make book" in steps_of(jobs["build"])
    upload = [step for step in jobs["build"]["steps"] if "upload-pages-artifact" in step.get("uses", "")]
    assert upload[0]["with"]["path"] == "_build/html"
    assert jobs["deploy"]["needs"] == ["test", "build"]
    assert any("deploy-pages" in step for step in steps_of(jobs["deploy"]))
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_book_workflow_triggers():
    # PyYAML reads the key "on" as True.
    triggers = load_workflow("book.yml")[True]
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["workflow_run"]["workflows"] == ["Link check"]


def test_link_workflow_is_scheduled_and_commits_report():
    workflow = load_workflow("links.yml")
    assert workflow[True]["schedule"][0]["cron"]
    runs = " ".join(steps_of(workflow["jobs"]["links"]))
    assert "biovfm links" in runs
    assert "biovfm_utils/data/link_report.json" in runs
    assert workflow["permissions"] == {"contents": "write"}


def test_config_sets_launch_and_repository_buttons():
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["html"]["use_repository_button"] is True


@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    source = tmp_path_factory.mktemp("publish") / "book"
    copy_book_settings(source)
    (source / "_toc.yml").write_text("format: jb-book\nroot: intro\n", encoding="utf-8")
    (source / "intro.md").write_text("# Small book\n\nText.\n", encoding="utf-8")
    return source


def test_published_build_points_buttons_at_repository(small_book, tmp_path):
    build = build_book(small_book, tmp_path / "out", env={"GITHUB_REPOSITORY": "example/fork"})
    assert build.returncode == 0, build.output[-3000:]
    html = (build.html / "intro.html").read_text(encoding="utf-8")
    assert 'href="https://github.com/example/fork"' in html
    assert "OWNER/REPOSITORY" not in html


def test_local_build_has_no_placeholder_buttons(small_book, tmp_path):
    build = build_book(small_book, tmp_path / "out")
    assert build.returncode == 0, build.output[-3000:]
    html = (build.html / "intro.html").read_text(encoding="utf-8")
    assert "OWNER/REPOSITORY" not in html
    assert "github.com" not in html
