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

import asyncio
import logging
import re
import threading
from collections.abc import Callable

from biovfm_utils.manifest import scan_chunk

logger = logging.getLogger(__name__)

#: Seconds to wait for a Dask scheduler to respond before giving up.
DEFAULT_CONNECT_TIMEOUT = 10.0

_TASKS_PER_THREAD = 2

# "tcp://HOST:PORT" or "HOST:PORT", HOST being a name, an IPv4 address or an
# IPv6 address in brackets.
_HOST = r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"(?:tcp://)?(?P<host>{_HOST}):(?P<port>[0-9]{{1,5}})")


def check_scheduler_address(address: str) -> str:
    """Return a Dask scheduler address as ``tcp://HOST:PORT``, after checking its form.

    ``address`` is ``tcp://HOST:PORT`` or ``HOST:PORT``. Nothing is contacted.

    Raises
    ------
    ValueError
        If the address has another form or the port is not in 1-65535.
    """
    match = _ADDRESS.fullmatch(address.strip())
    if match is None or not 1 <= int(match.group("port")) <= 65535:
        raise ValueError(
            f"Invalid Dask scheduler address {address!r}: expected tcp://HOST:PORT "
            "or HOST:PORT with a port from 1 to 65535, for example "
            "tcp://10.0.0.5:8786."
        )
    return f"tcp://{match.group('host')}:{int(match.group('port'))}"


def wait_for_scheduler(address: str, timeout: float) -> None:
    """Check that a Dask scheduler responds at ``address`` within ``timeout`` seconds.

    The check connects once and requests the scheduler's identity. It runs on
    its own event loop in a helper thread, so it works where an event loop
    already runs, as in a notebook. Without it, `distributed.Client`
    (distributed 2026.8) waits far longer than its timeout for a peer that
    accepts the connection but never replies, and after a failed connection its
    cleanup reports a timeout when the process exits.

    Raises
    ------
    ConnectionError
        If nothing accepts the connection, or the peer does not reply as a Dask
        scheduler, within ``timeout``.
    """
    from distributed.comm import connect

    outcome: dict = {"step": "connect"}

    async def exchange(comm) -> dict:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()

    async def ask_identity() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        outcome["step"] = "reply"
        try:
            outcome["reply"] = await asyncio.wait_for(exchange(comm), timeout)
        finally:
            comm.abort()

    def run() -> None:
        try:
            asyncio.run(ask_identity())
        except (OSError, TimeoutError, ValueError) as error:
            # OSError includes distributed's CommClosedError.
            outcome["error"] = error

    thread = threading.Thread(target=run, name="biovfm-dask-probe", daemon=True)
    thread.start()
    # The connection and the exchange each wait at most `timeout`, and the extra
    # second covers starting the event loop.
    thread.join(2 * timeout + 1)

    hint = (
        "Check the address and that the scheduler is running, or wait longer "
        "with --connect-timeout (connect_timeout= in Python)."
    )
    reply = outcome.get("reply")
    if isinstance(reply, dict) and reply.get("type") == "Scheduler":
        return
    if outcome["step"] == "connect":
        error = outcome.get("error")
        # distributed reports a refused connection as a timeout, after retrying.
        timed_out = error is None or "timed out" in str(error).lower()
        reason = "" if timed_out else f" ({error})"
        raise ConnectionError(
            f"No Dask scheduler responded at {address} within {timeout:g} s"
            f"{reason}. {hint}"
        )
    raise ConnectionError(
        f"A program accepted the connection at {address} but did not reply as a "
        f"Dask scheduler within {timeout:g} s. {hint}"
    )


def scan_on_dask(
    scheduler,
    chunks: list[list[str]],
    root: str,
    folder: str,
    first_part: int,
    chunk_done: Callable[[int, int], None],
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> None:
    """Scan chunks as Dask tasks; part ``first_part + i`` contains chunk ``i``.

    Parameters
    ----------
    scheduler
        A `distributed.Client`, which is left open, or a scheduler address
        (`check_scheduler_address`), for which a client is opened and closed
        here.
    chunk_done
        Called with the numbers of files and of errors of each finished chunk.
    connect_timeout
        Seconds to wait for the scheduler at an address to respond.

    Raises
    ------
    ValueError
        If ``scheduler`` is an address of the wrong form.
    ConnectionError
        If no scheduler responds at the address within ``connect_timeout``.
    """
    from distributed import Client, as_completed

    own_client = not isinstance(scheduler, Client)
    if own_client:
        address = check_scheduler_address(scheduler)
        wait_for_scheduler(address, connect_timeout)
        try:
            client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(
                f"Could not connect to the Dask scheduler at {address} ({error}). "
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
