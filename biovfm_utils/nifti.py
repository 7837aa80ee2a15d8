"""Show one slice of a NIfTI-1 or NIfTI-2 volume, read with nibabel.

``index`` counts axial slices from inferior to superior: the voxel axis closest to
the superior direction of the affine (`nibabel.orientations.io_orientation`),
whatever the voxel order on disk. The slice is shown with anterior at the top and
the patient's left on the left of the image (neurological convention). Volumes
with more than three dimensions show their first volume. Slices are read through
nibabel's array proxy, so an uncompressed file on disk is not read whole.
"""

from __future__ import annotations

import numpy as np

from biovfm_utils.display import (
    CorruptImageError,
    DisplayImage,
    ImageSource,
    UnsupportedImageError,
    choose_frame,
    greyscale_levels,
    make_image,
)

_SUPERIOR = 2  # world axis numbers of io_orientation: 0 = R, 1 = A, 2 = S


def read_nifti(
    src: ImageSource,
    format_name: str,
    *,
    index: int | None,
    window: tuple[float, float] | None,
) -> DisplayImage:
    """Decode one axial slice of a NIfTI file for display.

    Raises
    ------
    CorruptImageError, UnsupportedImageError, FrameIndexError
    """
    image = _load(src, format_name)
    name = src.file_name
    if image.get_data_dtype().fields is not None:
        raise UnsupportedImageError(
            name, f"NIfTI data type {image.get_data_dtype()} (RGB) is not supported"
        )
    if image.ndim < 2:
        raise UnsupportedImageError(
            name, f"the NIfTI image has fewer than 2 dimensions (shape {image.shape})"
        )

    axes = _axes(image)
    slice_axis = axes[0]
    n_slices = image.shape[slice_axis] if slice_axis < image.ndim else 1
    slice_index = choose_frame(index, n_slices, name, "slice")
    plane = _read_plane(image, slice_index, axes, name)

    pixels, scaling = greyscale_levels(plane, window)
    slope = getattr(image.dataobj, "slope", 1.0)
    intercept = getattr(image.dataobj, "inter", 0.0)
    has_scaling = (slope, intercept) != (1.0, 0.0)
    return make_image(
        pixels,
        plane,
        file_name=name,
        format=format_name,
        bits_stored=int(image.header["bitpix"]),
        colour_mode="greyscale",
        n_frames=n_slices,
        frame_index=slice_index if n_slices > 1 else None,
        frame_label="slice",
        rescale_slope=float(slope) if has_scaling else None,
        rescale_intercept=float(intercept) if has_scaling else None,
        **scaling,
    )


def _load(src: ImageSource, format_name: str):
    import nibabel
    from nibabel.filebasedimages import ImageFileError
    from nibabel.fileholders import FileHolder
    from nibabel.spatialimages import HeaderDataError

    if format_name == "NIfTI-1":
        image_class = nibabel.Nifti1Image
    else:
        image_class = nibabel.Nifti2Image
    try:
        if src.path is not None:
            # A file map, unlike nibabel.load, does not require a .nii extension.
            holder = FileHolder(filename=str(src.path))
            return image_class.from_file_map({"image": holder})
        return image_class.from_bytes(src.data)
    except (HeaderDataError, ImageFileError, ValueError, OSError, EOFError) as error:
        raise CorruptImageError(
            src.file_name, f"the {format_name} header is invalid ({error})"
        ) from error


def _axes(image) -> tuple[int, float, list[tuple[int, float]]]:
    """Return the slice axis, its direction and the two in-plane axes.

    Directions are +1 or -1 relative to the world axis (R, A or S). The first
    in-plane entry, (voxel axis, direction), is shown left to right and the second
    bottom to top, each toward the positive world direction.
    """
    from nibabel.orientations import io_orientation

    orientation = io_orientation(image.affine)
    if np.isnan(orientation).any():
        # A degenerate affine has no orientation: use the voxel axes as stored.
        return 2, 1.0, [(0, 1.0), (1, 1.0)]

    if image.ndim == 2:
        slice_axis = 2
    else:
        slice_axis = int(np.flatnonzero(orientation[:, 0] == _SUPERIOR)[0])
    in_plane = [axis for axis in range(3) if axis != slice_axis]
    # The axis with the lower world number (R before A before S) is horizontal.
    in_plane.sort(key=lambda axis: orientation[axis, 0])
    directions = [(axis, float(orientation[axis, 1])) for axis in in_plane]
    return slice_axis, float(orientation[slice_axis, 1]), directions


def _read_plane(image, slice_index: int, axes, name: str) -> np.ndarray:
    """Read one slice and orient it as (rows top to bottom, columns left to right)."""
    slice_axis, slice_direction, in_plane = axes
    slicer: list[int | slice] = [slice(None)] * image.ndim
    for axis in range(3, image.ndim):
        slicer[axis] = 0
    if slice_axis < image.ndim:
        # Count slices from inferior to superior, whatever the voxel order.
        n_slices = image.shape[slice_axis]
        if slice_direction < 0:
            slice_index = n_slices - 1 - slice_index
        slicer[slice_axis] = slice_index
    try:
        plane = np.asanyarray(image.dataobj[tuple(slicer)])
    except (OSError, ValueError, EOFError) as error:
        raise CorruptImageError(
            name, f"the NIfTI data are truncated or damaged ({error})"
        ) from error

    (horizontal, horizontal_direction), (vertical, vertical_direction) = in_plane
    if horizontal > vertical:
        plane = plane.T
    # Now plane[h, v]. Make both indices grow toward the positive world direction.
    if horizontal_direction < 0:
        plane = plane[::-1, :]
    if vertical_direction < 0:
        plane = plane[:, ::-1]
    # Rotating puts v upward (row 0 = most positive) and h left to right.
    return np.rot90(plane)
