"""Polygons and masks: validity repair, rasterisation, mask -> boxes and mask -> polygons, mask IoU/Dice.

Pixel model: pixel (row r, column c) is the unit square ``[c, c+1) x [r, r+1)``. A polygon rasterises to the
pixels whose centre ``(c + 0.5, r + 0.5)`` lies inside it. A mask becomes polygons made exactly of its pixel
squares, so ``rasterize(mask_to_polygons(m)) == m`` for any mask.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from vgmed_data.errors import GeometryError, SkipReason


@dataclass(frozen=True)
class RepairReport:
    """What :func:`make_polygon` did to an invalid polygon (``repaired`` False when nothing was needed)."""

    repaired: bool
    reason: str
    area_before: float
    area_after: float


def make_polygon(
    points: ArrayLike, *, record: str | None = None
) -> tuple[Polygon | MultiPolygon, RepairReport]:
    """A valid polygon from ``[[x, y], ...]`` (pixel frame), repairing self-intersections with ``make_valid``.

    Returns the geometry and a report saying whether and why it was repaired; raises :class:`GeometryError` for
    fewer than 3 points, non-finite values or an empty result.
    """
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) < 3:
        raise GeometryError(f"a polygon needs at least 3 [x, y] points, got shape {array.shape}",
                            record=record, fix="pass [[x, y], [x, y], [x, y], ...]")
    if not np.all(np.isfinite(array)):
        raise GeometryError("polygon has non-finite coordinates", record=record)
    polygon = Polygon(array)
    area_before = float(abs(polygon.area))
    if polygon.is_valid:
        return polygon, RepairReport(False, "", area_before, area_before)
    reason = shapely.is_valid_reason(polygon)
    fixed = shapely.make_valid(polygon)
    parts = [g for g in getattr(fixed, "geoms", [fixed]) if isinstance(g, (Polygon, MultiPolygon)) and g.area > 0]
    if not parts:
        raise GeometryError(f"polygon is invalid ({reason}) and has no area after repair", record=record,
                            fix="redraw the polygon without collapsing edges")
    geometry = shapely.unary_union(parts)
    if not isinstance(geometry, (Polygon, MultiPolygon)):  # pragma: no cover - unary_union of polygons
        raise GeometryError(f"polygon repair produced {geometry.geom_type}", record=record)
    return geometry, RepairReport(True, reason, area_before, float(geometry.area))


def rasterize(geometry: BaseGeometry, *, image_size: Sequence[int]) -> NDArray[np.bool_]:
    """Boolean mask (height, width): pixels whose centre lies inside ``geometry``."""
    width, height = (int(v) for v in image_size)
    mask = np.zeros((height, width), dtype=bool)
    if geometry.is_empty:
        return mask
    x0, y0, x1, y1 = geometry.bounds
    c0, r0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    c1, r1 = min(int(np.ceil(x1)), width), min(int(np.ceil(y1)), height)
    if c1 <= c0 or r1 <= r0:
        return mask
    cols, rows = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
    inside = shapely.contains_xy(geometry, cols + 0.5, rows + 0.5)
    mask[r0:r1, c0:c1] = inside
    return mask


def label_components(mask: ArrayLike) -> tuple[NDArray[np.int32], int]:
    """8-connected components of a 2D (or 3D: 26-connected) boolean mask."""
    array = np.asarray(mask, dtype=bool)
    structure = np.ones((3,) * array.ndim, dtype=bool)
    labels, count = ndimage.label(array, structure=structure)
    return labels.astype(np.int32), int(count)


def mask_to_boxes(
    mask: ArrayLike,
    *,
    min_pixels: int = 1,
    min_size_mm: float | None = None,
    pixel_spacing_mm: Sequence[float] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """One xyxy box per 8-connected component of ``mask``, largest first.

    Components with fewer than ``min_pixels`` pixels, or (when both ``min_size_mm`` and ``pixel_spacing_mm``
    = (x, y) are given) whose larger side is under ``min_size_mm``, are dropped. Returns ``(boxes, pixel_counts)``.
    """
    array = np.asarray(mask, dtype=bool)
    if array.ndim != 2:
        raise GeometryError(f"mask_to_boxes needs a 2D mask, got shape {array.shape}")
    labels, count = label_components(array)
    if count == 0:
        return np.zeros((0, 4)), np.zeros((0,), dtype=np.int64)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    slices = ndimage.find_objects(labels)
    boxes, kept = [], []
    for index, region in enumerate(slices):
        if region is None or sizes[index] < min_pixels:
            continue
        rows, cols = region
        b = [float(cols.start), float(rows.start), float(cols.stop), float(rows.stop)]
        if min_size_mm is not None and pixel_spacing_mm is not None:
            sx, sy = (float(v) for v in pixel_spacing_mm)
            if max((b[2] - b[0]) * sx, (b[3] - b[1]) * sy) < min_size_mm:
                continue
        boxes.append(b)
        kept.append(int(sizes[index]))
    order = sorted(range(len(boxes)), key=lambda i: (-kept[i], boxes[i]))
    return (np.array([boxes[i] for i in order], dtype=np.float64).reshape(-1, 4),
            np.array([kept[i] for i in order], dtype=np.int64))


def mask_to_polygons(mask: ArrayLike) -> list[Polygon]:
    """Exact pixel-boundary polygons, one per 8-connected component (holes kept), largest first."""
    array = np.asarray(mask, dtype=bool)
    labels, count = label_components(array)
    polygons: list[Polygon] = []
    for component in range(1, count + 1):
        squares: list[Polygon] = []
        rows, cols = np.nonzero(labels == component)
        for row in np.unique(rows):
            columns = np.sort(cols[rows == row])
            breaks = np.nonzero(np.diff(columns) > 1)[0]
            starts = np.concatenate([[columns[0]], columns[breaks + 1]])
            stops = np.concatenate([columns[breaks], [columns[-1]]]) + 1
            squares.extend(box(float(a), float(row), float(b), float(row) + 1) for a, b in zip(starts, stops))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            merged = shapely.unary_union(squares)
        # Diagonal-only contacts make a MultiPolygon of one component; keep its parts.
        polygons.extend(getattr(merged, "geoms", [merged]))
    return sorted(polygons, key=lambda p: -p.area)


def check_mask(mask: ArrayLike, *, record: str | None = None, path: str | None = None) -> NDArray[np.bool_]:
    """A 2D boolean mask that is not empty, else :class:`GeometryError` naming the record."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise GeometryError(f"mask must be 2D, got shape {array.shape}", record=record, path=path)
    array = array.astype(bool)
    if not array.any():
        raise GeometryError("mask is empty (no foreground pixel)", record=record, path=path,
                            fix="drop this region, or run the builder with --on-bad skip to count it in the report",
                            reason=SkipReason.EMPTY_MASK)
    return array


def mask_iou(a: ArrayLike, b: ArrayLike, *, empty: float = 1.0) -> float:
    """IoU of two boolean masks; ``empty`` is returned when both are empty (they agree: nothing)."""
    first, second = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if first.shape != second.shape:
        raise GeometryError(f"mask shapes differ: {first.shape} vs {second.shape}")
    union = int(np.logical_or(first, second).sum())
    return empty if union == 0 else float(np.logical_and(first, second).sum()) / union


def mask_dice(a: ArrayLike, b: ArrayLike, *, empty: float = 1.0) -> float:
    """Dice of two boolean masks; ``empty`` when both are empty."""
    first, second = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if first.shape != second.shape:
        raise GeometryError(f"mask shapes differ: {first.shape} vs {second.shape}")
    total = int(first.sum() + second.sum())
    return empty if total == 0 else 2.0 * float(np.logical_and(first, second).sum()) / total
