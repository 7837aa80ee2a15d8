"""Time the header scan of `verify_source` against a scan that decodes every pixel.

Run from the repository root with the project's environment::

    .venv/bin/python benchmarks/verify_scan.py [--scale 1.0] [--repeat 3] [--keep]

The script writes a tree of mixed files into a temporary folder (at scale 1.0:
20,400 files in folders of 400, about 5.3 GB), then times three scans of it:

- the header scan of `verify_source` in this process (``workers=1``), including
  the walk, the Parquet manifest and the summary;
- the same scan in a process pool with one worker per available CPU;
- a full-decode scan in this process, which decodes every pixel array (Pillow
  ``Image.load``, pydicom ``pixel_array``, nibabel's data proxy) of the same files.

The mix has images, DICOM slices and NIfTI volumes only. Videos, NRRD and HDF5
files are not timed: a Matroska video, whose frames are counted by demuxing the
whole file, reads far more than a header.

Before the timed scans, the header scan and the full decode each run once over
the few distinct files that the tree copies, so that neither timing includes
first imports, such as Pillow loading its format plugins.

The process pool starts its workers with the "spawn" method, and each worker
imports the main module and the readers before its first chunk. That start cost
is paid once per scan, so at this size, or on a machine whose cores are busy, the
pool may not beat one process.

Each scan is timed ``--repeat`` times. The speed-up is the median full-decode
time over the median single-process header time. All scans read from the page
cache, because the files were just written. On a cold disk the header scan
should gain more, because it reads a few kilobytes per file instead of the whole
file, but this script does not measure that. The result is written as a
Markdown section to ``benchmarks/results/verify_scan.md`` and printed. The
target is a speed-up of at least 20.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nibabel
import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from biovfm_utils.file_tree import list_files
from biovfm_utils.headers import read_headers
from biovfm_utils.verify import available_cpus, verify_source

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "verify_scan.md"
TARGET_SPEED_UP = 20.0
# A catalog source counted per file, so every readable file counts once.
SOURCE = "SAM-Med2D-20M"
FILES_PER_FOLDER = 400
# Files per format timed one by one for the per-format table.
SAMPLE_PER_FORMAT = 300
# Distinct files written per format. The rest are byte copies of them, which
# cost the same to decode.
PROTOTYPES = 8

# Files per format at scale 1.0, with what each one is.
MIX = {
    "png": (6000, "PNG, 512 x 512, 8-bit greyscale"),
    "jpeg": (5000, "JPEG, 512 x 512, RGB, quality 90"),
    "tiff": (3000, "TIFF, 512 x 512, 8-bit greyscale, deflate"),
    "dicom": (4000, "DICOM, 512 x 512, 16-bit (12 stored), uncompressed"),
    "nifti": (2000, "NIfTI-1, gzip, 128 x 128 x 32 voxels, int16"),
    "broken": (400, "truncated PNG, zero-byte file or text file, in turn"),
}


def synthetic_image(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """Return a smooth gradient with mild noise, which compresses only partly."""
    y, x = np.mgrid[0:size, 0:size]
    gradient = 128 + 100 * np.sin(x / 40.0) * np.cos(y / 55.0)
    noise = rng.normal(0, 6, (size, size))
    return np.clip(gradient + noise, 0, 255).astype(np.uint8)


def write_dicom(path: Path, pixels: np.ndarray) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "CT"
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = 16
    dataset.BitsStored = 12
    dataset.HighBit = 11
    dataset.PixelRepresentation = 0
    dataset.RescaleIntercept = -1024
    dataset.RescaleSlope = 1
    dataset.PixelData = (pixels.astype(np.uint16) * 16).tobytes()
    dataset.save_as(path, enforce_file_format=True)


def write_prototypes(folder: Path, rng: np.random.Generator) -> dict[str, list[Path]]:
    """Write PROTOTYPES distinct files per format and return their paths."""
    folder.mkdir(parents=True)
    prototypes: dict[str, list[Path]] = {kind: [] for kind in MIX}
    for number in range(PROTOTYPES):
        grey = synthetic_image(rng)
        paths = {
            "png": folder / f"{number}.png",
            "jpeg": folder / f"{number}.jpg",
            "tiff": folder / f"{number}.tif",
            "dicom": folder / f"{number}.dcm",
            "nifti": folder / f"{number}.nii.gz",
        }
        Image.fromarray(grey).save(paths["png"])
        colour = np.stack([grey, np.roll(grey, 7, axis=0), grey[::-1]], axis=-1)
        Image.fromarray(colour).save(paths["jpeg"], quality=90)
        Image.fromarray(grey).save(paths["tiff"], compression="tiff_adobe_deflate")
        write_dicom(paths["dicom"], grey)
        volume = np.stack([grey[::4, ::4] + slice_ for slice_ in range(32)], axis=-1)
        nibabel.save(
            nibabel.Nifti1Image(volume.astype(np.int16), np.eye(4)), paths["nifti"]
        )
        for kind, path in paths.items():
            prototypes[kind].append(path)

    broken = [folder / "truncated.png", folder / "empty.png", folder / "notes.txt"]
    content = prototypes["png"][0].read_bytes()
    broken[0].write_bytes(content[: len(content) // 2])
    broken[1].write_bytes(b"")
    broken[2].write_text("patient_id,label\n1,normal\n")
    prototypes["broken"] = broken
    return prototypes


def write_tree(root: Path, scale: float, rng: np.random.Generator) -> dict[str, int]:
    """Write the benchmark tree under ``root`` and return the files per format."""
    prototypes = write_prototypes(root.parent / "prototypes", rng)
    counts = {kind: max(1, round(count * scale)) for kind, (count, _) in MIX.items()}
    for kind, count in counts.items():
        sources = prototypes[kind]
        for number in range(count):
            folder = root / kind / f"{number // FILES_PER_FOLDER:04d}"
            if number % FILES_PER_FOLDER == 0:
                folder.mkdir(parents=True)
            source = sources[number % len(sources)]
            suffix = "".join(source.suffixes)
            shutil.copyfile(source, folder / f"{number:06d}{suffix}")
    return counts


def decode_everything(root: Path) -> tuple[int, int, int]:
    """Decode every pixel array under ``root`` and return (files, frames, errors)."""
    tree = list_files(root)
    files = frames = errors = 0
    for relative in tree.paths():
        path = root / relative
        files += 1
        try:
            frames += decode_file(path)
        except Exception:  # noqa: BLE001 - a broken file is counted, as in the scan
            errors += 1
    return files, frames, errors


def decode_file(path: Path) -> int:
    """Decode all pixels of one file and return its number of frames or slices."""
    head = path.open("rb").read(132)
    if head[128:132] == b"DICM":
        pixels = pydicom.dcmread(path).pixel_array
        return 1 if pixels.ndim == 2 else pixels.shape[0]
    if head[:2] == b"\x1f\x8b" or path.name.endswith((".nii", ".nii.gz")):
        volume = np.asanyarray(nibabel.load(path).dataobj)
        return volume.shape[2] if volume.ndim > 2 else 1
    with Image.open(path) as image:
        n_frames = getattr(image, "n_frames", 1)
        for index in range(n_frames):
            image.seek(index)
            image.load()
    return n_frames


def time_per_format(root: Path) -> dict[str, tuple[float, float]]:
    """Return the mean header and decode time per file, in seconds, per format."""
    times = {}
    for kind in MIX:
        sample = sorted(path for path in (root / kind).rglob("*") if path.is_file())
        sample = sample[:SAMPLE_PER_FORMAT]
        _, header_seconds = timed(_read_headers, sample)
        _, decode_seconds = timed(_decode_all, sample)
        times[kind] = (header_seconds / len(sample), decode_seconds / len(sample))
    return times


def _read_headers(paths: list[Path]) -> None:
    read_headers(paths)


def _decode_all(paths: list[Path]) -> None:
    for path in paths:
        try:
            decode_file(path)
        except Exception as error:  # noqa: BLE001 - broken files fail here
            logger.debug("could not decode %s: %s", path, error)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiplier of the files per format (default 1.0: 20,400 files)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed runs of each scan; the median is reported (default 3)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary tree (default: delete)"
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {args.repeat}")

    load_before = os.getloadavg()[0]
    workspace = Path(tempfile.mkdtemp(prefix="verify-benchmark-"))
    try:
        root = workspace / "copy"
        counts, seconds_written = timed(
            write_tree, root, args.scale, np.random.default_rng(1)
        )
        n_files = sum(counts.values())
        size_bytes = sum(
            path.stat().st_size for path in root.rglob("*") if path.is_file()
        )
        print(
            f"wrote {n_files:,} files ({size_bytes / 1e9:.2f} GB) "
            f"in {seconds_written:.0f} s"
        )

        prototypes = workspace / "prototypes"
        verify_source(
            SOURCE,
            prototypes,
            manifest=workspace / "warm-up",
            workers=1,
            progress=False,
        )
        decode_everything(prototypes)

        workers = available_cpus()
        runs_single, runs_pooled, runs_decode = [], [], []
        for run in range(args.repeat):
            single, seconds = timed(
                verify_source,
                SOURCE,
                root,
                manifest=workspace / f"single-{run}",
                workers=1,
                progress=False,
            )
            runs_single.append(seconds)
            print(f"header scan, 1 process: {seconds:.2f} s")
            pooled, seconds = timed(
                verify_source,
                SOURCE,
                root,
                manifest=workspace / f"pooled-{run}",
                workers=workers,
                progress=False,
            )
            runs_pooled.append(seconds)
            print(f"header scan, {workers} processes: {seconds:.2f} s")
            (decoded, frames, errors), seconds = timed(decode_everything, root)
            runs_decode.append(seconds)
            print(f"full decode, 1 process: {seconds:.1f} s")
        per_format = time_per_format(root)
    finally:
        if args.keep:
            print(f"kept {workspace}")
        else:
            shutil.rmtree(workspace, ignore_errors=True)

    if (single.n_files, pooled.n_files, decoded) != (n_files,) * 3:
        sys.exit(f"file counts differ: {single.n_files}, {pooled.n_files}, {decoded}")
    if single.n_frames != frames or single.n_unreadable != errors:
        sys.exit(
            f"scans disagree: header scan {single.n_frames} frames and "
            f"{single.n_unreadable} errors, full decode {frames} and {errors}"
        )

    load_after = os.getloadavg()[0]
    seconds_single = statistics.median(runs_single)
    seconds_decode = statistics.median(runs_decode)
    speed_up = seconds_decode / seconds_single
    speed_ups = sorted(
        decode / header for header, decode in zip(runs_single, runs_decode)
    )
    rows = [
        ("header scan, 1 process", runs_single),
        (f"header scan, {workers} processes", runs_pooled),
        ("full decode, 1 process", runs_decode),
    ]
    lines = [
        "## Verify scan: headers against full decode",
        "",
        (
            f"Measured on {datetime.date.today().isoformat()} with "
            f"`benchmarks/verify_scan.py --scale {args.scale:g} --repeat {args.repeat}`: "
            f"Python "
            f"{platform.python_version()}, {os.cpu_count()} CPU cores, "
            f"{platform.machine()}, 1-minute load average {load_before:.1f} before "
            f"the run and {load_after:.1f} after it. "
            f"{args.repeat} timed run{'s' if args.repeat != 1 else ''} of each "
            f"scan over {n_files:,} files "
            f"({size_bytes / 1e9:.2f} GB, {frames:,} frames and slices, {errors:,} "
            "broken), read from the page cache, after an untimed run of each over "
            "the distinct files that the tree copies. The rates are those of the "
            "median run."
        ),
        "",
        "| Files | What |",
        "| --: | :-- |",
        *[f"| {counts[kind]:,} | {what} |" for kind, (_, what) in MIX.items()],
        "",
        "| Scan | Median time (s) | Range (s) | Files/s | Frames and slices/s |",
        "| :-- | --: | :-: | --: | --: |",
        *[
            f"| {name} | {statistics.median(runs):.2f} | "
            f"{min(runs):.2f} to {max(runs):.2f} | "
            f"{n_files / statistics.median(runs):,.0f} | "
            f"{frames / statistics.median(runs):,.0f} |"
            for name, runs in rows
        ],
        "",
        (
            f"Per format, over the first {SAMPLE_PER_FORMAT} files of each, one "
            "process, `read_headers` against the full decode:"
        ),
        "",
        "| Format | Header (µs/file) | Decode (µs/file) | Ratio |",
        "| :-- | --: | --: | --: |",
        *[
            f"| {kind} | {header * 1e6:,.0f} | {decode * 1e6:,.0f} | "
            f"{decode / header:.1f} |"
            for kind, (header, decode) in per_format.items()
        ],
        "",
        (
            "Speed-up of the header scan over the full decode, both in one process, "
            f"from the median times: **{speed_up:.1f}x** (target at least "
            f"{TARGET_SPEED_UP:.0f}x: {'met' if speed_up >= TARGET_SPEED_UP else 'missed'}). "
            f"Run by run, the speed-up ranged from {speed_ups[0]:.1f}x to "
            f"{speed_ups[-1]:.1f}x."
        ),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
