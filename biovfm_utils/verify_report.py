"""The summary of a verify scan: image counts as Table 1 counts them, and tables.

Table 1 counts each source in one of three units, stored as ``counting_unit`` in
the catalog (:data:`COUNTING_RULES` states each rule). The count of a local copy
follows the same unit, so it can be set against the source's ``n_images``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from biovfm_utils.headers import ERROR_KINDS
from biovfm_utils.tables import format_count, markdown_table

#: The counting rule of each counting unit of the catalog, as a sentence.
COUNTING_RULES = {
    "file": (
        "Each readable file counts as one image, as Table 1 counts this source. "
        "Frames of multi-frame files and slices of volumes are not added."
    ),
    "slice": (
        "Each readable 2-D file counts as one image, and each volume adds its "
        "slices. A multi-frame DICOM file adds its frames. A NIfTI or NRRD volume "
        "adds its slices along the axis closest to superior-inferior, times the "
        "time points of 4-D data. A FastMRI HDF5 file adds the slices of its "
        "k-space data. Every slice counts, empty ones too. MetaImage files, NumPy "
        "arrays and HDF5 files of other layouts are listed as unsupported and not "
        "counted."
    ),
    "frame": (
        "Each readable 2-D file (an extracted frame) counts as one image, and "
        "each multi-frame file adds its frames. Each video (AVI, MP4, QuickTime, "
        "Matroska, WebM) adds every frame of its first video stream: the count "
        "in its container header, or its number of video packets where the "
        "container stores no count. A copy of whole videos therefore counts "
        "more than a count of sampled frames."
    ),
}


#: Column headers of the report's tables in Markdown.
COLUMN_LABELS = {
    "format": "Format",
    "files": "Files",
    "readable": "Readable",
    "frames": "Frames and slices",
    "width": "Width",
    "height": "Height",
    "bit_depth": "Bit depth",
    "kind": "Error kind",
    "path": "Path",
    "error": "Error",
    "reason": "Reason",
}


def count_images(manifest: pd.DataFrame, counting_unit: str) -> int:
    """Count the images of manifest rows as Table 1 counts them in a unit.

    Rows with an error count zero. Under ``"file"`` every other row counts one;
    under ``"slice"`` and ``"frame"`` it counts its ``frames``.

    Raises
    ------
    ValueError
        If ``counting_unit`` is not one of :data:`COUNTING_RULES`.
    """
    if counting_unit not in COUNTING_RULES:
        known = ", ".join(COUNTING_RULES)
        raise ValueError(
            f"Unknown counting unit {counting_unit!r}; use one of: {known}."
        )
    readable = manifest[manifest["error"].isna()]
    if counting_unit == "file":
        return len(readable)
    return int(readable["frames"].fillna(1).sum())


def error_kind(message: str) -> str:
    """Return the kind of a manifest error string: the text before its first colon."""
    return message.split(":", 1)[0]


@dataclass
class VerifyReport:
    """The result of checking a local copy of one source against Table 1.

    Counts are of files on disk, except ``image_count`` and ``table1_count``,
    which are images in the source's counting unit. ``n_scanned`` files were
    read by this run, ``n_changed`` of them because their size or modification
    time differed from the row of an earlier run. ``n_resumed`` rows came
    unchanged from parts of earlier runs. ``n_removed`` rows of earlier runs
    name files that the walk no longer lists, because they were deleted or are
    now skipped, and they are left out of every count. ``n_pending`` files were left for a later run
    (``max_chunks``).

    The frames ``by_format``, ``sizes`` (width and height in pixels) and
    ``bit_depths`` count readable files and their frames and slices. ``errors``
    lists each unreadable file with its error, and ``error_kinds`` counts them by
    kind. ``skipped`` lists what the walk did not enter, such as links to
    directories.
    """

    source: str
    root: Path
    manifest: Path
    counting_unit: str
    count_note: str
    table1_count: int
    image_count: int
    n_files: int
    n_readable: int
    n_frames: int
    n_scanned: int
    n_resumed: int
    n_changed: int
    n_removed: int
    n_pending: int
    by_format: pd.DataFrame
    sizes: pd.DataFrame
    bit_depths: pd.DataFrame
    errors: pd.DataFrame
    error_kinds: pd.DataFrame
    skipped: pd.DataFrame
    seconds: float

    @property
    def counting_rule(self) -> str:
        """The counting rule of the source's unit, as a sentence."""
        return COUNTING_RULES[self.counting_unit]

    @property
    def difference(self) -> int:
        """Images counted here minus images in Table 1 (negative when fewer)."""
        return self.image_count - self.table1_count

    @property
    def n_unreadable(self) -> int:
        """The number of files recorded with an error."""
        return len(self.errors)

    @property
    def complete(self) -> bool:
        """True when every file under the root is in the manifest."""
        return self.n_pending == 0

    def summary_table(self) -> pd.DataFrame:
        """Return the main counts as a two-column frame (quantity, value)."""
        rows = [
            ("Files found", format_count(self.n_files)),
            ("Readable images", format_count(self.n_readable)),
            ("Unreadable files", format_count(self.n_unreadable)),
            ("Frames and slices in readable files", format_count(self.n_frames)),
            (
                f"Images counted (unit: {self.counting_unit})",
                format_count(self.image_count),
            ),
            ("Images in Table 1", format_count(self.table1_count)),
            ("Difference from Table 1", f"{self.difference:+,}"),
            ("Files read in this run", format_count(self.n_scanned)),
            ("Changed files read again", format_count(self.n_changed)),
            ("Rows reused from earlier runs", format_count(self.n_resumed)),
        ]
        if self.n_removed:
            rows.append(
                ("Rows of files no longer listed", format_count(self.n_removed))
            )
        if not self.complete:
            rows.append(("Files not yet scanned", format_count(self.n_pending)))
        return pd.DataFrame(rows, columns=["Quantity", "Value"])

    def to_markdown(self, max_rows: int = 10) -> str:
        """Render the report as Markdown, with at most ``max_rows`` rows per table."""
        status = "" if self.complete else " The scan is incomplete: rerun to resume."
        parts = [
            (
                f"**{self.source}**: local copy at `{self.root}`, manifest at "
                f"`{self.manifest}`.{status}"
            ),
            markdown_table(self.summary_table(), align={"Value": "right"}, labels={}),
            f"**Counting rule ({self.counting_unit}).** {self.counting_rule}",
        ]
        if self.count_note:
            parts.append(f"**Catalog note.** {self.count_note}")
        tables = [
            ("Formats", self.by_format),
            ("Image sizes (width x height, pixels)", self.sizes),
            ("Bit depths (bits per sample)", self.bit_depths),
            ("Errors by kind", self.error_kinds),
            ("Unreadable files", self.errors),
            ("Skipped during the walk", self.skipped),
        ]
        for title, frame in tables:
            if frame.empty:
                continue
            shown = frame.head(max_rows)
            more = len(frame) - len(shown)
            note = f" (first {len(shown)} of {len(frame):,})" if more else ""
            formats = {column: _cell for column in shown.columns}
            table = markdown_table(shown, formats, labels=COLUMN_LABELS)
            parts.append(f"**{title}**{note}\n\n{table}")
        return "\n\n".join(parts) + "\n"


