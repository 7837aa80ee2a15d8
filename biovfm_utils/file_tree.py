"""List the files of a local copy and group them into scan chunks by directory.

The walk uses `os.scandir` and does not follow symbolic links to directories
unless asked, so a link that points back up the tree cannot make it loop. When
links are followed, each directory is entered once, by its (st_dev, st_ino).
Symbolic links to files are listed like files, broken ones too, so the scan
records them as unreadable. FIFOs, sockets and devices are skipped, because
opening a FIFO blocks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class FileTree:
    """The files under a root, grouped by directory, and what the walk skipped.

    ``directories`` pairs a directory, relative to the root in POSIX form ("" for
    the root itself), with its file names, both sorted. ``skipped`` pairs a path
    relative to the root with the reason it was not listed.
    """

    root: Path
    directories: list[tuple[str, list[str]]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_files(self) -> int:
        """The number of files listed."""
        return sum(len(names) for _, names in self.directories)

    def paths(self) -> list[str]:
        """Return every file path relative to the root, in walk order."""
        return [
            join(directory, name)
            for directory, names in self.directories
            for name in names
        ]


def join(directory: str, name: str) -> str:
    """Join a relative POSIX directory and a name ("" is the root)."""
    return f"{directory}/{name}" if directory else name


def list_files(
    root: str | os.PathLike,
    *,
    exclude: Iterable[str | os.PathLike] = (),
    follow_symlinks: bool = False,
) -> FileTree:
    """Walk ``root`` depth-first in sorted order and list its files.

    Parameters
    ----------
    root
        An existing directory.
    exclude
        Directories to leave out, such as a manifest folder inside ``root``.
    follow_symlinks
        Enter symbolic links to directories. Each directory is still entered
        once, so a link loop ends.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a directory.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"Path not found: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"Not a directory: {root}; pass the folder of a copy.")

    excluded = {_identity(Path(path)) for path in exclude if Path(path).is_dir()}
    tree = FileTree(root=root)
    visited: set[tuple[int, int]] = set()
    pending = [""]
    while pending:
        relative = pending.pop()
        directory = root / relative if relative else root
        identity = _identity(directory)
        if identity in visited:
            reason = "directory already listed through another path (link loop?)"
            tree.skipped.append((relative, reason))
            continue
        visited.add(identity)

        names: list[str] = []
        subdirectories: list[str] = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    _sort_entry(
                        entry, relative, names, subdirectories, tree, follow_symlinks
                    )
        except OSError as error:
            reason = f"directory could not be listed ({error.strerror or error})"
            logger.warning("skipping %s: %s", directory, reason)
            tree.skipped.append((relative, reason))
            continue

        if names:
            tree.directories.append((relative, sorted(names)))
        # Reverse order on the stack, so subdirectories are walked in sorted order.
        for name in sorted(subdirectories, reverse=True):
            child = join(relative, name)
            if _identity(root / child) in excluded:
                continue
            pending.append(child)
    return tree


def _sort_entry(entry, relative, names, subdirectories, tree, follow_symlinks) -> None:
    """Sort one directory entry into ``names``, ``subdirectories`` or skipped."""
    try:
        is_link = entry.is_symlink()
        if entry.is_dir(follow_symlinks=follow_symlinks):
            subdirectories.append(entry.name)
        elif is_link and entry.is_dir():
            tree.skipped.append(
                (join(relative, entry.name), "symbolic link to a directory")
            )
        elif entry.is_file() or (is_link and not os.path.exists(entry.path)):
            names.append(entry.name)
        else:
            tree.skipped.append((join(relative, entry.name), "not a regular file"))
    except OSError as error:
        names.append(entry.name)  # the scan records why it cannot be read
        logger.debug("could not stat %s: %s", entry.path, error)


def _identity(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_dev, status.st_ino


def make_chunks(
    directories: list[tuple[str, list[str]]], chunk_size: int
) -> list[list[str]]:
    """Group files into chunks of at most ``chunk_size`` paths, by directory.

    A chunk contains whole directories, consecutive in walk order, while they fit.
    A directory with more than ``chunk_size`` files is split into full chunks,
    and its last piece may share a chunk with the directories after it.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}.")
    chunks: list[list[str]] = []
    current: list[str] = []
    for directory, names in directories:
        paths = [join(directory, name) for name in names]
        if current and len(current) + len(paths) > chunk_size:
            chunks.append(current)
            current = []
        for start in range(0, len(paths), chunk_size):
            piece = paths[start : start + chunk_size]
            if current and len(current) + len(piece) > chunk_size:
                chunks.append(current)
                current = []
            current.extend(piece)
    if current:
        chunks.append(current)
    return chunks
