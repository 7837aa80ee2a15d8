"""The ``verify`` subcommand: check a local copy of a source against Table 1.

`add_parser` adds the subcommand to an `argparse` subparsers object and `run`
executes it, returning the exit status::

    biovfm verify NAME PATH [--manifest DIR] [--workers N] [--scheduler ADDRESS]
                  [--connect-timeout SECONDS] [--chunk-size N] [--no-resume]
                  [--strict] [--no-progress]

The report is printed to standard output as Markdown. Errors go to standard
error as one line. :data:`EXIT_STATUSES` describes each exit status.
"""

from __future__ import annotations

import argparse
import sys

from biovfm_utils.verify import DEFAULT_CHUNK_SIZE
from biovfm_utils.verify_dask import DEFAULT_CONNECT_TIMEOUT

#: Exit statuses of `run`.
EXIT_OK = 0
EXIT_SCAN_FAILED = 1
EXIT_BAD_INPUT = 2

#: The meaning of each exit status, as the help text prints it.
EXIT_STATUSES = (
    f"Exit status: {EXIT_OK} when the scan finished. Unreadable files are listed "
    f"in the report and leave the status at {EXIT_OK}, unless --strict is given. "
    f"{EXIT_SCAN_FAILED} when the scan failed: a worker process failed, the Dask "
    "scheduler failed or did not respond, or a file could not be written. With "
    f"--strict, also {EXIT_SCAN_FAILED} when any file is unreadable. "
    f"{EXIT_BAD_INPUT} for bad input: an unknown source, a missing PATH, an "
    "invalid option value or scheduler address, or a manifest folder that "
    "cannot be used."
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``verify`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "verify",
        help="check a local copy of a source against Table 1",
        description=(
            "Read the header of every file under PATH (no pixels are decoded), "
            "write a Parquet manifest with one row per file, and compare the "
            "image count with the source's count in Table 1. A rerun with the "
            "same manifest folder reads only new files and files whose size or "
            "modification time changed. Each file counts once: a symbolic link "
            "to a file inside PATH is skipped (its target is counted), while a "
            "link to a file outside PATH is followed and counted. Links to "
            "directories are not entered."
        ),
        epilog=EXIT_STATUSES,
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
            "tcp://HOST:PORT or HOST:PORT, e.g. tcp://10.0.0.5:8786 (default: no "
            "cluster). Workers must see PATH and the manifest folder at the same "
            "paths"
        ),
    )
    parser.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_CONNECT_TIMEOUT,
        help=(
            "seconds to wait for the Dask scheduler to respond before failing "
            f"(default: {DEFAULT_CONNECT_TIMEOUT:g})"
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
            "every file again (default: keep them and scan only new and changed "
            "files)"
        ),
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help=(
            f"exit with status {EXIT_SCAN_FAILED} when any file is unreadable "
            f"(default: status {EXIT_OK}, with the files listed in the report)"
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
    """Run ``verify`` with parsed arguments, print the report, return the exit status."""
    from biovfm_utils.catalog import find_source
    from biovfm_utils.manifest import ManifestFolderError, ManifestMismatchError
    from biovfm_utils.verify import verify_source
    from biovfm_utils.verify_dask import check_scheduler_address

    if args.workers is not None and args.workers < 1:
        return _fail(
            f"--workers must be at least 1, not {args.workers}.", EXIT_BAD_INPUT
        )
    if args.chunk_size < 1:
        return _fail(
            f"--chunk-size must be at least 1, not {args.chunk_size}.", EXIT_BAD_INPUT
        )
    if not args.connect_timeout > 0:
        return _fail(
            f"--connect-timeout must be more than 0 seconds, not "
            f"{args.connect_timeout:g}.",
            EXIT_BAD_INPUT,
        )
    scheduler = args.scheduler
    if scheduler is not None:
        try:
            scheduler = check_scheduler_address(scheduler)
        except ValueError as error:
            return _fail(f"--scheduler: {error}", EXIT_BAD_INPUT)
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
            scheduler=scheduler,
            connect_timeout=args.connect_timeout,
            resume=args.resume,
            progress=args.progress,
            chunk_size=args.chunk_size,
        )
    except (
        FileNotFoundError,
        NotADirectoryError,
        ManifestFolderError,
        ManifestMismatchError,
    ) as error:
        return _fail(str(error), EXIT_BAD_INPUT)
    except (ConnectionError, RuntimeError, OSError) as error:
        return _fail(f"The scan failed: {error}", EXIT_SCAN_FAILED)

    sys.stdout.write(report.to_markdown())
    if args.strict and report.n_unreadable:
        return _fail(
            f"{report.n_unreadable:,} of {report.n_files:,} files are unreadable "
            "(--strict); the report lists them.",
            EXIT_SCAN_FAILED,
        )
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"biovfm verify: error: {message}", file=sys.stderr)
    return code
