"""Strict loading, look-up and export of ``references.bib``.

pybtex reads the file for both the book and the command line, and it forgives too
much. In strict mode it stops at a repeated key, so every later entry of the file
is lost, and sphinxcontrib-bibtex only logs a warning when that happens. So this
module scans the raw text first and raises a :class:`BibliographyError` that
names the file, line and entry for a repeated key, an unbalanced brace or a DOI
stored as a URL, before pybtex parses anything.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pybtex.errors
from pybtex.database import BibliographyData, parse_string
from pybtex.scanner import PybtexError

logger = logging.getLogger(__name__)

#: A bare DOI: the "10." prefix, a registrant code, a slash and a suffix.
DOI_PATTERN = re.compile(r"^10\.\d{4,9}/\S+$")

_DOI_URL_PREFIX = re.compile(
    r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)+", flags=re.IGNORECASE
)
_ENTRY_START = re.compile(r"^[ \t]*@([A-Za-z]+)[ \t]*([{(])", flags=re.MULTILINE)
_ENTRY_HEAD = re.compile(r"[ \t]*@[A-Za-z]+[ \t]*[{(]")
_NON_ENTRIES = {"comment", "string", "preamble"}


class BibliographyError(ValueError):
    """An invalid BibTeX file, with the file, line and entry at fault."""


@dataclass(frozen=True)
class RawEntry:
    """One entry of a BibTeX file as written: its key, type, first line and text."""

    key: str
    entry_type: str
    line: int
    text: str


def default_bib_path() -> Path:
    """Return the path of ``references.bib`` shipped with the package."""
    return Path(str(resources.files("biovfm_utils") / "data" / "references.bib"))


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _entry_end(text: str, start: int, opening: str) -> int | None:
    """Return the offset just after the delimiter that closes an entry, or None.

    ``start`` is the offset of the entry's opening ``{`` or ``(``. Braces inside
    the entry must balance, as BibTeX requires.
    """
    depth = 1
    for offset in range(start + 1, len(text)):
        char = text[offset]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return offset + 1 if opening == "{" else None
        elif char == ")" and opening == "(" and depth == 1:
            return offset + 1
        elif char == "\n" and _ENTRY_HEAD.match(text, offset + 1):
            # An entry that starts at the beginning of a line while braces are
            # still open means the previous entry never closed.
            return None
    return None


def _check_gap(text: str, start: int, end: int, previous: str, path: str) -> None:
    """Reject field-like text between two entries, the trace of a stray brace.

    BibTeX ignores text between entries as a comment. After an extra closing
    brace, the rest of an entry's fields land there and would vanish silently.
    """
    gap = text[start:end]
    match = re.search(r"^\s*,?\s*([A-Za-z][\w-]*)\s*=", gap, flags=re.MULTILINE)
    if match:
        line = _line_of(text, start + match.start(1))
        raise BibliographyError(
            f"{path}, line {line}: a field after the end of entry {previous!r}; "
            "a closing brace too many ends the entry early, so remove the extra '}'."
        )


def scan_entries(text: str, path: str = "<string>") -> list[RawEntry]:
    """Split BibTeX text into entries and check their keys and braces.

    Raises
    ------
    BibliographyError
        For an entry whose braces do not balance, an entry without a key, or a
        key used twice (case-insensitively, as BibTeX compares keys). The message
        names the file, the line and the key.
    """
    entries: list[RawEntry] = []
    first_line_of: dict[str, int] = {}
    previous_end, previous_key = 0, ""
    for match in _ENTRY_START.finditer(text):
        if match.start() < previous_end:
            continue  # an "@type{" inside the previous entry's field text
        if previous_key:
            _check_gap(text, previous_end, match.start(), previous_key, path)
        entry_type = match.group(1).lower()
        line = _line_of(text, match.start())
        opening_offset = match.end() - 1
        end = _entry_end(text, opening_offset, match.group(2))
        header = text[match.end() :].split(",", 1)[0].strip()
        if entry_type in _NON_ENTRIES:
            if end is None:
                raise BibliographyError(
                    f"{path}, line {line}: @{entry_type} has unbalanced braces."
                )
            previous_end, previous_key = end, ""
            continue

        key = header if re.fullmatch(r"[^\s{}(),=\"#%'~\\]+", header) else ""
        if not key:
            raise BibliographyError(
                f"{path}, line {line}: @{entry_type} entry has no valid key; "
                "write it as @type{key, ...}."
            )
        if end is None:
            raise BibliographyError(
                f"{path}, line {line}: entry {key!r} has unbalanced braces; "
                "every '{' in it needs a matching '}' before the next entry."
            )

        folded = key.casefold()
        if folded in first_line_of:
            raise BibliographyError(
                f"{path}: duplicate key {key!r} at line {line}; line "
                f"{first_line_of[folded]} already defines it. Rename or remove one "
                "of them: pybtex would drop every entry after the duplicate."
            )
        first_line_of[folded] = line
        entries.append(RawEntry(key, entry_type, line, text[match.start() : end]))
        previous_end, previous_key = end, key
    if previous_key:
        _check_gap(text, previous_end, len(text), previous_key, path)
    return entries


def normalise_doi(value: str) -> str:
    """Return a DOI in bare form, stripping ``https://doi.org/`` and ``doi:`` prefixes.

    Raises
    ------
    ValueError
        If what remains is not a DOI (``10.<registrant>/<suffix>``).
    """
    bare = _DOI_URL_PREFIX.sub("", value.strip())
    if not DOI_PATTERN.match(bare):
        raise ValueError(
            f"{value!r} is not a DOI of the form 10.<registrant>/<suffix>."
        )
    return bare


def check_dois(
    bibliography: BibliographyData,
    raw_entries: dict[str, RawEntry],
    path: str,
    *,
    fix: bool,
) -> None:
    """Check that every ``doi`` field is bare; with ``fix`` normalise it in place.

    Raises
    ------
    BibliographyError
        For a DOI that is not bare (when ``fix`` is false) or not a DOI at all.
    """
    for key, entry in bibliography.entries.items():
        value = entry.fields.get("doi")
        if value is None:
            continue
        line = raw_entries[key].line
        try:
            bare = normalise_doi(value)
        except ValueError as exc:
            raise BibliographyError(
                f"{path}, line {line}, entry {key!r}: {exc}"
            ) from None
        if bare == value:
            continue
        if not fix:
            raise BibliographyError(
                f"{path}, line {line}, entry {key!r}: the doi field contains a URL "
                f"({value}); store the bare DOI instead: doi = {{{bare}}}"
            )
        logger.warning("Entry %r: normalised DOI %r to %r.", key, value, bare)
        entry.fields["doi"] = bare


@dataclass(frozen=True)
class Bibliography:
    """A parsed BibTeX file: pybtex data plus each entry's text as written."""

    path: str
    data: BibliographyData
    raw: dict[str, RawEntry]

    @property
    def entries(self):
        """The pybtex entries, by key."""
        return self.data.entries

    def to_bibtex(self, keys) -> str:
        """Return the entries of ``keys`` as written in the file, deduplicated.

        Raises
        ------
        KeyError
            Naming the first key that is not in the file.
        """
        chunks = []
        for key in dict.fromkeys(keys):
            if key not in self.raw:
                raise KeyError(f"Citation key {key!r} is not in {self.path}.")
            chunks.append(self.raw[key].text)
        return "\n\n".join(chunks) + "\n"