def _cell(value) -> str:
    if pd.isna(value):
        return ""
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    return str(value)


def summarise(
    manifest: pd.DataFrame,
    *,
    source: pd.Series,
    root: Path,
    folder: Path,
    skipped: list[tuple[str, str]],
    n_scanned: int,
    n_resumed: int,
    n_changed: int,
    n_removed: int,
    n_pending: int,
    seconds: float,
) -> VerifyReport:
    """Build a :class:`VerifyReport` from the manifest rows of one copy."""
    unit = source["counting_unit"]
    has_error = manifest["error"].notna()
    readable = manifest[~has_error]
    frames = readable["frames"].fillna(1).astype("int64")
    errors = manifest.loc[has_error, ["path", "format", "error"]]
    errors = errors.sort_values("path").reset_index(drop=True)

    kinds = errors["error"].map(error_kind).value_counts()
    order = [kind for kind in ERROR_KINDS if kind in kinds.index]
    order += [kind for kind in kinds.index if kind not in order]
    error_kinds = pd.DataFrame({"kind": order, "files": [int(kinds[k]) for k in order]})

    return VerifyReport(
        source=source["name"],
        root=root,
        manifest=folder,
        counting_unit=unit,
        count_note=source.get("count_note", "") or "",
        table1_count=int(source["n_images"]),
        image_count=count_images(manifest, unit),
        n_files=len(manifest),
        n_readable=len(readable),
        n_frames=int(frames.sum()),
        n_scanned=n_scanned,
        n_resumed=n_resumed,
        n_changed=n_changed,
        n_removed=n_removed,
        n_pending=n_pending,
        by_format=_by_format(manifest),
        sizes=_distribution(readable.assign(frames=frames), ["width", "height"]),
        bit_depths=_distribution(readable.assign(frames=frames), ["bit_depth"]),
        errors=errors,
        error_kinds=error_kinds,
        skipped=pd.DataFrame(skipped, columns=["path", "reason"]),
        seconds=seconds,
    )


def _distribution(readable: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Count files and frames per value of ``keys``, most files first."""
    grouped = readable.groupby(keys, dropna=False).agg(
        files=("path", "size"), frames=("frames", "sum")
    )
    grouped = grouped.reset_index().sort_values(
        ["files", *keys], ascending=[False, *[True] * len(keys)]
    )
    grouped["files"] = grouped["files"].astype("int64")
    grouped["frames"] = grouped["frames"].astype("int64")
    return grouped.reset_index(drop=True)


def _by_format(manifest: pd.DataFrame) -> pd.DataFrame:
    """Count files, readable files and frames per format ("unknown" if none)."""
    frame = manifest.assign(
        format=manifest["format"].fillna("unknown"),
        readable=manifest["error"].isna(),
        frames=manifest["frames"].where(manifest["error"].isna(), 0).fillna(0),
    )
    grouped = frame.groupby("format").agg(
        files=("path", "size"), readable=("readable", "sum"), frames=("frames", "sum")
    )
    grouped = grouped.astype("int64").reset_index()
    return grouped.sort_values(
        ["files", "format"], ascending=[False, True]
    ).reset_index(drop=True)
