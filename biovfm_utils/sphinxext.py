"""Sphinx extension that ties the book to the catalog and ``references.bib``.

Listed under ``sphinx.extra_extensions`` in ``_config.yml``. It registers the
``biovfm`` pybtex style, which numbers references as the paper does. Before any page
is read, it loads ``references.bib`` and the catalog strictly. A repeated key, an
unbalanced brace, a DOI stored as a URL or a citation key missing from the
bibliography then stops the build with the file, line and entry, where
sphinxcontrib-bibtex alone would only warn.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective, SphinxRole

from biovfm_utils import __version__, bibstyle
from biovfm_utils.bibliography import BibliographyError, load_bibliography
from biovfm_utils.catalog import CatalogError, load_catalog
from biovfm_utils.exports import (
    bib_downloads,
    catalog_csv,
    catalog_json,
    collection_jsonld,
    write_bib_downloads,
)
from biovfm_utils.notes import RENDERERS, catalog_values

logger = logging.getLogger(__name__)


def _book_catalog(env):
    """Return the catalog checked against the book's own ``references.bib``."""
    return load_catalog(bib_path=Path(env.srcdir) / env.config.bibtex_bibfiles[0])


def _check_sources(app: Sphinx) -> None:
    srcdir = Path(app.srcdir)
    for name in app.config.bibtex_bibfiles:
        path = srcdir / name
        try:
            load_bibliography(path, fix_dois=False)
        except BibliographyError as exc:
            raise ExtensionError(f"Invalid bibliography: {exc}") from None

    bib_path = srcdir / app.config.bibtex_bibfiles[0]
    try:
        load_catalog(bib_path=bib_path)
    except CatalogError as exc:
        raise ExtensionError(f"Invalid catalog: {exc}") from None


class CatalogValueRole(SphinxRole):
    """``{catalog}`n_images``` inserts a figure computed from the catalog."""

    def run(self):
        values = catalog_values(_book_catalog(self.env))
        if self.text not in values:
            known = ", ".join(values)
            message = self.inliner.reporter.error(
                f"Unknown catalog value {self.text!r}; use one of: {known}.",
                line=self.lineno,
            )
            return [self.inliner.problematic(self.rawtext, self.rawtext, message)], [
                message
            ]
        return [nodes.inline(self.rawtext, values[self.text])], []


class CatalogNotesDirective(SphinxDirective):
    """Render one list of known discrepancies of Table 1 from the data files.

    The argument names the list: ``repaired-links``, ``table-corrections``,
    ``reference-corrections`` or ``counts``. The list is generated as MyST
    Markdown and parsed in place, so its ``{cite}`` roles become citations.
    """

    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        if name not in RENDERERS:
            known = ", ".join(RENDERERS)
            raise self.error(f"Unknown list {name!r}; use one of: {known}.")
        data_files = (
            "catalog.csv",
            "table_corrections.csv",
            "reference_corrections.csv",
            "link_report.json",
        )
        for data_file in data_files:
            path = Path(__file__).parent / "data" / data_file
            if path.exists():
                self.env.note_dependency(str(path))
        markdown = RENDERERS[name](_book_catalog(self.env))
        container = nodes.container(classes=["catalog-notes", name])
        self.state.nested_parse(
            StringList(markdown.splitlines(), source=f"catalog-notes {name}"),
            self.content_offset,
            container,
        )
        return [container]


class BibtexEntryDirective(SphinxDirective):
    """Show BibTeX entries of ``references.bib`` as a code block, keys as arguments.

    The text is copied from the file at build time, so no page keeps a second,
    hand-written copy of an entry.
    """

    required_arguments = 1
    final_argument_whitespace = True

    def run(self):
        path = Path(self.env.srcdir) / self.config.bibtex_bibfiles[0]
        self.env.note_dependency(str(path))
        keys = self.arguments[0].replace(",", " ").split()
        try:
            text = load_bibliography(path, fix_dois=False).to_bibtex(keys)
        except KeyError as exc:
            raise self.error(str(exc.args[0])) from None
        block = nodes.literal_block(text, text, language="bibtex")
        return [block]


#: Folder of the generated downloads inside the HTML output.
DOWNLOADS = "_downloads/biovfm"


def _relative_to_root(docname: str) -> str:
    return "../" * docname.count("/")


class BibDownloadsDirective(SphinxDirective):
    """List the generated ``.bib`` files and catalog exports as download links.

    The files themselves are written into the HTML output when the build
    finishes, from ``references.bib`` and the catalog of this build.
    """

    def run(self):
        catalog = _book_catalog(self.env)
        prefix = _relative_to_root(self.env.docname) + DOWNLOADS + "/"
        items = nodes.bullet_list()
        from biovfm_utils.catalog import slugify
        from biovfm_utils.stats import GROUPS

        groups = {slugify(group): group for group in GROUPS}
        groups["all-sources"] = "all sources"
        groups["multi-modality"] = "the multi-modality collections"
        for name, keys in bib_downloads(catalog).items():
            slug = name.removeprefix("biovfm-21m-").removesuffix(".bib")
            text = f"{groups.get(slug, slug)} ({len(keys)} entries)"
            items += self._item(prefix + name, name, text)
        for name, text in EXPORT_FILES.items():
            items += self._item(prefix + name, name, text)
        return [items]

    @staticmethod
    def _item(uri: str, name: str, text: str):
        # The literal goes inside the link, so the theme draws it in its
        # code-link colour, which has enough contrast on the code background.
        link = nodes.reference("", "", nodes.literal(name, name), refuri=uri, classes=["download"])
        paragraph = nodes.paragraph("", "", link, nodes.Text(f": {text}"))
        return nodes.list_item("", paragraph)