def parse_bibliography(text: str, path: str = "<string>", *, fix_dois: bool = True):
    """Parse BibTeX text strictly; see :func:`load_bibliography`."""
    raw_entries = scan_entries(text, path)
    previous = pybtex.errors.strict
    pybtex.errors.set_strict_mode(True)
    try:
        data = parse_string(text, "bibtex")
    except PybtexError as exc:
        raise BibliographyError(f"{path}: {exc}") from None
    finally:
        pybtex.errors.set_strict_mode(previous)

    raw = {entry.key: entry for entry in raw_entries}
    missing = set(raw) - set(data.entries)
    if missing or len(data.entries) != len(raw):
        raise BibliographyError(
            f"{path}: pybtex read {len(data.entries)} entries but the file has "
            f"{len(raw)}; entries not read: {sorted(missing)}."
        )
    check_dois(data, raw, path, fix=fix_dois)
    return Bibliography(path, data, raw)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int, fix_dois: bool) -> Bibliography:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BibliographyError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the "
            "file as UTF-8."
        ) from None
    return parse_bibliography(text, path, fix_dois=fix_dois)


def load_bibliography(path: str | Path | None = None, *, fix_dois: bool = True):
    """Load a BibTeX file strictly, failing loudly where pybtex would lose entries.

    Parameters
    ----------
    path
        The ``.bib`` file; the packaged ``references.bib`` by default.
    fix_dois
        Normalise a ``doi`` field that contains a URL to the bare DOI (with a logged
        warning). With ``False`` such a field is an error, as the book build
        wants, because sphinxcontrib-bibtex would print ``doi.org/https://...``.

    Returns
    -------
    Bibliography

    Raises
    ------
    BibliographyError
        For a missing file, a repeated key, unbalanced braces, a missing key, a
        field pybtex cannot parse, or an invalid DOI; the message names the file,
        line and entry.
    """
    default = path is None
    path = Path(default_bib_path() if default else path)
    try:
        mtime_ns = path.stat().st_mtime_ns
    except FileNotFoundError:
        hint = (
            " The package reads references.bib from the top of the repository "
            "through this link; reinstall the package from a complete checkout."
            if default
            else " Check the path."
        )
        raise BibliographyError(f"{path}: file not found.{hint}") from None
    return _load_cached(str(path), mtime_ns, fix_dois)
