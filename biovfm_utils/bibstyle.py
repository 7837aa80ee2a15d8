"""A pybtex style that numbers references as the BioVFM-21M paper does.

pybtex's ``plain`` style sorts by author and ``unsrt`` numbers in citation order;
neither reproduces the paper's list, so reference ``[61]`` would not be BUS-B. This
style takes each key's number from the catalog (columns ``reference_numbers`` and
``citation_keys``), sorts numbered entries by it and gives any other entry, such
as the paper itself, an author-year label after them. It also prints an author
list that ends in ``and others`` as "et al.", which pybtex prints literally.
"""

from __future__ import annotations

import functools

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.labels.alpha import LabelStyle as AlphaLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from pybtex.style.template import FieldIsMissing, join, node, sentence

#: The name under which the style is registered with pybtex (and so with
#: sphinxcontrib-bibtex's ``bibtex_default_style``).
STYLE_NAME = "biovfm"


@functools.lru_cache(maxsize=1)
def reference_numbers() -> dict[str, int]:
    """Map each citation key of Table 1 to its number in the paper's reference list."""
    from biovfm_utils.catalog import citation_numbers, load_catalog

    return citation_numbers(load_catalog(bib_path=None))


class PaperOrderSorting(BaseSortingStyle):
    """Numbered references in the paper's order, then the rest by key."""

    def sorting_key(self, entry):
        number = reference_numbers().get(entry.key)
        if number is None:
            return (1, 0, entry.key.casefold())
        return (0, number, "")


class PaperLabels(BaseLabelStyle):
    """The paper's reference number, or an author-year label for other entries."""

    def format_labels(self, sorted_entries):
        numbers = reference_numbers()
        alpha = AlphaLabelStyle()
        for entry in sorted_entries:
            number = numbers.get(entry.key)
            if number is not None:
                yield str(number)
            else:
                yield alpha.format_label(entry)


def _is_others(person) -> bool:
    return str(person) == "others"


@node
def author_names(children, context, role):
    """Format the persons of ``role`` as "A, B, and C", or "A, B, et al."."""
    if children:
        raise ValueError(children)
    try:
        persons = list(context["entry"].persons[role])
    except KeyError:
        raise FieldIsMissing(role, context["entry"]) from None

    style = context["style"]
    truncated = bool(persons) and _is_others(persons[-1])
    if truncated:
        persons = persons[:-1]
    names = [style.format_name(person, style.abbreviate_names) for person in persons]
    if truncated:
        return Text(join(sep=", ")[names].format_data(context), ", et al.")
    return join(sep=", ", sep2=" and ", last_sep=", and ")[names].format_data(context)


class Style(UnsrtStyle):
    """unsrt layout with the paper's numbering and "et al." for truncated lists."""

    default_sorting_style = PaperOrderSorting
    default_label_style = PaperLabels

    def format_names(self, role, as_sentence=True):
        formatted = author_names(role)
        return sentence[formatted] if as_sentence else formatted


def register() -> None:
    """Register :class:`Style` with pybtex as ``"biovfm"`` (idempotent)."""
    register_plugin("pybtex.style.formatting", STYLE_NAME, Style, force=True)


def format_references(bibliography, keys, backend: str = "text") -> list[str]:
    """Format the entries of ``keys`` in the given order with this style.

    Parameters
    ----------
    bibliography
        A :class:`biovfm_utils.bibliography.Bibliography`.
    keys
        Citation keys; repeats are dropped.
    backend
        A pybtex backend name: ``"text"``, ``"markdown"``, ``"html"`` or
        ``"latex"``.

    Returns
    -------
    list of str
        One formatted reference per key, without its label. LaTeX markup such as
        braces and ``\\"o`` is rendered, never shown raw.
    """
    from pybtex.plugin import find_plugin

    style = Style()
    renderer = find_plugin("pybtex.backends", backend)()
    formatted = []
    for key in dict.fromkeys(keys):
        entry = bibliography.entries[key]
        text = style.format_entry("", entry).text
        formatted.append(text.render(renderer))
    return formatted
