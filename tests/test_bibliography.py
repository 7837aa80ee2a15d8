"""references.bib parses strictly, and bad BibTeX fails with file, line and entry."""

import re

import pytest

from biovfm_utils.bibliography import (
    DOI_PATTERN,
    BibliographyError,
    load_bibliography,
    normalise_doi,
    parse_bibliography,
    scan_entries,
)
from biovfm_utils.bibstyle import format_references
from biovfm_utils.catalog import citation_numbers, load_catalog

PAPER_KEY = "liu2025biovfm"


@pytest.fixture(scope="module")
def bibliography():
    return load_bibliography(fix_dois=False)


def test_references_bib_has_66_plus_paper(bibliography):
    assert len(bibliography.entries) == 67
    assert PAPER_KEY in bibliography.entries


def test_every_catalog_key_is_in_bib(bibliography):
    keys = set(citation_numbers(load_catalog()))
    assert keys <= set(bibliography.entries)


def test_bib_holds_no_unused_entries(bibliography):
    keys = set(citation_numbers(load_catalog())) | {PAPER_KEY}
    assert set(bibliography.entries) == keys


def test_every_doi_is_bare(bibliography):
    for key, entry in bibliography.entries.items():
        doi = entry.fields.get("doi")
        if doi is not None:
            assert DOI_PATTERN.match(doi), f"{key}: {doi}"
            assert "doi.org" not in doi, key


def test_no_dataset_entry_type(bibliography):
    types = {entry.type for entry in bibliography.entries.values()}
    assert types <= {"article", "inproceedings", "misc", "incollection", "book", "techreport"}


def test_raw_text_of_every_entry_is_kept(bibliography):
    for key, raw in bibliography.raw.items():
        assert raw.text.startswith("@")
        assert key in raw.text.splitlines()[0]


GOOD = """@article{first,
  author = {Abr{\\`a}moff, Michael D. and others},
  title = {First},
  journal = {J},
  year = {2013},
}

@misc{second,
  title = {Second},
  year = {2020},
}
"""


def test_parse_good_text():
    parsed = parse_bibliography(GOOD, "good.bib")
    assert list(parsed.entries) == ["first", "second"]


def test_duplicate_key_names_both_lines():
    text = GOOD + "\n@misc{first,\n  title = {Again},\n}\n\n@misc{third,\n  title = {T},\n}\n"
    with pytest.raises(BibliographyError) as error:
        parse_bibliography(text, "dup.bib")
    message = str(error.value)
    assert "dup.bib" in message
    assert "'first'" in message
    assert "line 13" in message
    assert "line 1 " in message


def test_duplicate_key_differs_only_in_case():
    text = GOOD + "\n@misc{FIRST,\n  title = {Again},\n}\n"
    with pytest.raises(BibliographyError, match="duplicate key 'FIRST'"):
        parse_bibliography(text, "dup.bib")


def test_unbalanced_brace_names_file_line_entry():
    text = GOOD.replace("title = {Second}", "title = {Second")
    with pytest.raises(BibliographyError) as error:
        parse_bibliography(text, "broken.bib")
    message = str(error.value)
    assert "broken.bib, line 8" in message
    assert "'second'" in message
    assert "unbalanced braces" in message


def test_unbalanced_brace_before_next_entry():
    text = GOOD.replace("title = {First}", "title = {First")
    with pytest.raises(BibliographyError, match=r"line 1: entry 'first' has unbalanced"):
        parse_bibliography(text, "broken.bib")


def test_entry_without_key():
    with pytest.raises(BibliographyError, match="no valid key"):
        parse_bibliography("@article{,\n  title = {T},\n}\n", "nokey.bib")


