"""DICOM datasets that the tests write, built with pydicom."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)


def image_dataset(
    rows,
    columns,
    *,
    frames=1,
    bits=16,
    photometric="MONOCHROME2",
    sop_class=SecondaryCaptureImageStorage,
    transfer_syntax=ExplicitVRLittleEndian,
) -> Dataset:
    """Return an uncompressed image dataset of zeros, with file meta, ready to save."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = sop_class
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Rows = rows
    dataset.Columns = columns
    samples = 3 if photometric == "RGB" else 1
    dataset.SamplesPerPixel = samples
    if samples == 3:
        dataset.PlanarConfiguration = 0
    dataset.PhotometricInterpretation = photometric
    dataset.BitsAllocated = 16 if bits > 8 else 8
    dataset.BitsStored = bits
    dataset.HighBit = bits - 1
    dataset.PixelRepresentation = 0
    if frames > 1:
        dataset.NumberOfFrames = frames
    dtype = np.uint16 if bits > 8 else np.uint8
    dataset.PixelData = np.zeros((frames, rows, columns, samples), dtype).tobytes()
    return dataset
