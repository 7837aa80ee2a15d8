"""The ``verify`` subcommand: check a local copy of a source against Table 1.

`add_parser` adds the subcommand to an `argparse` subparsers object and `run`
executes it, returning the exit code::

    biovfm verify NAME PATH [--manifest DIR] [--workers N] [--scheduler ADDRESS]
                  [--no-resume] [--no-progress]

The report is printed to standard output as Markdown. Errors go to standard
error as one line, with exit code 2 for an unknown source, a missing path or an
invalid option value, and 1 for a failed scan.
"""

from __future__ import annotations

import argparse
import sys

from biovfm_utils.verify import DEFAULT_CHUNK_SIZE

#: Exit codes of `run`.
EXIT_OK = 0
EXIT_SCAN_FAILED = 1
EXIT_BAD_INPUT = 2


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``verify`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "verify",
        help="check a local copy of a source against Table 1",
        description=(
            "Read the header of every file under PATH (no pixels are decoded), "
            "write a Parquet manifest with one row per file, and compare the "
            "image count with the source's count in Table 1."
        ),
    )

    parser.add_argument(
        "name",
        metavar="NAME",
        help="the source as Table 1 names it, e.g. 'Montgomery CXR' (any case)",
    )
    parser.add_argument(
        "path", metavar="PATH", help="the folder that contains the local copy"
    )

    parser.add_argument(
        "--manifest",
        metavar="DIR",
        default=None,
        help=(
            "folder for the Parquet manifest parts "
            "(default: ./biovfm-manifests/SLUG, SLUG being the source's slug)"
        ),
    )
    parser.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=None,
        help=(
            "worker processes on this machine (default: one per available CPU; "
            "1 scans in the main process); ignored with --scheduler"
        ),
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help=(
            "run on the Dask cluster whose scheduler listens at ADDRESS, "
            "e.g. tcp://10.0.0.5:8786 (default: no cluster). Workers must see "
            "PATH and the manifest folder at the same paths"
        ),
    )
    parser.add_argument(
        "--chunk-size",
        metavar="N",
        type=int,
        default=DEFAULT_CHUNK_SIZE,
        help=f"files per chunk and per manifest part (default: {DEFAULT_CHUNK_SIZE})",
    )

    parser.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help=(
            "delete the parts of an earlier scan in the manifest folder and scan "
            "every file again (default: keep them and scan only new files)"
        ),
    )
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="hide the progress bar on standard error (default: shown)",
    )

    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``verify`` with parsed arguments, print the report, return the exit code."""
    from biovfm_utils.catalog import find_source
    from biovfm_utils.manifest import ManifestMismatchError
    from biovfm_utils.verify import verify_source

    if args.workers is not None and args.workers < 1:
        return _fail(
            f"--workers must be at least 1, not {args.workers}.", EXIT_BAD_INPUT
        )
    if args.chunk_size < 1:
        return _fail(
            f"--chunk-size must be at least 1, not {args.chunk_size}.", EXIT_BAD_INPUT
        )
    try:
        find_source(args.name)
    except KeyError as error:
        return _fail(error.args[0], EXIT_BAD_INPUT)

    try:
        report = verify_source(
            args.name,
            args.path,
            manifest=args.manifest,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            progress=args.progress,
            chunk_size=args.chunk_size,
        )
    except (FileNotFoundError, NotADirectoryError, ManifestMismatchError) as error:
        return _fail(str(error), EXIT_BAD_INPUT)
    except (ConnectionError, RuntimeError, OSError) as error:
        return _fail(f"The scan failed: {error}", EXIT_SCAN_FAILED)

    sys.stdout.write(report.to_markdown())
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"biovfm verify: error: {message}", file=sys.stderr)
    return code