#: Catalog exports written next to the ``.bib`` files, with their descriptions.
EXPORT_FILES = {
    "biovfm-21m-catalog.csv": "the catalog as CSV",
    "biovfm-21m-catalog.json": "the catalog as JSON",
    "biovfm-21m.jsonld": "schema.org Dataset description (JSON-LD)",
}


def _write_downloads(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    srcdir = Path(app.srcdir)
    bibliography = load_bibliography(srcdir / app.config.bibtex_bibfiles[0], fix_dois=False)
    catalog = _book_catalog(app.env)
    folder = Path(app.outdir) / DOWNLOADS
    write_bib_downloads(folder, catalog, bibliography)
    contents = {
        "biovfm-21m-catalog.csv": catalog_csv(catalog),
        "biovfm-21m-catalog.json": catalog_json(catalog),
        "biovfm-21m.jsonld": json.dumps(
            collection_jsonld(catalog, bibliography), indent=2, ensure_ascii=False
        )
        + "\n",
    }
    for name, text in contents.items():
        (folder / name).write_text(text, encoding="utf-8")
    logger.info("Wrote the .bib files and catalog exports to %s", folder)


def _drop_thebe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Remove sphinx-thebe's scripts, which this book does not use.

    Jupyter Book always loads sphinx-thebe. Its inline configuration script is
    added twice (once per environment update), which breaks in the browser with
    "Identifier 'THEBE_JS_URL' has already been declared", and its loader
    refers to unpkg.com. Launch buttons to Binder and Colab do not need it.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    kept = []
    for script in scripts:
        filename = str(getattr(script, "filename", "") or "")
        body = str(getattr(script, "attributes", {}).get("body", ""))
        if "thebe" in filename or "THEBE_JS_URL" in body:
            continue
        kept.append(script)
    context["script_files"] = kept


#: Repository URL of ``_config.yml`` that stands for "not published yet".
REPOSITORY_PLACEHOLDER = "https://github.com/OWNER/REPOSITORY"

_REPOSITORY_BUTTONS = ("use_repository_button", "use_issues_button", "use_edit_page_button")


def _set_repository(app: Sphinx, config) -> None:
    """Point the repository and launch buttons at the repository being published.

    GitHub Actions sets ``GITHUB_REPOSITORY`` (``owner/name``) and
    ``GITHUB_SERVER_URL``; any other build can set them too. Without them, a
    placeholder repository URL turns the buttons off.
    """
    options = config.html_theme_options
    repository = os.environ.get("GITHUB_REPOSITORY", "").strip()
    if repository:
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        options["repository_url"] = f"{server}/{repository}"
        return
    if options.get("repository_url") == REPOSITORY_PLACEHOLDER:
        for button in _REPOSITORY_BUTTONS:
            options[button] = False
        options["launch_buttons"] = {}
        options.pop("repository_url", None)


def _bibliography_list_roles(app, pagename, templatename, context, doctree) -> None:
    """Give bibliography entries the ARIA role their list expects.

    docutils 0.21 writes a citation list as ``<div role="list">`` whose entries
    carry ``role="doc-biblioentry"``. ARIA 1.2 deprecates that role, and axe-core
    does not accept it as a list item, so screen readers may announce an empty
    list. ``listitem`` is the role the list requires.
    """
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def package_fingerprint(extra_paths=()) -> str:
    """Hash every file of the ``biovfm_utils`` package, and of ``extra_paths``.

    The notebooks' outputs depend on the package's code and data files, which
    MyST-NB's execution cache does not watch: it keys outputs on the notebooks'
    code cells only.
    """
    package = Path(__file__).parent
    files = [path for path in package.rglob("*") if "__pycache__" not in path.parts]
    for extra in extra_paths:
        extra = Path(extra)
        files.extend(extra.rglob("*") if extra.is_dir() else [extra])

    digest = hashlib.sha256()
    for path in sorted(file for file in files if file.is_file()):
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _key_execution_cache(app: Sphinx, config) -> None:
    """Keep executed notebooks in a cache folder named by the package fingerprint.

    After any change to ``biovfm_utils`` (an edited catalog, a new function),
    the build then finds no cached outputs and executes the notebooks again,
    instead of showing outputs computed from the old package.
    """
    srcdir = Path(app.srcdir)
    extra = [srcdir / path for path in config.biovfm_fingerprint_paths]
    app.biovfm_fingerprint = package_fingerprint(extra)
    base = config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache"
    config.nb_execution_cache_path = str(Path(base) / app.biovfm_fingerprint)


def _outdated_after_package_change(app, env, added, changed, removed) -> list[str]:
    """Make Sphinx read every page again when the package fingerprint changed."""
    fingerprint = app.biovfm_fingerprint
    if getattr(env, "biovfm_fingerprint", None) == fingerprint:
        return []
    env.biovfm_fingerprint = fingerprint
    return sorted(env.found_docs - set(added))


def setup(app: Sphinx) -> dict:
    """Register the style, the checks, the role and the directive with Sphinx."""
    bibstyle.register()
    app.add_config_value("biovfm_fingerprint_paths", [], "env")
    app.connect("config-inited", _set_repository)
    app.connect("config-inited", _key_execution_cache)
    app.connect("env-get-outdated", _outdated_after_package_change)
    app.connect("builder-inited", _check_sources)
    app.add_role("catalog", CatalogValueRole())
    app.add_directive("catalog-notes", CatalogNotesDirective)
    app.add_directive("bibtex-entry", BibtexEntryDirective)
    app.add_directive("bib-downloads", BibDownloadsDirective)
    app.connect("build-finished", _write_downloads)
    app.connect("html-page-context", _drop_thebe_scripts)
    app.connect("html-page-context", _bibliography_list_roles)
    return {
        "version": __version__,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
