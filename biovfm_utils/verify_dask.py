"""Run the chunks of a verify scan on a Dask cluster.

Chunks are partitioned by directory (`biovfm_utils.file_tree.make_chunks`): a
task scans whole directories, or one slice of a directory larger than a chunk.
Each task writes its rows as one part of the manifest folder itself, so the
manifest is a partitioned Parquet dataset on storage that the workers share,
and the client receives only two counts per task. The client keeps about two
tasks per worker thread in flight, so the scheduler never stores the path lists
of the whole copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from biovfm_utils.manifest import scan_chunk

logger = logging.getLogger(__name__)

_TASKS_PER_THREAD = 2


def scan_on_dask(
    scheduler,
    chunks: list[list[str]],
    root: str,
    folder: str,
    first_part: int,
    chunk_done: Callable[[int, int], None],
) -> None:
    """Scan chunks as Dask tasks; part ``first_part + i`` contains chunk ``i``.

    Parameters
    ----------
    scheduler
        A `distributed.Client`, which is left open, or a scheduler address, for
        which a client is opened and closed here.
    chunk_done
        Called with the numbers of files and of errors of each finished chunk.

    Raises
    ------
    ConnectionError
        If no scheduler answers at the address.
    """
    from distributed import Client, as_completed

    own_client = not isinstance(scheduler, Client)
    if own_client:
        try:
            client = Client(scheduler, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(
                f"Could not connect to the Dask scheduler at {scheduler} ({error}). "
                "Check the address and that the scheduler is running."
            ) from error
    else:
        client = scheduler

    try:
        n_threads = sum(client.nthreads().values()) or 1
        logger.info(
            "scanning %d chunks on %d Dask worker threads", len(chunks), n_threads
        )
        tasks = enumerate(chunks, start=first_part)
        running = as_completed(loop=client.loop)
        first_paths = {}

        def submit_next() -> None:
            for index, paths in tasks:
                future = client.submit(
                    scan_chunk, root, paths, folder, index, pure=False
                )
                first_paths[future.key] = paths[0]
                running.add(future)
                return

        for _ in range(n_threads * _TASKS_PER_THREAD):
            submit_next()
        try:
            for future in running:
                first_path = first_paths.pop(future.key)
                try:
                    result = future.result()
                except Exception as error:
                    raise RuntimeError(
                        f"The Dask task for the chunk that starts at {first_path} "
                        f"failed ({error}). Completed chunks are saved in {folder}; "
                        "rerun to resume."
                    ) from error
                chunk_done(*result)
                future.release()
                submit_next()
        except BaseException:
            client.cancel(list(running.futures))
            raise
    finally:
        if own_client:
            client.close()
