"""The ``biovfm`` command line: Table 1, statistics, source details and citations.

This module builds the argument parser; the subcommands live in
:mod:`biovfm_utils.commands`. Run ``biovfm SUBCOMMAND --help`` for the options of
each. Errors go to standard error, one line naming what failed, with exit status
2 for a name, modality or option that is not recognised, 1 for a failure while
running and 130 after Ctrl-C. With ``--verbose`` a failure shows its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from biovfm_utils import __version__
from biovfm_utils.commands import (
    UsageError,
    run_cite,
    run_export,
    run_fetch,
    run_info,
    run_links,
    run_stats,
    run_table,
)

logger = logging.getLogger(__name__)


def _verbose_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="log progress and retries to stderr, and show tracebacks",
    )


def _add_command(commands, name: str, **kwargs) -> argparse.ArgumentParser:
    command = commands.add_parser(name, **kwargs)
    # SUPPRESS keeps a -v given before the subcommand from being reset.
    _verbose_option(command, argparse.SUPPRESS)
    return command


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``biovfm`` with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="biovfm",
        description="Table 1 of BioVFM-21M, its statistics, sources and citations.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    _verbose_option(parser, False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    table = _add_command(commands, "table", help="print Table 1 as published")
    table.add_argument(
        "--format",
        choices=("markdown", "csv", "json", "latex"),
        default="markdown",
        help="output format (default: markdown); csv and json include every catalog column",
    )
    table.set_defaults(run=run_table)

    stats = _add_command(commands, "stats", help="print the statistics of Table 1")
    stats.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="output format (default: text)",
    )
    stats.set_defaults(run=run_stats)

    info = _add_command(
        commands,
        "info",
        help="show one source: modality, count, link, access, licence, references",
    )
    info.add_argument(
        "name", help="source name as in Table 1; case and punctuation are ignored"
    )
    info.set_defaults(run=run_info)

    cite = _add_command(
        commands,
        "cite",
        help="print the references of the chosen sources, deduplicated",
    )
    choice = cite.add_mutually_exclusive_group(required=True)
    choice.add_argument(
        "names", nargs="*", default=[], metavar="NAME", help="source names"
    )
    choice.add_argument(
        "--modality", metavar="M", help="every source of modality M, e.g. Fundus"
    )
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
        "--with-paper",
        action="store_true",
        help="add the BioVFM-21M paper itself, first",
    )
    cite.set_defaults(run=run_cite)

    fetch = _add_command(
        commands,
        "fetch",
        help="download and verify the sample files of a source or modality",
    )
    target = fetch.add_mutually_exclusive_group(required=True)
    target.add_argument("name", nargs="?", help="source name")
    target.add_argument(
        "--modality", metavar="M", help="every source that lists modality M"
    )
    fetch.add_argument(
        "--cache-dir",
        help="cache folder (default: $BIOVFM_CACHE_DIR or the user cache)",
    )
    fetch.add_argument(
        "--offline",
        action="store_true",
        default=None,
        help="use the cache and local copies only (default: $BIOVFM_OFFLINE)",
    )
    fetch.add_argument("--no-progress", action="store_true", help="hide progress bars")
    fetch.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the server to send data, and at most 10 to connect "
        "(default: 30)",
    )
    fetch.add_argument(
        "--attempts",
        type=int,
        default=5,
        help="attempts per file, with back-off between them (default: 5)",
    )
    fetch.add_argument(
        "--registry",
        metavar="CSV",
        help="sample registry with the columns of the packaged samples.csv "
        "(default: the packaged registry)",
    )
    fetch.set_defaults(run=run_fetch)

    links = _add_command(
        commands,
        "links",
        help="check every official link and sample URL (needs the network)",
    )
    links.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="requests in flight at once (default: 8)",
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
    links.add_argument(
        "--no-progress", action="store_true", help="hide the progress bar"
    )
    links.set_defaults(run=run_links)

    export = _add_command(
        commands,
        "export",
        help="write the catalog as CSV, JSON or JSON-LD, or the .bib files",
    )
    export.add_argument(
        "--format",
        choices=("csv", "json", "jsonld", "bib"),
        required=True,
        help="csv/json: the catalog; jsonld: schema.org Dataset; bib: one .bib per group",
    )
    export.add_argument(
        "--output",
        metavar="PATH",
        help="file (or folder for bib); standard output if omitted",
    )
    export.set_defaults(run=run_export)

    try:
        from biovfm_utils import verify_cli
    except ImportError:
        verify_cli = None
    if verify_cli is not None:
        verify_cli.add_parser(commands)
    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    from biovfm_utils.bibliography import BibliographyError
    from biovfm_utils.catalog import CatalogError
    from biovfm_utils.fetch_errors import FetchError

    # OSError covers unwritable outputs and missing folders; ValueError covers
    # invalid settings such as BIOVFM_OFFLINE=maybe. Both carry a message that
    # names the value.
    return (BibliographyError, CatalogError, FetchError, OSError, ValueError)


EXPECTED_ERRORS = _expected_errors()


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
    except KeyboardInterrupt:
        print(f"biovfm {args.command}: interrupted", file=sys.stderr)
        return 130
    except EXPECTED_ERRORS as exc:
        if args.verbose:
            raise
        print(f"biovfm {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
