"""List the files of a local copy and group them into scan chunks by directory.

The walk uses `os.scandir` and does not follow symbolic links to directories
unless asked, so a link that points back up the tree cannot make it loop. When
links are followed, each directory is entered once, by its (st_dev, st_ino).

Each file is listed once. A symbolic link to a file in a directory that the walk
lists anyway (a file inside the root, such as ``link.png -> ok.png``) is skipped,
with the reason, because its target is listed under its own name. A link to a
file anywhere else, such as outside the root, is followed and listed as a file
of the copy. Broken links are listed, so the scan records them as unreadable.
FIFOs, sockets and devices are skipped, because opening a FIFO blocks.
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
        once, so a link loop ends. Links to files do not depend on this flag:
        a link whose target the walk lists anyway is skipped, and any other
        link to a file is listed.

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
    file_links: list[_FileLink] = []
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
                        entry,
                        relative,
                        names,
                        subdirectories,
                        tree,
                        follow_symlinks,
                        file_links,
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

    _skip_links_to_listed_files(tree, file_links, visited)
    return tree


@dataclass(frozen=True)
class _FileLink:
    """A symbolic link to a regular file, found during the walk."""

    directory: str
    name: str
    target: str
    target_directory: tuple[int, int]


def _sort_entry(
    entry, relative, names, subdirectories, tree, follow_symlinks, file_links
) -> None:
    """Sort one directory entry into ``names``, ``subdirectories`` or skipped.

    Links to regular files are listed and also recorded in ``file_links``, to be
    checked after the walk has listed every directory.
    """
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
            if is_link and entry.is_file():
                target = os.path.realpath(entry.path)
                directory = _identity(Path(target).parent)
                file_links.append(_FileLink(relative, entry.name, target, directory))
        else:
            tree.skipped.append((join(relative, entry.name), "not a regular file"))
    except OSError as error:
        names.append(entry.name)  # the scan records why it cannot be read
        logger.debug("could not stat %s: %s", entry.path, error)


def _skip_links_to_listed_files(
    tree: FileTree, file_links: list[_FileLink], visited: set[tuple[int, int]]
) -> None:
    """Drop the links whose target lies in a listed directory, so it counts once.

    Every regular file of a listed directory is listed, so such a target is
    already in the tree under its own path.
    """
    duplicates = {
        (link.directory, link.name): link
        for link in file_links
        if link.target_directory in visited
    }
    if not duplicates:
        return
    real_root = os.path.realpath(tree.root)
    directories = []
    for directory, names in tree.directories:
        kept = [name for name in names if (directory, name) not in duplicates]
        if kept:
            directories.append((directory, kept))
    tree.directories = directories
    for (directory, name), link in sorted(duplicates.items()):
        target = link.target
        if Path(target).is_relative_to(real_root):
            target = Path(target).relative_to(real_root).as_posix()
        reason = f"symbolic link to {target}, which is listed itself"
        tree.skipped.append((join(directory, name), reason))


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
