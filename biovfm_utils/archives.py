"""Archive extraction that never writes outside its destination folder.

This is written here because neither the standard library nor pooch's
``Untar`` rejects every unsafe member on all supported Python versions.
tarfile's ``filter="data"`` exists only from Python 3.10.12, 3.11.4 and 3.12,
and zipfile writes symlink and device entries as plain files without a warning.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from biovfm_utils.fetch_errors import ArchiveError, UnsafeArchiveError

logger = logging.getLogger(__name__)

_DRIVE = re.compile(r"^[A-Za-z]:")


def _safe_relative_path(name: str, archive: Path) -> PurePosixPath | None:
    """Return a member's path relative to the destination, or None for ``./``.

    Backslashes count as separators here, so ``..\\x`` is caught on every system.
    """
    if "\x00" in name:
        raise UnsafeArchiveError(f"{archive}: member {name!r} contains a NUL byte.")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified):
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} has an absolute path. Nothing was extracted."
        )
    parts = [part for part in unified.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} points outside the destination with "
            "'..'. Nothing was extracted."
        )
    return PurePosixPath(*parts) if parts else None


def _is_inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def extract_archive(
    path: str | os.PathLike, destination: str | os.PathLike
) -> list[Path]:
    """Extract a zip or tar archive (including ``.tar.gz``) into ``destination``.

    Every member is checked before anything is written. Absolute paths, drive
    letters, ``..`` parts, device files and FIFOs are rejected, and so are
    symlinks in zip archives. Links in tar archives are rejected when they point
    outside the destination, which is checked again against the files already
    extracted so that a chain of links cannot escape. The archive is extracted
    into a hidden temporary folder inside ``destination`` and moved into place
    only if every member succeeded, so a rejected or corrupt archive leaves
    ``destination`` as it was.

    Returns
    -------
    list of pathlib.Path
        The extracted regular files, sorted.

    Raises
    ------
    UnsafeArchiveError
        For a member that could be written outside ``destination``.
    ArchiveError
        If the file is not a zip or tar archive, is corrupt, or a member would
        replace an existing file in ``destination``.
    """
    return _extract(Path(path), Path(destination), hasattr(tarfile, "data_filter"))


def _extract(path: Path, destination: Path, use_data_filter: bool) -> list[Path]:
    if zipfile.is_zipfile(path):
        extract_members = _extract_zip
    elif tarfile.is_tarfile(path):

        def extract_members(archive_path, staging):
            return _extract_tar(archive_path, staging, use_data_filter)

    else:
        raise ArchiveError(f"{path} is neither a zip nor a tar archive.")

    created = not destination.exists()
    destination.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=destination))
    try:
        files = extract_members(path, staging)
        _move_contents(staging, destination, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not any(destination.iterdir()):
            destination.rmdir()
        raise
    staging.rmdir()
    logger.info("Extracted %d files from %s into %s", len(files), path, destination)
    return sorted(destination / relative for relative in files)


def _move_contents(staging: Path, destination: Path, archive: Path) -> None:
    entries = sorted(staging.iterdir())
    clashes = [
        entry.name for entry in entries if os.path.lexists(destination / entry.name)
    ]
    if clashes:
        raise ArchiveError(
            f"Extracting {archive} would replace {', '.join(clashes)} in "
            f"{destination}. Extract into an empty folder."
        )
    for entry in entries:
        os.replace(entry, destination / entry.name)


def _extract_zip(path: Path, staging: Path) -> list[PurePosixPath]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            files = []
            for info in infos:
                relative = _safe_relative_path(info.filename, path)
                kind = stat.S_IFMT(info.external_attr >> 16)
                if kind == stat.S_IFLNK:
                    raise UnsafeArchiveError(
                        f"{path}: member {info.filename!r} is a symlink, which "
                        "zipfile would write as a plain file. Nothing was extracted."
                    )
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise UnsafeArchiveError(
                        f"{path}: member {info.filename!r} is a device or other "
                        "special file. Nothing was extracted."
                    )
                if relative is not None and not info.is_dir():
                    files.append(relative)
            for info in infos:
                archive.extract(info, staging)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ArchiveError(f"{path} is a corrupt zip archive: {error}") from error
    return files


def _check_tar_member(member: tarfile.TarInfo, path: Path) -> PurePosixPath | None:
    relative = _safe_relative_path(member.name, path)
    if member.ischr() or member.isblk() or member.isfifo():
        raise UnsafeArchiveError(
            f"{path}: member {member.name!r} is a device file or FIFO. Nothing "
            "was extracted."
        )
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(
            f"{path}: member {member.name!r} has an unsupported type "
            f"{member.type!r}. Nothing was extracted."
        )
    if relative is None and not member.isdir():
        raise UnsafeArchiveError(f"{path}: member {member.name!r} has no name.")

    if member.issym() or member.islnk():
        target = member.linkname.replace("\\", "/")
        if target.startswith("/") or _DRIVE.match(target):
            raise UnsafeArchiveError(
                f"{path}: link {member.name!r} points to the absolute path "
                f"{member.linkname!r}. Nothing was extracted."
            )
        # A symlink target is relative to the link's folder, a hard link's to
        # the archive root.
        base = relative.parent if member.issym() else PurePosixPath()
        resolved = os.path.normpath(os.path.join(str(base), target))
        if resolved == ".." or resolved.startswith("../"):
            raise UnsafeArchiveError(
                f"{path}: link {member.name!r} points outside the destination "
                f"({member.linkname!r}). Nothing was extracted."
            )
    return relative


def _members_checked_on_disk(
    members: list[tarfile.TarInfo], staging: Path, path: Path, sanitise: bool
) -> Iterator[tarfile.TarInfo]:
    """Yield members one at a time, checking real paths against what is on disk.

    tarfile extracts each yielded member before asking for the next, so
    ``os.path.realpath`` resolves through the links extracted so far, and a
    link to a link cannot lead outside ``staging``.
    """
    root = os.path.realpath(staging)
    for member in members:
        target = os.path.realpath(os.path.join(root, member.name))
        if not _is_inside(target, root):
            raise UnsafeArchiveError(
                f"{path}: member {member.name!r} would be written outside the "
                "destination through a link. Nothing was extracted."
            )
        if member.issym() or member.islnk():
            folder = os.path.dirname(target) if member.issym() else root
            linked = os.path.realpath(os.path.join(folder, member.linkname))
            if not _is_inside(linked, root):
                raise UnsafeArchiveError(
                    f"{path}: link {member.name!r} resolves outside the "
                    f"destination ({member.linkname!r}). Nothing was extracted."
                )
        if sanitise:
            member = copy.copy(member)
            member.mode &= 0o755
            member.uid, member.gid = os.getuid(), os.getgid()
            member.uname = member.gname = ""
        yield member


def _extract_tar(
    path: Path, staging: Path, use_data_filter: bool
) -> list[PurePosixPath]:
    if use_data_filter:
        filter_argument = {"filter": "data"}
    elif hasattr(tarfile, "fully_trusted_filter"):
        # The members were checked above. Naming this filter silences the
        # warning of Python 3.12 and 3.13 and replaces the data filter that
        # Python 3.14 applies by default.
        filter_argument = {"filter": "fully_trusted"}
    else:
        filter_argument = {}

    try:
        with tarfile.open(path, "r:*") as archive:
            members = archive.getmembers()
            files = []
            for member in members:
                relative = _check_tar_member(member, path)
                if member.isreg() and relative is not None:
                    files.append(relative)
            checked = _members_checked_on_disk(
                members, staging, path, sanitise=not use_data_filter
            )
            archive.extractall(staging, members=checked, **filter_argument)
    except tarfile.TarError as error:
        if hasattr(tarfile, "FilterError") and isinstance(error, tarfile.FilterError):
            raise UnsafeArchiveError(
                f"{path}: {error}. Nothing was extracted."
            ) from error
        raise ArchiveError(f"{path} is a corrupt tar archive: {error}") from error
    except (EOFError, zlib.error, KeyError) as error:
        raise ArchiveError(f"{path} is a corrupt tar archive: {error}") from error
    return files
