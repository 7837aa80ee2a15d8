"""The biovfm command line: every subcommand and format, and its errors."""

from __future__ import annotations

import csv
import io
import json
import socket
import subprocess
import sys

import pytest

from biovfm_utils.bibliography import load_bibliography, parse_bibliography
from biovfm_utils.catalog import load_catalog
from biovfm_utils.cli import build_parser, main

FASTMRI_TEXT = (
    "[31] F. Knoll, J. Zbontar, A. Sriram, M. J. Muckley, M. Bruno, A. Defazio, "
    "M. Parente, K. J. Geras, J. Katsnelson, H. Chandarana, et al. fastMRI: a "
    "publicly available raw k-space and DICOM dataset of knee images for "
    "accelerated MR image reconstruction using machine learning. Radiology: "
    "Artificial Intelligence, 2(1):e190007, 2020. doi:10.1148/ryai.2020190007.\n"
    "[63] Jure Zbontar, Florian Knoll, Anuroop Sriram, Tullie Murrell, Zhengnan "
    "Huang, Matthew J. Muckley, Aaron Defazio, Ruben Stern, Patricia Johnson, Mary "
    "Bruno, Marc Parente, Krzysztof J. Geras, Joe Katsnelson, Hersh Chandarana, "
    "Zizhao Zhang, Michal Drozdzal, Adriana Romero, Michael Rabbat, Pascal Vincent, "
    "Nafissa Yakubova, James Pinkerton, Duo Wang, Erich Owens, C. Lawrence Zitnick, "
    "Michael P. Recht, Daniel K. Sodickson, and Yvonne W. Lui. fastMRI: an open "
    "dataset and benchmarks for accelerated MRI. 2018. arXiv:1811.08839.\n"
)


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def keys_of(bibtex: str) -> list[str]:
    return list(parse_bibliography(bibtex, "<output>").entries)