@pytest.mark.parametrize(
    "value, bare",
    [
        ("10.5566/ias.1155", "10.5566/ias.1155"),
        ("https://doi.org/10.5566/ias.1155", "10.5566/ias.1155"),
        ("https://doi.org/http://dx.doi.org/10.5566/ias.1155", "10.5566/ias.1155"),
        ("https://doi.org/https://doi.org/10.1016/j.ins.2019.06.011", "10.1016/j.ins.2019.06.011"),
        ("doi:10.1000/xyz", "10.1000/xyz"),
    ],
)
def test_normalise_doi(value, bare):
    assert normalise_doi(value) == bare


def test_normalise_doi_rejects_non_doi():
    with pytest.raises(ValueError, match="not a DOI"):
        normalise_doi("https://example.org/paper")


URL_DOI = '@article{a,\n  title = {A},\n  doi = {https://doi.org/http://dx.doi.org/10.5566/ias.1155},\n}\n'


def test_doi_url_rejected_with_fix():
    with pytest.raises(BibliographyError) as error:
        parse_bibliography(URL_DOI, "doi.bib", fix_dois=False)
    message = str(error.value)
    assert "doi.bib, line 1, entry 'a'" in message
    assert "doi = {10.5566/ias.1155}" in message


def test_doi_url_normalised_when_fixing():
    parsed = parse_bibliography(URL_DOI, "doi.bib", fix_dois=True)
    assert parsed.entries["a"].fields["doi"] == "10.5566/ias.1155"


def test_to_bibtex_returns_text_as_written():
    parsed = parse_bibliography(GOOD, "good.bib")
    exported = parsed.to_bibtex(["second", "first", "second"])
    assert exported.index("@misc{second") < exported.index("@article{first")
    assert exported.count("@misc{second") == 1
    assert "Abr{\\`a}moff" in exported


def test_to_bibtex_unknown_key():
    parsed = parse_bibliography(GOOD, "good.bib")
    with pytest.raises(KeyError, match="'missing'"):
        parsed.to_bibtex(["missing"])


def test_scan_skips_comments_and_strings():
    text = "@comment{ignored}\n@string{j = {Journal}}\n" + GOOD
    assert [entry.key for entry in scan_entries(text)] == ["first", "second"]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(BibliographyError, match="file not found"):
        load_bibliography(tmp_path / "none.bib")


# Formatting with the biovfm style.


def test_others_renders_et_al():
    parsed = parse_bibliography(GOOD, "good.bib")
    (text,) = format_references(parsed, ["first"])
    assert "et al." in text
    assert "others" not in text


def test_latex_accent_is_rendered():
    parsed = parse_bibliography(GOOD, "good.bib")
    (text,) = format_references(parsed, ["first"])
    assert "Abràmoff" in text


def test_formatted_references_show_no_raw_latex(bibliography):
    texts = format_references(bibliography, list(bibliography.entries))
    for text in texts:
        assert not re.search(r"[{}\\]", text), text
        assert " and others" not in text, text


def test_stray_closing_brace_is_an_error():
    text = GOOD.replace("title = {First},", "title = {First}},")
    with pytest.raises(BibliographyError, match=r"line 4: a field after the end of entry 'first'"):
        parse_bibliography(text, "stray.bib")


def test_at_sign_inside_a_field_is_accepted():
    text = GOOD.replace("title = {Second},", "title = {Second\n@ home},")
    assert list(parse_bibliography(text, "at.bib").entries) == ["first", "second"]


def test_comment_between_entries_is_accepted():
    text = GOOD.replace("\n\n@misc", "\n\nA comment line between entries.\n\n@misc")
    assert list(parse_bibliography(text, "comment.bib").entries) == ["first", "second"]


def test_latin1_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latin.bib"
    path.write_bytes(GOOD.replace("Abr{\\`a}moff", "Abràmoff").encode("latin-1"))
    with pytest.raises(BibliographyError, match=r"latin.bib: not UTF-8"):
        load_bibliography(path)


def test_missing_user_file_says_check_path(tmp_path):
    with pytest.raises(BibliographyError, match="Check the path"):
        load_bibliography(tmp_path / "none.bib")
