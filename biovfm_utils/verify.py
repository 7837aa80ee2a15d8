"""Verify a local copy of a source against Table 1, reading file headers only.

`verify_source` walks the copy, reads the header of every file in chunks, writes
one Parquet part per chunk into a manifest folder (`biovfm_utils.manifest`), and
summarises the manifest as a :class:`~biovfm_utils.verify_report.VerifyReport`.
Chunks run in a process pool on one machine, in this process with
``workers=1``, or on a Dask cluster with ``scheduler=`` (`biovfm_utils.verify_dask`).
A rerun with the same manifest folder scans the files not yet in it and the
files whose size or modification time changed since their row was written.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from biovfm_utils.catalog import find_source
from biovfm_utils.file_tree import FileTree, join, list_files, make_chunks
from biovfm_utils.manifest import (
    FileSignature,
    file_signature,
    open_manifest,
    read_manifest,
    scan_chunk,
)
from biovfm_utils.verify_dask import DEFAULT_CONNECT_TIMEOUT, check_scheduler_address
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
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
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
        A Dask scheduler address, ``"tcp://HOST:PORT"`` or ``"HOST:PORT"``, or a
        `distributed.Client`. The workers must see ``path`` and the manifest
        folder at the same absolute paths as this process.
    connect_timeout
        Seconds to wait for the scheduler at a ``scheduler`` address to respond.
    resume
        Keep the parts of an earlier scan into the same manifest folder, and
        scan only the files not yet in them and the files whose size or
        modification time differs from their row. With False the parts are
        deleted first.
    progress
        Show a tqdm progress bar with the rate and the time left.
    chunk_size
        Files per chunk and per manifest part.
    max_chunks
        Stop after this many chunks, leaving the rest for a later run. A trial
        run on a large copy, and a way to test resuming.
    follow_symlinks
        Enter symbolic links to directories (each directory once). A symbolic
        link to a file is skipped when its target is a file of the walk itself,
        such as a file inside ``path``, so that file counts once. A link to a
        file outside ``path`` is followed and counts as a file of the copy.
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
    ValueError
        If ``scheduler`` is a string that is not a ``HOST:PORT`` address.
    ManifestFolderError
        If the manifest folder is an existing file or cannot be created.
    ManifestMismatchError
        If ``resume`` is true and the manifest folder contains another scan.
    ConnectionError
        If no Dask scheduler responds at ``scheduler`` within ``connect_timeout``.
    """
    started = time.perf_counter()
    source = find_source(name, catalog)
    if isinstance(scheduler, str):
        scheduler = check_scheduler_address(scheduler)
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

    pending, changed = _files_to_scan(tree, root, state.done)
    chunks = make_chunks(pending, chunk_size)
    n_to_scan = sum(len(chunk) for chunk in chunks)
    if max_chunks is not None:
        chunks, left_over = chunks[:max_chunks], chunks[max_chunks:]
    else:
        left_over = []
    n_this_run = sum(len(chunk) for chunk in chunks)
    n_changed = sum(path in changed for chunk in chunks for path in chunk)
    logger.info(
        "%d files unchanged since their row in %s, so scanning %d files (%d of "
        "them changed) in %d chunks",
        tree.n_files - n_to_scan,
        folder,
        n_this_run,
        n_changed,
        len(chunks),
    )

    _run_chunks(
        chunks,
        root=root,
        folder=folder,
        first_part=state.next_part,
        workers=workers,
        scheduler=scheduler,
        connect_timeout=connect_timeout,
        progress=progress,
        description=source["name"],
    )

    # Rows of changed files left for a later run describe the old content.
    stale = {path for chunk in left_over for path in chunk if path in changed}
    listed = set(tree.paths())
    rows = read_manifest(folder)
    current = rows["path"].isin(listed - stale)
    n_removed = int((~rows["path"].isin(listed)).sum())
    if n_removed:
        logger.info(
            "%d manifest rows name files no longer listed under %s and are left out",
            n_removed,
            root,
        )
    return summarise(
        rows[current].reset_index(drop=True),
        source=source,
        root=root,
        folder=folder,
        skipped=tree.skipped,
        n_scanned=n_this_run,
        n_resumed=tree.n_files - n_to_scan,
        n_changed=n_changed,
        n_removed=n_removed,
        n_pending=n_to_scan - n_this_run,
        seconds=time.perf_counter() - started,
    )


def _files_to_scan(
    tree: FileTree, root: Path, done: dict[str, FileSignature]
) -> tuple[list[tuple[str, list[str]]], set[str]]:
    """Return the files to scan, by directory, and the paths among them that changed.

    A file is scanned when the manifest has no row for it, or when its size or
    modification time (in nanoseconds) differs from its newest row. Each file
    with a row costs one ``stat`` call.
    """
    pending = []
    changed: set[str] = set()
    for directory, names in tree.directories:
        to_scan = []
        for name in names:
            relative = join(directory, name)
            recorded = done.get(relative)
            if recorded is None:
                to_scan.append(name)
            elif file_signature(root / relative) != recorded:
                to_scan.append(name)
                changed.add(relative)
        if to_scan:
            pending.append((directory, to_scan))
    return pending, changed


def _run_chunks(
    chunks: list[list[str]],
    *,
    root: Path,
    folder: Path,
    first_part: int,
    workers: int | None,
    scheduler,
    connect_timeout: float,
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

            scan_on_dask(scheduler, *arguments, connect_timeout=connect_timeout)
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