SUBCOMMANDS = ["table", "stats", "info", "cite", "fetch", "links", "export"]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_of_every_subcommand(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: biovfm {command}")


def test_top_level_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert command in out


def test_python_dash_m_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "biovfm_utils", "info", "ORVS"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ORVS (Table 1, row 54)")


# table


def test_table_markdown_lists_61_rows(capsys):
    code, out, _ = run(capsys, "table")
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| ") and "[" in line]
    assert len(rows) == 61
    assert rows[0] == "| BUS-B [61] | US | 163 | http://www2.docm.mmu.ac.uk/STAFF/M.Yap/dataset.php |"
    assert "61 sources, 21,472,715 images." in out


def test_table_csv_round_trips(capsys):
    code, out, _ = run(capsys, "table", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 61
    assert sum(int(row["n_images"]) for row in rows) == 21_472_715
    assert rows[5]["citation_keys"] == "knoll2020fastmri; zbontar2018fastmri"


def test_table_json_round_trips(capsys):
    code, out, _ = run(capsys, "table", "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert [record["name"] for record in records] == list(load_catalog()["name"])
    assert records[21]["modalities"] == ["CT", "MR", "Ultrasound"]


def test_table_latex_cites_keys(capsys):
    code, out, _ = run(capsys, "table", "--format", "latex")
    assert code == 0
    assert out.startswith("\\begin{tabular}")
    assert "FastMRI~\\cite{knoll2020fastmri,zbontar2018fastmri} & MR & 2{,}453{,}909" in out
    assert "CHASE\\_DB1~\\cite{CHASE_DB1}" in out
    assert out.count("\\\\\n") == 62


# stats


def test_stats_text_shows_totals(capsys):
    code, out, _ = run(capsys, "stats")
    assert code == 0
    assert out.startswith("BioVFM-21M: 21,472,715 images from 61 sources.")
    assert "| 6 | 18,241,389 | 84.95 % |" in out


def test_stats_json_is_parseable(capsys):
    code, out, _ = run(capsys, "stats", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["totals"] == {"n_sources": 61, "n_images": 21_472_715}
    largest = payload["largest_sources"]
    assert largest[2]["k"] == 6
    assert largest[2]["n_images"] == 18_241_389


# info


def test_info_known_source(capsys):
    code, out, _ = run(capsys, "info", "mimic-cxr")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "MIMIC-CXR (Table 1, row 13)"
    assert "  Images:     377,110 (full: All MIMIC-CXR images.)" in lines
    assert "  Access:     credentialed: credentialed: PhysioNet account + CITI training + signed DUA" in lines
    assert "  References: [27] johnson2019mimic, [28] johnson2019mimicjpg" in lines
    assert "How to obtain it:" in out
    assert "Create a PhysioNet account" in out


def test_info_shows_unverified_flags(capsys):
    code, out, _ = run(capsys, "info", "RadImageNet")
    assert code == 0
    assert "Verified:   no (access: unverified, licence: unverified)" in out


def test_info_shows_printed_link(capsys):
    code, out, _ = run(capsys, "info", "STARE")
    assert code == 0
    assert "prints the link as https://cecas.clemson.edu/$\\sim $ahoover/stare/" in out


def test_info_unknown_name_exits_2_with_suggestions(capsys):
    code, out, err = run(capsys, "info", "chexpret")
    assert code == 2
    assert out == ""
    assert "No source named 'chexpret'" in err
    assert "Closest: CheXpert" in err


# cite


def test_cite_fastmri_text_exact(capsys):
    code, out, _ = run(capsys, "cite", "FastMRI", "--format", "text")
    assert code == 0
    assert out == FASTMRI_TEXT


def test_cite_fastmri_bibtex_is_file_text(capsys):
    code, out, _ = run(capsys, "cite", "fastmri")
    assert code == 0
    bibliography = load_bibliography()
    expected = (
        bibliography.raw["knoll2020fastmri"].text
        + "\n\n"
        + bibliography.raw["zbontar2018fastmri"].text
        + "\n"
    )
    assert out == expected


def test_cite_deduplicates_shared_reference(capsys):
    code, out, _ = run(capsys, "cite", "Montgomery CXR", "Shenzhen CXR", "montgomery")
    assert code == 0
    assert keys_of(out) == ["jaeger2014two"]


def test_cite_with_paper_puts_paper_first(capsys):
    code, out, _ = run(capsys, "cite", "ORVS", "--with-paper")
    assert code == 0
    assert keys_of(out) == ["liu2025biovfm", "sarhan2021transfer_orvs"]


def test_cite_modality_fundus_gives_21_references(capsys):
    code, out, _ = run(capsys, "cite", "--modality", "fundus")
    assert code == 0
    keys = keys_of(out)
    assert len(keys) == 21
    assert "ye2023sa" not in keys


def test_cite_modality_with_collections(capsys):
    code, out, _ = run(capsys, "cite", "--modality", "Fundus", "--include-collections")
    assert code == 0
    assert "ye2023sa" in keys_of(out)


def test_cite_nuclear_medicine_needs_collections(capsys):
    code, _, err = run(capsys, "cite", "--modality", "NM")
    assert code == 2
    assert "--include-collections" in err


def test_cite_all_gives_66_references(capsys):
    code, out, _ = run(capsys, "cite", "--all")
    assert code == 0
    assert len(keys_of(out)) == 66


def test_cite_all_text_shows_no_latex(capsys):
    code, out, _ = run(capsys, "cite", "--all", "--format", "text", "--with-paper")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 67
    assert lines[0].startswith("[BioVFM-21M] Jiarun Liu")
    for line in lines:
        assert "{" not in line, line
        assert "}" not in line, line
        assert "\\" not in line, line
        assert " and others" not in line


def test_cite_unknown_modality(capsys):
    code, _, err = run(capsys, "cite", "--modality", "PET")
    assert code == 2
    assert "Unknown modality 'PET'" in err


def test_cite_unknown_name(capsys):
    code, _, err = run(capsys, "cite", "Kvasir")
    assert code == 2
    assert "Kvasir-Capsule" in err


def test_cite_needs_a_selection():
    with pytest.raises(SystemExit) as exit_info:
        main(["cite"])
    assert exit_info.value.code == 2


# export


def test_export_bib_writes_group_files(tmp_path, capsys):
    code, out, _ = run(capsys, "export", "--format", "bib", "--output", str(tmp_path))
    assert code == 0
    files = sorted(path.name for path in tmp_path.iterdir())
    assert "biovfm-21m-all-sources.bib" in files
    assert "biovfm-21m-fundus.bib" in files
    assert "biovfm-21m-multi-modality.bib" in files
    assert len(out.splitlines()) == len(files)


def test_export_jsonld_to_file(tmp_path, capsys):
    target = tmp_path / "biovfm.jsonld"
    code, _, _ = run(capsys, "export", "--format", "jsonld", "--output", str(target))
    assert code == 0
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["@type"] == "Dataset"
    assert len(document["hasPart"]) == 61


def test_export_bib_needs_output(capsys):
    code, _, err = run(capsys, "export", "--format", "bib")
    assert code == 2
    assert "--output" in err


def test_parser_builds_without_error():
    parser = build_parser()
    assert parser.prog == "biovfm"


# fetch, against a loopback server


def write_registry(path, url, sha256="unknown"):
    path.write_text(
        "source,file,url,member,sha256,size_bytes,format,evidence\n"
        f"ORVS,2012.png,{url},,{sha256},,png,served by the test\n",
        encoding="utf-8",
    )
    return path


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (4, 3), 128).save(buffer, format="PNG")
    return buffer.getvalue()


def test_fetch_downloads_from_registry(capsys, tmp_path, http_server):
    from conftest import Reply

    url = http_server.serve("/orvs.png", Reply(body=png_bytes()))
    registry = write_registry(tmp_path / "samples.csv", url)
    cache = tmp_path / "cache"
    code, out, err = run(
        capsys, "fetch", "orvs", "--registry", str(registry), "--cache-dir", str(cache), "--no-progress"
    )
    assert code == 0, err
    assert out.startswith("ORVS: ")
    assert "sha256 pinned" in out
    assert len(http_server.requests_for("/orvs.png")) == 1
    stored = [path for path in cache.rglob("*.png")]
    assert len(stored) == 1
    assert stored[0].read_bytes() == png_bytes()


def test_fetch_checksum_mismatch_exits_1(capsys, tmp_path, http_server):
    from conftest import Reply

    url = http_server.serve("/orvs.png", Reply(body=png_bytes()))
    registry = write_registry(tmp_path / "samples.csv", url, sha256="0" * 64)
    cache = tmp_path / "cache"
    code, _, err = run(
        capsys, "fetch", "ORVS", "--registry", str(registry), "--cache-dir", str(cache), "--no-progress"
    )
    assert code == 1
    assert url in err
    assert "0" * 64 in err
    assert not list(cache.rglob("*.png"))


def test_fetch_offline_makes_no_request(capsys, tmp_path, http_server):
    from conftest import Reply

    url = http_server.serve("/orvs.png", Reply(body=png_bytes()))
    registry = write_registry(tmp_path / "samples.csv", url)
    code, _, err = run(
        capsys, "fetch", "ORVS", "--offline", "--registry", str(registry), "--cache-dir", str(tmp_path)
    )
    assert code == 1
    assert "Offline mode is on" in err
    assert http_server.requests_for("/orvs.png") == []


def test_fetch_registration_source_prints_steps(capsys, tmp_path):
    code, _, err = run(capsys, "fetch", "CheXpert", "--cache-dir", str(tmp_path))
    assert code == 1
    assert "not an open download" in err
    assert "BIOVFM_DATA_ROOT" in err


def test_fetch_reads_local_copy(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "data" / "chexpert" / "train"
    folder.mkdir(parents=True)
    (folder / "view1.png").write_bytes(png_bytes())
    monkeypatch.setenv("BIOVFM_DATA_ROOT", str(tmp_path / "data"))
    code, out, err = run(capsys, "fetch", "CheXpert", "--cache-dir", str(tmp_path / "cache"))
    assert code == 0, err
    assert "view1.png" in out
    assert "local copy" in out


def test_fetch_invalid_registry_exits_2(capsys, tmp_path):
    registry = tmp_path / "samples.csv"
    registry.write_text("source,file\nORVS,x.png\n", encoding="utf-8")
    code, _, err = run(capsys, "fetch", "ORVS", "--registry", str(registry))
    assert code == 2
    assert str(registry) in err


# Bad input gives one line and a non-zero status, never a traceback.


def test_cite_collections_flag_needs_modality(capsys):
    code, _, err = run(capsys, "cite", "CheXpert", "--include-collections")
    assert code == 2
    assert "--include-collections works only with --modality" in err


def test_cite_reports_every_unknown_name(capsys):
    code, _, err = run(capsys, "cite", "CheXpert", "Foo", "Barr")
    assert code == 2
    assert "'Foo'" in err
    assert "'Barr'" in err


def test_unknown_modality_suggests_spelling(capsys):
    code, _, err = run(capsys, "cite", "--modality", "Xray")
    assert code == 2
    assert "Did you mean X-ray" in err


def test_verbose_after_subcommand(capsys):
    code, out, _ = run(capsys, "info", "ORVS", "-v")
    assert code == 0
    assert out.startswith("ORVS")


def test_verbose_before_subcommand_is_kept():
    args = build_parser().parse_args(["-v", "info", "ORVS"])
    assert args.verbose is True


def test_export_to_folder_is_rejected(capsys, tmp_path):
    code, _, err = run(capsys, "export", "--format", "csv", "--output", str(tmp_path))
    assert code == 2
    assert "is a folder" in err


def test_export_creates_missing_parent(capsys, tmp_path):
    target = tmp_path / "new" / "dir" / "catalog.json"
    code, _, _ = run(capsys, "export", "--format", "json", "--output", str(target))
    assert code == 0
    assert len(json.loads(target.read_text(encoding="utf-8"))) == 61


def test_export_bib_to_file_is_rejected(capsys, tmp_path):
    target = tmp_path / "existing.bib"
    target.write_text("", encoding="utf-8")
    code, _, err = run(capsys, "export", "--format", "bib", "--output", str(target))
    assert code == 2
    assert "give a folder" in err


@pytest.mark.parametrize("command", [["links", "--timeout", "0"], ["fetch", "ORVS", "--timeout", "-5"]])
def test_non_positive_timeout_is_rejected(capsys, command):
    code, _, err = run(capsys, *command)
    assert code == 2
    assert "--timeout must be positive" in err


def test_invalid_offline_switch_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("BIOVFM_OFFLINE", "maybe")
    code, _, err = run(capsys, "fetch", "ORVS", "--cache-dir", str(tmp_path))
    assert code == 1
    assert "BIOVFM_OFFLINE='maybe'" in err
    assert "Traceback" not in err


def test_links_without_any_answer_keeps_report(capsys, tmp_path, monkeypatch):
    from biovfm_utils import linkcheck

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    targets = [linkcheck.LinkTarget("ORVS", "official link", f"http://127.0.0.1:{port}/")]
    monkeypatch.setattr(linkcheck, "link_targets", lambda: targets)
    report = tmp_path / "report.json"
    report.write_text("{}", encoding="utf-8")
    code, _, err = run(capsys, "links", "--output", str(report), "--no-progress")
    assert code == 1
    assert "none of the 1 links answered" in err
    assert report.read_text(encoding="utf-8") == "{}"
