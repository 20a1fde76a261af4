"""Edits for the difference tasks, applied to a sample image (size x size, RGB with equal channels).

* ``cut_paste``: a patch of the image (around a labelled structure) is copied onto another place of the same
  image, hard-edged.
* ``transplant``: a structure from another case, cut by its mask and feathered (the mask blurred with a
  Gaussian, sigma ``feather``), is blended into this image: ``round(alpha * donor + (1 - alpha) * image)``.

The answer box is always the bounding box of the pixels that actually changed (computed from the result, so a
paste onto identical pixels changes nothing and is refused).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Edit:
    pixels: NDArray[np.uint8]
    changed: NDArray[np.bool_]
    method: str
    destination: tuple[int, int]  # (x, y) top-left of the pasted patch


def changed_box(before: NDArray[np.uint8], after: NDArray[np.uint8]) -> Box | None:
    diff = np.any(before != after, axis=-1) if before.ndim == 3 else before != after
    rows, cols = np.nonzero(diff)
    if rows.size == 0:
        return None
    return (float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1))


def _destination(rng: np.random.Generator, *, size: int, patch: tuple[int, int], avoid: Box) -> tuple[int, int] | None:
    height, width = patch
    for _ in range(50):
        x = int(rng.integers(0, size - width + 1))
        y = int(rng.integers(0, size - height + 1))
        if x + width <= avoid[0] or x >= avoid[2] or y + height <= avoid[1] or y >= avoid[3]:
            return x, y
    return None


def cut_paste(image: NDArray[np.uint8], *, source_box: Box, rng: np.random.Generator) -> Edit | None:
    """Copy the ``source_box`` patch elsewhere (not overlapping it). None if no place fits or nothing changed."""
    size = image.shape[0]
    x1, y1, x2, y2 = (int(v) for v in source_box)
    patch = image[y1:y2, x1:x2].copy()
    place = _destination(rng, size=size, patch=(patch.shape[0], patch.shape[1]), avoid=source_box)
    if place is None:
        return None
    x, y = place
    result = image.copy()
    result[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
    changed = np.any(result != image, axis=-1)
    return Edit(result, changed, "cut_paste", place) if changed.any() else None


def transplant(image: NDArray[np.uint8], *, donor: NDArray[np.uint8], donor_mask: NDArray[np.bool_],
               rng: np.random.Generator, feather: float = 1.5, avoid: Box | None = None) -> Edit | None:
    """Blend the donor's masked structure into ``image`` at a random place (feathered edges)."""
    rows, cols = np.nonzero(donor_mask)
    if rows.size == 0:
        return None
    margin = int(np.ceil(3 * feather))
    y1, y2 = max(rows.min() - margin, 0), min(rows.max() + 1 + margin, donor.shape[0])
    x1, x2 = max(cols.min() - margin, 0), min(cols.max() + 1 + margin, donor.shape[1])
    patch = donor[y1:y2, x1:x2].astype(np.float64)
    alpha = ndimage.gaussian_filter(donor_mask[y1:y2, x1:x2].astype(np.float64), sigma=feather)[..., None]
    size = image.shape[0]
    place = _destination(rng, size=size, patch=(patch.shape[0], patch.shape[1]),
                         avoid=avoid or (0.0, 0.0, 0.0, 0.0))
    if place is None:
        return None
    x, y = place
    result = image.copy()
    region = result[y:y + patch.shape[0], x:x + patch.shape[1]].astype(np.float64)
    result[y:y + patch.shape[0], x:x + patch.shape[1]] = np.clip(
        np.rint(alpha * patch + (1 - alpha) * region), 0, 255).astype(np.uint8)
    changed = np.any(result != image, axis=-1)
    return Edit(result, changed, "transplant", place) if changed.any() else None
