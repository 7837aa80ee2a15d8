"""The ``biovfm`` command line: Table 1, statistics, source details and citations.

Each subcommand is a thin layer over the library; run ``biovfm SUBCOMMAND --help``
for its options. Errors go to standard error with a non-zero exit status: 2 for a
name, modality or option that is not recognised, 1 for a failure while running.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from biovfm_utils import __version__

logger = logging.getLogger(__name__)


class UsageError(Exception):
    """A request the command line cannot serve, with the message to show."""


def _catalog():
    from biovfm_utils.catalog import load_catalog

    return load_catalog()


def _find(name: str):
    from biovfm_utils.catalog import find_source

    try:
        return find_source(name, _catalog())
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


def _modality_sources(modality: str, include_collections: bool):
    from biovfm_utils.catalog import sources_for_modality

    try:
        return sources_for_modality(modality, _catalog(), collections=include_collections)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


# table


def _table_latex(catalog) -> str:
    from biovfm_utils.tables import format_count

    def escape(text: str) -> str:
        for char, replacement in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("&", r"\&"), ("%", r"\%"), ("#", r"\#")):
            text = text.replace(char, replacement)
        return text

    lines = [
        r"\begin{tabular}{llrl}",
        r"\hline",
        r"Dataset & Modality & \#Images & Source \\",
        r"\hline",
    ]
    for _, source in catalog.iterrows():
        cite = r"~\cite{" + ",".join(source["citation_keys"]) + "}"
        count = format_count(source["n_images"]).replace(",", "{,}")
        url = r"\href{" + source["url"].replace("%", r"\%").replace("#", r"\#") + "}{Link}"
        lines.append(f"{escape(source['name'])}{cite} & {escape(source['modality'])} & {count} & {url} \\\\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def run_table(args) -> int:
    from biovfm_utils.exports import catalog_csv, catalog_json
    from biovfm_utils.tables import format_count, markdown_table, table1_rows

    catalog = _catalog()
    if args.format == "csv":
        sys.stdout.write(catalog_csv(catalog))
    elif args.format == "json":
        sys.stdout.write(catalog_json(catalog))
    elif args.format == "latex":
        sys.stdout.write(_table_latex(catalog))
    else:
        rows = table1_rows(catalog)
        rows["Dataset"] = [
            f"{name} [{','.join(str(n) for n in numbers)}]"
            for name, numbers in zip(rows["Dataset"], rows["References"])
        ]
        rows = rows.drop(columns="References")
        print(markdown_table(rows, align={"#Images": "right"}))
        print()
        print(f"{len(catalog)} sources, {format_count(catalog['n_images'].sum())} images.")
    return 0


# stats


def run_stats(args) -> int:
    from biovfm_utils import stats
    from biovfm_utils.tables import format_count, format_share, markdown_table

    catalog = _catalog()
    counts = {"n_sources": format_count, "n_images": format_count, "share": format_share}
    sections = {
        "Totals": stats.totals(catalog),
        "Images and sources per modality group": stats.by_group(catalog),
        "Sources listing each modality": stats.sources_per_modality(catalog),
        "Largest sources": stats.concentration(catalog, top=(1, 3, 6)),
        "Sources with fewer than 1,000 images": stats.small_sources(catalog, 1000),
        "Sources and images by year": stats.by_year(catalog),
        "Images by access route": stats.by_access(catalog),
    }
    if args.format == "json":
        payload = {}
        for title, value in sections.items():
            if isinstance(value, dict):
                payload[title] = value
            else:
                payload[title] = json.loads(value.reset_index().to_json(orient="records"))
        payload["Counting rule"] = stats.COUNTING_RULE
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0

    totals = sections.pop("Totals")
    print(
        f"BioVFM-21M: {format_count(totals['n_images'])} images from "
        f"{totals['n_sources']} sources."
    )
    print(f"\nCounting rule: {stats.COUNTING_RULE}")
    indexes = {
        "Images and sources per modality group": "Group",
        "Sources listing each modality": "Modality",
        "Largest sources": "Largest",
        "Sources and images by year": "Year",
        "Images by access route": "Access route",
    }
    for title, frame in sections.items():
        print(f"\n{title}\n")
        print(markdown_table(frame, counts, index=indexes.get(title)))
    return 0


# info


def run_info(args) -> int:
    from biovfm_utils.access import access_steps, access_summary
    from biovfm_utils.tables import format_count

    source = _find(args.name)
    references = ", ".join(
        f"[{number}] {key}"
        for number, key in zip(source["reference_numbers"], source["citation_keys"])
    )
    relation = source["count_relation"]
    fields = [
        ("Modality", f"{', '.join(source['modalities'])} (printed: {source['modality']})"),
        ("Images", f"{format_count(source['n_images'])} ({relation}: {source['count_note']})"),
        ("Year", str(source["year"])),
        ("Link", source["url"]),
        ("Access", access_summary(source)),
        ("Licence", f"{source['licence']} [{source['licence_evidence']}]"),
        ("References", references),
        (
            "Verified",
            "yes (access and licence confirmed by the owner)"
            if source["verified"]
            else f"no (access: {source['access_evidence']}, "
            f"licence: {source['licence_evidence']})",
        ),
    ]
    print(f"{source['name']} (Table 1, row {source.name})")
    width = max(len(label) for label, _ in fields) + 2
    for label, value in fields:
        print(f"  {label + ':':<{width}}{value}")
    print("  How to obtain it:")
    for number, step in enumerate(access_steps(source), start=1):
        print(f"    {number}. {step}")
    if source["url_as_printed"]:
        print(f"  Note: the paper prints the link as {source['url_as_printed']}")
    return 0


# cite


def _cited_sources(args):
    from biovfm_utils.catalog import load_catalog

    catalog = load_catalog()
    if args.all:
        return catalog
    if args.modality:
        sources = _modality_sources(args.modality, args.include_collections)
        if sources.empty:
            raise UsageError(
                f"No single-modality source lists {args.modality!r}; "
                "add --include-collections to cite the collections that do."
            )
        return sources
    rows = [_find(name).name for name in args.names]
    return catalog.loc[list(dict.fromkeys(rows))]


def run_cite(args) -> int:
    from biovfm_utils.bibliography import load_bibliography
    from biovfm_utils.bibstyle import format_references
    from biovfm_utils.catalog import citation_numbers
    from biovfm_utils.exports import bib_keys

    sources = _cited_sources(args)
    keys = bib_keys(sources, with_paper=args.with_paper)
    bibliography = load_bibliography()
    if args.format == "bibtex":
        sys.stdout.write(bibliography.to_bibtex(keys))
        return 0

    numbers = citation_numbers(_catalog())
    for key, text in zip(keys, format_references(bibliography, keys, backend="text")):
        label = f"[{numbers[key]}]" if key in numbers else "[BioVFM-21M]"
        print(f"{label} {text}")
    return 0


# fetch


def run_fetch(args) -> int:
    from biovfm_utils.fetch import fetch_source_sample, load_registry
    from biovfm_utils.fetch_errors import AccessRequiredError, FetchError

    if args.modality:
        names = list(_modality_sources(args.modality, True)["name"])
    else:
        names = [_find(args.name)["name"]]

    try:
        registry = load_registry(args.registry)
    except (FetchError, OSError) as exc:
        raise UsageError(str(exc)) from None

    failures = 0
    for name in names:
        try:
            result = fetch_source_sample(
                name,
                cache_dir=args.cache_dir,
                offline=args.offline,
                progress=not args.no_progress,
                registry=registry,
            )
        except AccessRequiredError as exc:
            if args.modality:
                print(f"{name}: skipped, needs an account; see `biovfm info {name}`")
                continue
            print(f"biovfm fetch: {exc}", file=sys.stderr)
            failures += 1
            continue
        except FetchError as exc:
            print(f"biovfm fetch: {name}: {exc}", file=sys.stderr)
            failures += 1
            continue
        origin = "cache" if result.from_cache else (result.url or "local copy")
        print(f"{name}: {result.path} ({result.size:,} bytes, sha256 {result.checksum}, from {origin})")
    return 1 if failures else 0


# links


def run_links(args) -> int:
    from biovfm_utils import linkcheck

    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, not {args.concurrency}.")
    targets = linkcheck.link_targets()
    results = linkcheck.check_links(
        targets,
        concurrency=args.concurrency,
        timeout=(args.timeout, args.timeout),
        progress=not args.no_progress,
    )
    output = args.output or linkcheck.default_report_path()
    path = linkcheck.write_report(results, output)
    broken = [result for result in results if not result.ok]
    for result in broken:
        outcome = f"HTTP {result.status}" if result.status else result.error
        print(f"{result.source} ({result.kind}): {result.url}: {outcome}")
    print(f"{len(results) - len(broken)} of {len(results)} links answered; report written to {path}")
    return 0


# export


def run_export(args) -> int:
    from pathlib import Path

    from biovfm_utils import exports
    from biovfm_utils.bibliography import load_bibliography

    if args.format == "csv":
        text = exports.catalog_csv()
    elif args.format == "json":
        text = exports.catalog_json()
    elif args.format == "jsonld":
        text = json.dumps(exports.collection_jsonld(), indent=2, ensure_ascii=False) + "\n"
    else:
        if args.output is None:
            raise UsageError("--format bib writes one file per modality group; give --output FOLDER.")
        written = exports.write_bib_downloads(args.output, bibliography=load_bibliography())
        for path in written.values():
            print(path)
        return 0

    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(args.output)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``biovfm`` with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="biovfm",
        description="Table 1 of BioVFM-21M, its statistics, sources and citations.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress and retries to stderr"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    table = commands.add_parser("table", help="print Table 1 as published")
    table.add_argument(
        "--format",
        choices=("markdown", "csv", "json", "latex"),
        default="markdown",
        help="output format (default: markdown); csv and json include every catalog column",
    )
    table.set_defaults(run=run_table)

    stats = commands.add_parser("stats", help="print the statistics of Table 1")
    stats.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    stats.set_defaults(run=run_stats)

    info = commands.add_parser(
        "info", help="show one source: modality, count, link, access, licence, references"
    )
    info.add_argument("name", help="source name as in Table 1; case and punctuation are ignored")
    info.set_defaults(run=run_info)

    cite = commands.add_parser(
        "cite", help="print the references of the chosen sources, deduplicated"
    )
    choice = cite.add_mutually_exclusive_group(required=True)
    choice.add_argument("names", nargs="*", default=[], metavar="NAME", help="source names")
    choice.add_argument("--modality", metavar="M", help="every source of modality M, e.g. Fundus")
    choice.add_argument("--all", action="store_true", help="every source of Table 1")
    cite.add_argument(
        "--include-collections",
        action="store_true",
        help="with --modality, add the multi-modality collections that list M",
    )
    cite.add_argument(
        "--format",
        choices=("bibtex", "text"),
        default="bibtex",
        help="BibTeX entries as in references.bib, or formatted references (default: bibtex)",
    )
    cite.add_argument(
        "--with-paper", action="store_true", help="add the BioVFM-21M paper itself, first"
    )
    cite.set_defaults(run=run_cite)

    fetch = commands.add_parser(
        "fetch", help="download and verify the sample files of a source or modality"
    )
    target = fetch.add_mutually_exclusive_group(required=True)
    target.add_argument("name", nargs="?", help="source name")
    target.add_argument("--modality", metavar="M", help="every source that lists modality M")
    fetch.add_argument(
        "--cache-dir", help="cache folder (default: $BIOVFM_CACHE_DIR or the user cache)"
    )
    fetch.add_argument(
        "--offline",
        action="store_true",
        default=None,
        help="use the cache and local copies only (default: $BIOVFM_OFFLINE)",
    )
    fetch.add_argument("--no-progress", action="store_true", help="hide progress bars")
    fetch.add_argument(
        "--registry",
        metavar="CSV",
        help="sample registry with the columns of the packaged samples.csv "
        "(default: the packaged registry)",
    )
    fetch.set_defaults(run=run_fetch)

    links = commands.add_parser(
        "links", help="check every official link and sample URL (needs the network)"
    )
    links.add_argument(
        "--concurrency", type=int, default=8, help="requests in flight at once (default: 8)"
    )
    links.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        help="connect and read timeout per request, in seconds (default: 15)",
    )
    links.add_argument(
        "--output",
        metavar="PATH",
        help="report file (default: the package's data/link_report.json, shown in the book)",
    )
    links.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    links.set_defaults(run=run_links)

    export = commands.add_parser(
        "export", help="write the catalog as CSV, JSON or JSON-LD, or the .bib files"
    )
    export.add_argument(
        "--format",
        choices=("csv", "json", "jsonld", "bib"),
        required=True,
        help="csv/json: the catalog; jsonld: schema.org Dataset; bib: one .bib per group",
    )
    export.add_argument(
        "--output", metavar="PATH", help="file (or folder for bib); standard output if omitted"
    )
    export.set_defaults(run=run_export)

    try:
        from biovfm_utils import verify_cli
    except ImportError:
        verify_cli = None
    if verify_cli is not None:
        verify_cli.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``biovfm`` with ``argv`` (the process arguments by default)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # urllib3 warns on every retry; biovfm_utils logs its own retries at INFO
        # and raises one error that names the URL when they are exhausted.
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"biovfm {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
