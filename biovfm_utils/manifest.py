"""The Parquet manifest of a verify scan: schema, part files and resume.

A manifest is a folder that pyarrow, pandas and Dask read as one Parquet
dataset::

    _scan.json            the source name and root the rows belong to
    part-000000.parquet   the rows of one scanned chunk of files
    part-000001.parquet
    ...

Each part is written under a hidden temporary name, flushed to disk and then
renamed, so a part is either complete or absent: a crash loses only the chunks
being scanned at that moment. Parquet readers skip names that start with "." or
"_".

A rerun scans the files that no part lists yet, and rescans every file whose
size or modification time differs from its newest row. Parts are never
rewritten, so the new row of a rescanned file goes into a new part, numbered
after the last one, and the older row stays behind. The current row of a path is
therefore the one in the part with the highest number, and `read_manifest` keeps
only that row. A reader that opens the folder as a Parquet dataset itself must
drop the older rows too, for example by reading the parts in order and keeping
the last row of each path.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from biovfm_utils.headers import read_headers

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger(__name__)

#: Columns of a manifest, in order.
MANIFEST_COLUMNS = (
    "path",
    "format",
    "width",
    "height",
    "frames",
    "bit_depth",
    "colour_mode",
    "byte_size",
    "modified_ns",
    "error",
)

#: The file that records which source and root a manifest folder belongs to.
STATE_FILE = "_scan.json"

_PART_NAME = re.compile(r"part-(\d+)\.parquet")
_TEMPORARY_NAME = re.compile(r"\.part-\d+\.parquet\..*\.tmp")

#: The size and modification time of a file as a manifest row records them:
#: (``byte_size``, ``modified_ns``), each None where the file could not be read.
FileSignature = tuple[int | None, int | None]


class ManifestMismatchError(ValueError):
    """A manifest folder that contains the scan of another source or root."""


class ManifestFolderError(OSError):
    """A manifest folder path that is a file, or a folder that cannot be created."""


@dataclass
class ManifestState:
    """A manifest folder ready for scanning.

    ``done`` maps each path (relative to the root) already in a part to the
    size and modification time of its newest row, and ``next_part`` is the
    number of the next part to write.
    """

    folder: Path
    done: dict[str, FileSignature]
    next_part: int


def manifest_schema():
    """Return the `pyarrow.Schema` of a manifest.

    ``path`` is relative to the scanned root, with "/" separators. ``width`` and
    ``height`` are in pixels, ``frames`` counts frames or slices (1 for a 2-D
    image), ``bit_depth`` is bits per sample and ``byte_size`` is in bytes.
    ``modified_ns`` is the file's modification time when it was scanned
    (``st_mtime_ns``: nanoseconds since the Unix epoch), which a rerun compares
    to decide whether to scan the file again. Every column but ``path`` is null
    where the file could not be read that far, and ``error`` is null for a
    readable image.
    """
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("path", pa.string(), nullable=False),
            pa.field("format", pa.string()),
            pa.field("width", pa.int32()),
            pa.field("height", pa.int32()),
            pa.field("frames", pa.int64()),
            pa.field("bit_depth", pa.int16()),
            pa.field("colour_mode", pa.string()),
            pa.field("byte_size", pa.int64()),
            pa.field("modified_ns", pa.int64()),
            pa.field("error", pa.string()),
        ]
    )


def part_files(folder: str | os.PathLike) -> list[Path]:
    """Return the complete part files of a manifest folder, in part order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    parts = [path for path in folder.iterdir() if _PART_NAME.fullmatch(path.name)]
    return sorted(parts, key=_part_number)


def _part_number(path: Path) -> int:
    return int(_PART_NAME.fullmatch(path.name).group(1))


def file_signature(path: str | os.PathLike) -> FileSignature:
    """Return the size and modification time of a file, following symbolic links.

    Returns (None, None) for a file that cannot be examined, such as a broken link.
    """
    try:
        status = os.stat(path)
    except OSError:
        return None, None
    return status.st_size, status.st_mtime_ns


