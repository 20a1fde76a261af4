"""Expected values computed straight from the miniature files with nibabel/numpy (not through the builders)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np


def box_of(mask: np.ndarray) -> list[float]:
    rows, cols = np.nonzero(mask)
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


def axial_display_slices(label_path: Path, value: int | None) -> tuple[int, np.ndarray]:
    """(index of the axial slice where the structure is largest, that slice as displayed: RAS+ array slice
    transposed and flipped both ways, i.e. patient right on image left, anterior up)."""
    canonical = nib.as_closest_canonical(nib.load(str(label_path)))
    data = np.asanyarray(canonical.dataobj)
    mask = data > 0 if value is None else data == value
    counts = mask.sum(axis=(0, 1))
    index = int(np.argmax(counts))
    return index, mask[:, :, index].T[::-1, ::-1]
