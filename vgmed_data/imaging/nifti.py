"""NIfTI: volumes in canonical orientation, slices rendered the way a radiologist reads them.

Every volume is reoriented to the closest canonical **RAS+** orientation (array axis 0 points to the patient's
Right, 1 Anterior, 2 Superior) with ``nibabel.as_closest_canonical``, so a file stored in any orientation gives
the same slices. Display convention (radiological):

* axial (slice along axis 2): patient's right on the image's left, anterior at the top;
* coronal (along axis 1): patient's right on the image's left, superior at the top;
* sagittal (along axis 0): anterior on the image's left, superior at the top.

In RAS+ each of these is ``slice.T[::-1, ::-1]`` of the array slice. Label volumes must have the image's shape
and affine (checked), so regions stay voxel-aligned. Pixel spacing of a displayed slice is (x, y) =
(column, row) spacing in mm.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from numpy.typing import NDArray

from vgmed_data.errors import FileFormatError, InvalidInputError, SkipReason
from vgmed_data.userfiles import check_regular

AXES = {"sagittal": 0, "coronal": 1, "axial": 2}


def _sniff(path: Path) -> bytes:
    check_regular(path)  # missing, a folder, a named pipe or a device: refused before opening
    with open(path, "rb") as handle:
        head = handle.read(512)
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml", b"{")):
        raise FileFormatError(
            "is not a NIfTI file: it starts like an HTML/XML/JSON document (an error page saved under a medical "
            "extension?)", path=path, fix="download the file again from the source's real download link")
    if path.name.endswith(".gz") and not head.startswith(b"\x1f\x8b"):
        raise FileFormatError("is not a gzip file although its name ends in .gz", path=path,
                              fix="download the file again, or rename it without .gz if it is an uncompressed .nii")
    return head


def _single_file_class(path: Path, head: bytes) -> type[nib.Nifti1Image] | None:
    """The nibabel class ``nib.load`` picks for an uncompressed single-file NIfTI-1 ``.nii`` (header size 348 in
    either byte order, magic ``n+1``), known from the first bytes, so the load skips nibabel's trial of every
    image class (about a fifth of reading a small file). Anything else (``.nii.gz``, NIfTI-2, which may be
    CIFTI-2, ``.hdr``/``.img`` pairs): ``None``, and ``nib.load`` decides."""
    if not path.name.lower().endswith(".nii") or len(head) < 348 or head[344:348] != b"n+1\x00":
        return None
    if 348 not in (int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big")):
        return None
    return nib.Nifti1Image


@dataclass(frozen=True)
class Volume:
    """A canonical (RAS+) volume. ``data`` is (x, y, z) or (x, y, z, channels)."""

    path: str
    data: NDArray[Any] = field(repr=False)
    affine: NDArray[np.float64] = field(repr=False)
    spacing_mm: tuple[float, float, float]
    original_orientation: str

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.data.shape)

    @property
    def channels(self) -> int:
        return 1 if self.data.ndim == 3 else int(self.data.shape[3])

    def num_slices(self, plane: str) -> int:
        return int(self.data.shape[_axis(plane)])

    def slice(self, index: int, *, plane: str = "axial", channel: int = 0) -> NDArray[Any]:
        """One 2D slice, display-oriented (see module docstring)."""
        axis = _axis(plane)
        count = self.data.shape[axis]
        if not 0 <= index < count:
            raise InvalidInputError(f"slice {index} is outside 0..{count - 1} for the {plane} plane", path=self.path)
        if not 0 <= channel < self.channels:
            raise InvalidInputError(f"channel {channel} does not exist ({self.channels} channel(s))", path=self.path,
                                    fix=f"pass a channel between 0 and {self.channels - 1}")
        data = self.data if self.data.ndim == 3 else self.data[..., channel]
        return np.take(data, index, axis=axis).T[::-1, ::-1]

    def slice_spacing(self, plane: str) -> tuple[float, float]:
        """(x, y) spacing in mm of a displayed slice of ``plane``."""
        sx, sy, sz = self.spacing_mm
        return {"axial": (sx, sy), "coronal": (sx, sz), "sagittal": (sy, sz)}[_plane(plane)]

    def display_to_voxel(self, plane: str, index: int, row: int, col: int) -> tuple[int, int, int]:
        """Voxel (i, j, k) shown at (row, col) of slice ``index`` of ``plane``."""
        shape = self.data.shape
        if plane == "axial":
            return shape[0] - 1 - col, shape[1] - 1 - row, index
        if plane == "coronal":
            return shape[0] - 1 - col, index, shape[2] - 1 - row
        return index, shape[1] - 1 - col, shape[2] - 1 - row


def _plane(plane: str) -> str:
    if plane not in AXES:
        raise InvalidInputError(f"unknown plane {plane!r}", fix=f"use one of: {', '.join(AXES)}")
    return plane


def _axis(plane: str) -> int:
    return AXES[_plane(plane)]


def _orientation(affine: NDArray[np.float64]) -> NDArray[np.float64]:
    """``nibabel.orientations.io_orientation`` with a fast path for axis-aligned affines (the usual case)."""
    rotation = np.abs(affine[:3, :3])
    significant = rotation > 1e-6 * rotation.max()
    if significant.sum() == 3 and significant.any(axis=0).all() and significant.any(axis=1).all():
        targets = np.argmax(rotation, axis=0)
        signs = np.sign(affine[targets, np.arange(3)])
        return np.stack([targets.astype(np.float64), signs], axis=1)
    return nib.orientations.io_orientation(affine)


_AXIS_LABELS = (("L", "R"), ("P", "A"), ("I", "S"))


def _axis_codes(orientation: NDArray[np.float64]) -> str:
    """``"".join(nibabel.orientations.ornt2axcodes(orientation))`` without its per-call array checks."""
    if np.isnan(orientation).any():
        return "".join(nib.orientations.ornt2axcodes(orientation))
    return "".join(_AXIS_LABELS[int(axis)][1 if sign > 0 else 0] for axis, sign in orientation.tolist())


def read_nifti(path: str | os.PathLike[str], *, volume_index: int | None = None) -> Volume:
    """Load a NIfTI-1/2 file reoriented to RAS+. ``volume_index`` picks one volume of a 4D file."""
    file = Path(path)
    head = _sniff(file)
    # nib.load is typed as returning FileBasedImage (no affine, no dataobj): checked below (getattr "affine")
    image: Any
    if file.suffix.lower() == ".mha":  # a 3D MetaImage (SPIDER): the same orientation handling as NIfTI
        from vgmed_data.imaging.metaimage import read_metaimage_volume

        voxels, mha_affine = read_metaimage_volume(file)
        image, data = nib.Nifti1Image(voxels, mha_affine), voxels
    else:
        try:
            known = _single_file_class(file, head)
            image = known.from_filename(str(file)) if known is not None else nib.load(str(file))
            data = np.asanyarray(image.dataobj)
        except (gzip.BadGzipFile, EOFError, OSError, nib.filebasedimages.ImageFileError, ValueError) as error:
            raise FileFormatError(f"could not be read as NIfTI ({type(error).__name__}: {error})", path=file,
                                  fix="re-download the file; check it opens in a NIfTI viewer") from error
    if getattr(image, "affine", None) is None:  # e.g. a CIFTI-2 file (.dconn.nii): a matrix, not a volume
        raise FileFormatError(f"is a {type(image).__name__}, not a NIfTI volume with an affine", path=file,
                              fix="render a NIfTI-1/2 image volume (.nii/.nii.gz)", reason=SkipReason.SHAPE_MISMATCH)
    # The same maths as nibabel.as_closest_canonical, applied to the array directly (no second image object).
    orientation = _orientation(np.asarray(image.affine, dtype=np.float64))
    zooms = np.asarray(image.header.get_zooms()[:3], dtype=np.float64)
    affine = np.asarray(image.affine, dtype=np.float64)
    if not np.array_equal(orientation, [[0, 1], [1, 1], [2, 1]]):
        affine = affine @ nib.orientations.inv_ornt_aff(orientation, data.shape[:3])
        data = nib.orientations.apply_orientation(data, orientation)
        zooms = zooms[np.argsort(orientation[:, 0])]
    if data.ndim == 4 and volume_index is not None:
        if not 0 <= volume_index < data.shape[3]:
            raise InvalidInputError(f"volume {volume_index} is outside 0..{data.shape[3] - 1}", path=file)
        data = data[..., volume_index]
    if data.ndim not in (3, 4):
        raise FileFormatError(f"expected a 3D or 4D volume, got shape {data.shape}", path=file,
                              reason=SkipReason.SHAPE_MISMATCH)
    codes = _axis_codes(orientation)
    return Volume(str(file), data, affine, (float(zooms[0]), float(zooms[1]), float(zooms[2])), codes)


def read_label_volume(path: str | os.PathLike[str], *, image: Volume, atol: float = 1e-3) -> Volume:
    """A label volume that must be voxel-aligned with ``image`` (same shape and affine after reorientation)."""
    labels = read_nifti(path)
    if labels.shape[:3] != image.shape[:3]:
        raise FileFormatError(
            f"label volume shape {labels.shape[:3]} differs from its image's {image.shape[:3]} ({image.path})",
            path=path, fix="pair each label file with the image it was drawn on, or resample it onto that image",
            reason=SkipReason.SHAPE_MISMATCH)
    if not np.allclose(labels.affine, image.affine, atol=atol):
        raise FileFormatError(f"label volume affine differs from its image's ({image.path})", path=path,
                              fix="resample the labels onto the image grid", reason=SkipReason.SHAPE_MISMATCH)
    data = np.rint(labels.data).astype(np.int32) if labels.data.dtype.kind == "f" else labels.data.astype(np.int32)
    return Volume(labels.path, data, labels.affine, labels.spacing_mm, labels.original_orientation)
