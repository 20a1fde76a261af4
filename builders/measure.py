"""Measurements of a target's region on one view, from which attribute answers are computed.

Everything is geometry: pixel areas (and mm² when the pixel spacing is known), centroids, connected components
(after the minimum-size filter), shape descriptors of the largest component (circularity 4πA/P² on the pixel
boundary polygon simplified by one pixel, solidity = area / convex-hull area, elongation = ratio of the principal
axes' standard deviations). Box-only targets have no mask: area and centroid come from the union of boxes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

from scipy import ndimage

from vgmed_data.geometry import label_components, mask_to_boxes, mask_to_polygons


@dataclass(frozen=True, kw_only=True)
class Measurements:
    boxes: NDArray[np.float64]  # kept components, largest first (internal xyxy)
    area_px: float
    area_mm2: float | None
    centroid: tuple[float, float]  # (x, y) pixels
    components: int
    circularity: float | None
    solidity: float | None
    elongation: float | None
    image_size: tuple[int, int]

    def to_metadata(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("boxes")
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in data.items()
                if not isinstance(v, np.ndarray)}


def _shape(mask: NDArray[np.bool_]) -> tuple[float | None, float | None, float | None]:
    polygons = mask_to_polygons(mask)
    if not polygons:
        return None, None, None
    polygon = polygons[0]
    area = float(polygon.area)
    if area < 9:
        return None, None, None
    smooth = polygon.simplify(1.0, preserve_topology=True)
    perimeter = float(smooth.length) or 1.0
    circularity = min(1.0, 4 * math.pi * float(smooth.area) / perimeter ** 2)
    hull = float(polygon.convex_hull.area) or 1.0
    solidity = min(1.0, area / hull)
    rows, cols = np.nonzero(mask)
    if rows.size < 3:
        return circularity, solidity, None
    cov = np.cov(np.stack([cols, rows]).astype(np.float64))
    eigen = np.sort(np.linalg.eigvalsh(cov))
    elongation = float(math.sqrt(eigen[1] / eigen[0])) if eigen[0] > 1e-9 else float("inf")
    return circularity, solidity, elongation


def measure(*, mask: NDArray[np.bool_] | None, boxes: NDArray[np.float64] | None, image_size: tuple[int, int],
            spacing_mm: tuple[float, float] | None, min_pixels: int, min_size_mm: float | None) -> Measurements | None:
    """Measurements of a target, or ``None`` when nothing is left after the minimum-size filter."""
    if mask is not None:
        kept, _ = mask_to_boxes(mask, min_pixels=min_pixels, min_size_mm=min_size_mm, pixel_spacing_mm=spacing_mm)
        if len(kept) == 0:
            return None
        labels, _count = label_components(mask)
        ids_by_box: dict[tuple[int, int, int, int], list[int]] = {}
        for component, region in enumerate(ndimage.find_objects(labels), start=1):
            if region is not None:
                rows_, cols_ = region
                ids_by_box.setdefault((cols_.start, rows_.start, cols_.stop, rows_.stop), []).append(component)
        keep_ids = sorted({c for b in kept for c in ids_by_box[(int(b[0]), int(b[1]), int(b[2]), int(b[3]))]})
        keep = np.isin(labels, keep_ids)
        rows, cols = np.nonzero(keep)
        area = float(rows.size)
        centroid = (float(cols.mean()) + 0.5, float(rows.mean()) + 0.5)
        sizes = np.bincount(labels.ravel())
        largest = labels == max(keep_ids, key=lambda c: (sizes[c], -c))
        circularity, solidity, elongation = _shape(largest)
        out_boxes = kept
    else:
        assert boxes is not None
        out_boxes = boxes[np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable")]
        areas = (out_boxes[:, 2] - out_boxes[:, 0]) * (out_boxes[:, 3] - out_boxes[:, 1])
        area = float(areas.sum())
        cx = float(((out_boxes[:, 0] + out_boxes[:, 2]) / 2 * areas).sum() / areas.sum())
        cy = float(((out_boxes[:, 1] + out_boxes[:, 3]) / 2 * areas).sum() / areas.sum())
        centroid = (cx, cy)
        circularity = solidity = elongation = None
    area_mm2 = area * spacing_mm[0] * spacing_mm[1] if spacing_mm is not None else None
    return Measurements(boxes=out_boxes, area_px=area, area_mm2=area_mm2, centroid=centroid,
                        components=len(out_boxes), circularity=circularity, solidity=solidity,
                        elongation=elongation, image_size=image_size)