def open_manifest(
    folder: str | os.PathLike, *, source: str, root: str | os.PathLike, resume: bool
) -> ManifestState:
    """Prepare a manifest folder for a scan of ``root`` as ``source``.

    With ``resume=True`` the parts already written are kept. With
    ``resume=False`` the folder's parts and state file are deleted; other files
    in it are left alone. Temporary files of an interrupted write are always
    deleted. Parts written before the ``modified_ns`` column existed are read
    with that column null, so their files are scanned again.

    Raises
    ------
    ManifestFolderError
        If ``folder`` is an existing file, or cannot be created.
    ManifestMismatchError
        If ``resume`` is true and the folder contains parts of a scan of another
        source or root.
    """
    folder = Path(folder)
    _create_folder(folder)
    root_text = str(Path(root).resolve())
    state_path = folder / STATE_FILE

    for path in folder.iterdir():
        if _TEMPORARY_NAME.fullmatch(path.name):
            logger.info("deleting the unfinished part %s", path)
            path.unlink()

    parts = part_files(folder)
    if not resume:
        for path in parts:
            path.unlink()
        state_path.unlink(missing_ok=True)
        parts = []
    elif parts:
        _check_state(state_path, source, root_text)

    state = {"source": source, "root": root_text, "columns": list(MANIFEST_COLUMNS)}
    _write_atomically(state_path, json.dumps(state, indent=2).encode())

    table = _read_parts(parts, ["path", "byte_size", "modified_ns"])
    # Parts are read in order, so a later row of a path replaces an earlier one.
    paths = table.column("path").to_pylist()
    sizes = table.column("byte_size").to_pylist()
    times = table.column("modified_ns").to_pylist()
    done = {path: (size, time) for path, size, time in zip(paths, sizes, times)}
    next_part = _part_number(parts[-1]) + 1 if parts else 0
    return ManifestState(folder=folder, done=done, next_part=next_part)


def _create_folder(folder: Path) -> None:
    hint = "Pass another folder with --manifest (manifest= in Python)."
    if folder.exists() and not folder.is_dir():
        raise ManifestFolderError(
            f"The manifest folder {folder} is an existing file, not a folder. {hint}"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ManifestFolderError(
            f"Could not create the manifest folder {folder} "
            f"({error.strerror or error}). {hint}"
        ) from error


def _check_state(state_path: Path, source: str, root: str) -> None:
    hint = "Pass another manifest folder, or resume=False (--no-resume) to replace it."
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ManifestMismatchError(
            f"The manifest folder {state_path.parent} has parts but no valid "
            f"{STATE_FILE} ({error}). {hint}"
        ) from error
    if state.get("source") != source or state.get("root") != root:
        raise ManifestMismatchError(
            f"The manifest folder {state_path.parent} contains a scan of "
            f"{state.get('source')!r} at {state.get('root')}, not of {source!r} "
            f"at {root}. {hint}"
        )


def write_part(folder: str | os.PathLike, index: int, rows: list[dict]) -> Path:
    """Write the rows of one chunk as part number ``index``, atomically.

    The rows are written to a hidden temporary file, flushed to disk and renamed,
    so the part appears complete or not at all.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    final = folder / f"part-{index:06d}.parquet"
    temporary = folder / f".{final.name}.{os.getpid()}.tmp"
    table = pa.Table.from_pylist(rows, schema=manifest_schema())
    with temporary.open("wb") as handle:
        pq.write_table(table, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    return final


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def scan_chunk(
    root: str, paths: list[str], folder: str, part_index: int
) -> tuple[int, int]:
    """Read the headers of one chunk of files and write them as one part.

    This is the task that worker processes and Dask workers run. ``paths`` are
    relative to ``root``. The modification time is taken before the header is
    read, so a file changed during the read differs from its row on the next
    run and is scanned again. Returns the number of files and of files with an
    error.
    """
    absolute = [os.path.join(root, relative) for relative in paths]
    modified = [file_signature(path)[1] for path in absolute]
    records = read_headers(absolute)
    rows = [
        {"path": relative, **record, "modified_ns": modified_ns}
        for relative, record, modified_ns in zip(paths, records, modified)
    ]
    write_part(folder, part_index, rows)
    n_errors = sum(row["error"] is not None for row in rows)
    return len(rows), n_errors


def _read_parts(parts: list[Path], columns: list[str] | None = None) -> pa.Table:
    """Read parts in part order into one table of the manifest schema.

    A column that an older part lacks is read as nulls.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = manifest_schema()
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    tables = [pq.read_table(path, schema=schema) for path in parts]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def read_manifest(
    folder: str | os.PathLike, columns: list[str] | None = None
) -> pd.DataFrame:
    """Read the current rows of a manifest folder as a DataFrame.

    A path rescanned by a later run has rows in several parts, and only the row
    of the highest-numbered part is kept. Rows are in part order, each path at
    the position of its current row. Integer columns have pandas' nullable
    dtypes (``Int32``, ``Int16``, ``Int64``) and text columns the ``string``
    dtype, so missing values stay missing instead of turning counts into floats.
    """
    import pandas as pd
    import pyarrow as pa

    requested = list(MANIFEST_COLUMNS if columns is None else columns)
    # The path is needed to find the current row even when it is not requested.
    read = requested if "path" in requested else ["path", *requested]
    table = _read_parts(part_files(folder), read)
    types = {
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.string(): pd.StringDtype(),
    }
    frame = table.to_pandas(types_mapper=types.get)
    frame = frame.drop_duplicates(subset="path", keep="last")
    return frame[requested].reset_index(drop=True)
