"""The offline switch and a quick check of whether a host can be reached.

Offline mode (``BIOVFM_OFFLINE=1`` or ``offline=True``) makes every download
fail at once with :class:`~biovfm_utils.fetch_errors.OfflineError`, so a book
build without network falls back to stand-in images instead of waiting for
timeouts.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

logger = logging.getLogger(__name__)

OFFLINE_VARIABLE = "BIOVFM_OFFLINE"

_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"", "0", "false", "no", "off"}


def is_offline(offline: bool | None = None) -> bool:
    """Return whether offline mode is on: the argument, else ``BIOVFM_OFFLINE``.

    Raises
    ------
    ValueError
        If the environment variable contains a value other than 1/0, true/false,
        yes/no or on/off.
    """
    if offline is not None:
        return bool(offline)
    value = os.environ.get(OFFLINE_VARIABLE, "").strip().lower()
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise ValueError(
        f"{OFFLINE_VARIABLE}={value!r} is not a valid switch. Set it to 1 for "
        "offline mode or 0 (or unset it) to allow downloads."
    )


def network_available(host: str, port: int = 443, timeout: float = 2.0) -> bool:
    """Check within about ``timeout`` seconds whether ``host`` accepts connections.

    The check resolves the name and opens a TCP connection, and it sends nothing.
    ``socket.getaddrinfo`` has no timeout of its own, so the lookup runs in a
    daemon thread that is abandoned if it takes too long. Offline mode makes this
    return False at once.

    Parameters
    ----------
    host
        Host name or IP address.
    port
        TCP port, 443 (HTTPS) by default.
    timeout
        Seconds for the lookup and the connection together.
    """
    if is_offline():
        return False

    deadline = time.monotonic() + timeout
    lookup: dict[str, object] = {}

    def resolve() -> None:
        try:
            lookup["addresses"] = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as error:
            lookup["error"] = error

    thread = threading.Thread(target=resolve, name="biovfm-dns", daemon=True)
    thread.start()
    thread.join(timeout)
    if "addresses" not in lookup:
        reason = lookup.get("error", "timed out")
        logger.info("Name lookup for %s failed: %s", host, reason)
        return False

    for family, kind, protocol, _, address in lookup["addresses"]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            with socket.socket(family, kind, protocol) as connection:
                connection.settimeout(remaining)
                connection.connect(address)
                return True
        except OSError as error:
            logger.debug("Connection to %s failed: %s", address, error)
    logger.info("No connection to %s port %d within %.1f s", host, port, timeout)
    return False
