"""Verify a local copy of a source against Table 1, reading file headers only.

`verify_source` walks the copy, reads the header of every file in chunks, writes
one Parquet part per chunk into a manifest folder (`biovfm_utils.manifest`), and
summarises the manifest as a :class:`~biovfm_utils.verify_report.VerifyReport`.
Chunks run in a process pool on one machine, in this process with
``workers=1``, or on a Dask cluster with ``scheduler=`` (`biovfm_utils.verify_dask`).
A rerun with the same manifest folder scans only the files not yet in it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from biovfm_utils.catalog import find_source
from biovfm_utils.file_tree import join, list_files, make_chunks
from biovfm_utils.manifest import open_manifest, read_manifest, scan_chunk
from biovfm_utils.verify_report import (
    COUNTING_RULES,
    VerifyReport,
    count_images,
    summarise,
)

__all__ = [
    "COUNTING_RULES",
    "DEFAULT_CHUNK_SIZE",
    "VerifyReport",
    "count_images",
    "default_manifest_folder",
    "verify_source",
]

logger = logging.getLogger(__name__)

#: Files per chunk, and so per manifest part. At the header rates measured in
#: benchmarks/results/verify_scan.md a chunk takes well under a second, so a
#: crash loses little, while a source of a million files has a thousand parts.
DEFAULT_CHUNK_SIZE = 1000

# Chunks queued per worker, so a worker rarely waits for the next chunk.
_CHUNKS_PER_WORKER = 2

ChunkDone = Callable[[int, int], None]


def default_manifest_folder(slug: str) -> Path:
    """Return the default manifest folder of a source: ``./biovfm-manifests/SLUG``."""
    return Path.cwd() / "biovfm-manifests" / slug


def verify_source(
    name: str,
    path: str | os.PathLike,
    *,
    manifest: str | os.PathLike | None = None,
    workers: int | None = None,
    scheduler=None,
    resume: bool = True,
    progress: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_chunks: int | None = None,
    follow_symlinks: bool = False,
    catalog: pd.DataFrame | None = None,
) -> VerifyReport:
    """Scan a local copy of a source and compare its image count with Table 1.

    Parameters
    ----------
    name
        The source, as :func:`~biovfm_utils.catalog.find_source` matches it.
    path
        The folder of the local copy.
    manifest
        The manifest folder; :func:`default_manifest_folder` by default. It may
        lie inside ``path``, and the walk leaves it out.
    workers
        Worker processes on this machine; by default one per CPU available to
        this process. With 1 the scan runs in this process. Ignored when
        ``scheduler`` is given.
    scheduler
        A Dask scheduler address such as ``"tcp://127.0.0.1:8786"``, or a
        `distributed.Client`. The workers must see ``path`` and the manifest
        folder at the same absolute paths as this process.
    resume
        Keep the parts of an earlier scan into the same manifest folder and scan
        only the files not yet in them. With False the parts are deleted first.
    progress
        Show a tqdm progress bar with the rate and the time left.
    chunk_size
        Files per chunk and per manifest part.
    max_chunks
        Stop after this many chunks, leaving the rest for a later run. A trial
        run on a large copy, and a way to test resuming.
    follow_symlinks
        Enter symbolic links to directories (each directory once).
    catalog
        The catalog to look ``name`` up in; the packaged one by default.

    Returns
    -------
    VerifyReport

    Raises
    ------
    KeyError
        If ``name`` is not in the catalog; the message lists the closest names.
    FileNotFoundError
        If ``path`` does not exist.
    NotADirectoryError
        If ``path`` is not a directory.
    ManifestMismatchError
        If ``resume`` is true and the manifest folder contains another scan.
    """
    started = time.perf_counter()
    source = find_source(name, catalog)
    root = Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(
            f"Path not found: {root}. Pass the folder that contains the local copy "
            f"of {source['name']}."
        )
    if not root.is_dir():
        raise NotADirectoryError(
            f"Not a directory: {root}. Pass the folder that contains the local copy "
            f"of {source['name']}."
        )
    root = root.resolve()
    folder = Path(manifest) if manifest is not None else None
    folder = (folder or default_manifest_folder(source["slug"])).expanduser().resolve()

    state = open_manifest(folder, source=source["name"], root=root, resume=resume)
    tree = list_files(root, exclude=[folder], follow_symlinks=follow_symlinks)
    logger.info(
        "listed %d files in %d directories under %s",
        tree.n_files,
        len(tree.directories),
        root,
    )

    pending = [
        (directory, [n for n in names if join(directory, n) not in state.done])
        for directory, names in tree.directories
    ]
    chunks = make_chunks([entry for entry in pending if entry[1]], chunk_size)
    n_to_scan = sum(len(chunk) for chunk in chunks)
    if max_chunks is not None:
        chunks = chunks[:max_chunks]
    n_this_run = sum(len(chunk) for chunk in chunks)
    logger.info(
        "%d files already in %s; scanning %d in %d chunks",
        tree.n_files - n_to_scan,
        folder,
        n_this_run,
        len(chunks),
    )

    _run_chunks(
        chunks,
        root=root,
        folder=folder,
        first_part=state.next_part,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        description=source["name"],
    )

    rows = read_manifest(folder)
    present = rows["path"].isin(set(tree.paths()))
    if not present.all():
        logger.info(
            "%d manifest rows name files no longer under %s; they are left out",
            int((~present).sum()),
            root,
        )
    return summarise(
        rows[present].reset_index(drop=True),
        source=source,
        root=root,
        folder=folder,
        skipped=tree.skipped,
        n_scanned=n_this_run,
        n_resumed=tree.n_files - n_to_scan,
        n_pending=n_to_scan - n_this_run,
        seconds=time.perf_counter() - started,
    )


def _run_chunks(
    chunks: list[list[str]],
    *,
    root: Path,
    folder: Path,
    first_part: int,
    workers: int | None,
    scheduler,
    progress: bool,
    description: str,
) -> None:
    """Scan the chunks on the chosen engine, updating one progress bar."""
    from tqdm.auto import tqdm

    total = sum(len(chunk) for chunk in chunks)
    with tqdm(
        total=total,
        unit="file",
        desc=f"verify {description}",
        disable=not progress or total == 0,
        smoothing=0.1,
    ) as bar:
        errors = 0

        def chunk_done(n_files: int, n_errors: int) -> None:
            nonlocal errors
            errors += n_errors
            bar.update(n_files)
            bar.set_postfix(errors=errors, refresh=False)

        if not chunks:
            return
        arguments = (chunks, str(root), str(folder), first_part, chunk_done)
        if scheduler is not None:
            from biovfm_utils.verify_dask import scan_on_dask

            scan_on_dask(scheduler, *arguments)
            return
        workers = available_cpus() if workers is None else workers
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}.")
        workers = min(workers, len(chunks))
        if workers == 1:
            _scan_here(*arguments)
        else:
            _scan_in_pool(workers, *arguments)


def available_cpus() -> int:
    """Return the number of CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _scan_here(
    chunks: list[list[str]], root: str, folder: str, first_part: int, done: ChunkDone
) -> None:
    for index, paths in enumerate(chunks, start=first_part):
        done(*scan_chunk(root, paths, folder, index))


def _scan_in_pool(
    workers: int,
    chunks: list[list[str]],
    root: str,
    folder: str,
    first_part: int,
    done: ChunkDone,
) -> None:
    """Scan chunks in a process pool, keeping a few chunks queued per worker."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    # "spawn" behaves the same on every platform and does not copy this
    # process's threads (a progress bar's monitor, a Dask client) into workers.
    context = multiprocessing.get_context("spawn")
    tasks = enumerate(chunks, start=first_part)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        running = {}

        def submit_next() -> None:
            for index, paths in tasks:
                future = pool.submit(scan_chunk, root, paths, folder, index)
                running[future] = paths[0]
                return

        for _ in range(workers * _CHUNKS_PER_WORKER):
            submit_next()
        try:
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    first_path = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool as error:
                        raise RuntimeError(
                            "The process pool failed at the chunk that starts at "
                            f"{first_path}: a worker process ended abruptly (killed, "
                            "out of memory, or unable to start). Completed chunks "
                            f"are saved in {folder}; rerun to resume, with workers=1 "
                            "to see the failing file."
                        ) from error
                    done(*result)
                    submit_next()
        except BaseException:
            for future in running:
                future.cancel()
            raise
