"""Time a cold and a warm build of the book.

Run from the repository root with the project's environment::

    .venv/bin/python benchmarks/book_build.py [--repeat 3]

A cold build starts from an empty output folder, so every notebook is executed. A
warm build runs again into the same folder with nothing changed, so Sphinx reuses
its environment and MyST-NB its execution cache. The builds run offline
(``BIOVFM_OFFLINE=1``) unless ``--online`` is given, so that the time does not
depend on remote servers. The modality chapters then show their stand-ins. The script writes a Markdown
table to ``benchmarks/results/book_build.md`` and prints it. The targets on a
2-core machine are a cold build under 60 s and a warm one under a tenth of that.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "book_build.md"
COLD_TARGET_SECONDS = 60.0
WARM_TARGET_RATIO = 0.1


def jupyter_book() -> str:
    script = Path(sys.executable).parent / "jupyter-book"
    return str(script) if script.exists() else "jupyter-book"


def timed_build(output: Path, online: bool) -> float:
    """Build the book into ``output`` and return the wall time in seconds."""
    command = [
        jupyter_book(),
        "build",
        str(REPO),
        "--path-output",
        str(output),
        "--warningiserror",
        "--keep-going",
    ]
    environment = dict(os.environ)
    if not online:
        environment["BIOVFM_OFFLINE"] = "1"
    start = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, env=environment
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"The book build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="number of cold/warm pairs (default 3)"
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="let the chapters download their samples (default: offline builds)",
    )
    args = parser.parse_args()

    cold, warm = [], []
    for run in range(1, args.repeat + 1):
        output = Path(tempfile.mkdtemp(prefix="book-benchmark-"))
        try:
            cold.append(timed_build(output, args.online))
            warm.append(timed_build(output, args.online))
        finally:
            shutil.rmtree(output, ignore_errors=True)
        print(f"run {run}: cold {cold[-1]:.1f} s, warm {warm[-1]:.1f} s", flush=True)

    cold_median = statistics.median(cold)
    warm_median = statistics.median(warm)
    ratio = warm_median / cold_median
    runs = "one run" if args.repeat == 1 else f"medians of {args.repeat} runs"
    mode = "online" if args.online else "offline (BIOVFM_OFFLINE=1)"
    lines = [
        "## Book build",
        "",
        f"Measured on {datetime.date.today().isoformat()} with `benchmarks/book_build.py "
        f"--repeat {args.repeat}`: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU cores, {platform.machine()}; {runs}, {mode}.",
        "",
        "| Build | Median (s) | Runs (s) | Target |",
        "| :-- | --: | :-- | :-- |",
        f"| cold (empty output folder) | {cold_median:.1f} | "
        f"{', '.join(f'{t:.1f}' for t in cold)} | under {COLD_TARGET_SECONDS:.0f} s: "
        f"{'met' if cold_median < COLD_TARGET_SECONDS else 'missed'} |",
        f"| warm (nothing changed) | {warm_median:.1f} | "
        f"{', '.join(f'{t:.1f}' for t in warm)} | under a tenth of cold "
        f"(ratio {ratio:.2f}): {'met' if ratio < WARM_TARGET_RATIO else 'missed'} |",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
