"""Regions between the internal pixel frame and Label Studio results.

Label Studio stores region values in PERCENT of the image's original size, origin top-left, with
``original_width``/``original_height`` on every result. Rotated rectangles rotate about their top-left corner
(x, y), clockwise on screen, in pixel space (width is a percent of the image width, height of the image height).
Brush masks are Label Studio's RLE of the flattened H x W x 4 RGBA image; a pixel is painted when its alpha is
at least 128.

Internally a region is a :class:`Region`: kind, label, the xyxy bounding box in pixels (x2/y2 exclusive), the
outline for rectangles and polygons (pixel points; rotated rectangles become 4-point polygons) and the mask for
brush strokes. :meth:`Region.to_mask` rasterises any kind with the project's pixel-centre rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Polygon, box as shapely_box
from shapely.geometry.base import BaseGeometry

from vgmed_data.errors import GeometryError, InvalidInputError, require
from vgmed_data.geometry import BoxFormat, convert_boxes, make_polygon, rasterize

from vgmed_data.annotation import config

KINDS = ("rectangle", "polygon", "brush")
_TYPE_TO_KIND = {"rectanglelabels": "rectangle", "polygonlabels": "polygon", "brushlabels": "brush"}
_KIND_TO_CONTROL = {"rectangle": config.RECTANGLE, "polygon": config.POLYGON, "brush": config.BRUSH}
BRUSH_ALPHA_THRESHOLD = 128


class ResultSkipped(InvalidInputError):
    """One exported result cannot be converted; ``reason`` is the short key counted in the pull report."""

    def __init__(self, reason: str, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason  # after the base class, which sets its own default reason


@dataclass(frozen=True, kw_only=True)
class Region:
    kind: str
    label: str
    box: tuple[float, float, float, float]  # xyxy pixels
    image_size: tuple[int, int]  # (width, height)
    points: tuple[tuple[float, float], ...] = ()  # outline for rectangle/polygon kinds (pixels)
    mask: NDArray[np.bool_] | None = None  # brush only, shape (height, width)
    rotation: float = 0.0
    result_id: str = ""

    def geometry(self) -> BaseGeometry:
        if self.kind == "brush":
            raise GeometryError("a brush region has a mask, not an outline", fix="use Region.to_mask()")
        if self.kind == "rectangle" and self.rotation == 0:
            return shapely_box(*self.box)
        geometry, _ = make_polygon(self.points, record=self.result_id or None)
        return geometry

    def to_mask(self) -> NDArray[np.bool_]:
        if self.mask is not None:
            return self.mask
        return rasterize(self.geometry(), image_size=self.image_size)

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"kind": self.kind, "label": self.label, "box": list(self.box),
                                   "image_size": list(self.image_size), "rotation": self.rotation,
                                   "result_id": self.result_id}
        if self.points:
            payload["points"] = [list(p) for p in self.points]
        if self.mask is not None:
            payload["mask_runs"] = encode_runs(self.mask)
        return payload

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> "Region":
        size = (int(payload["image_size"][0]), int(payload["image_size"][1]))
        mask = decode_runs(payload["mask_runs"], size) if "mask_runs" in payload else None
        return cls(kind=payload["kind"], label=payload["label"], box=tuple(payload["box"]),
                   image_size=size, points=tuple(tuple(p) for p in payload.get("points", ())),
                   mask=mask, rotation=float(payload.get("rotation", 0.0)), result_id=payload.get("result_id", ""))


# --- a compact, exact mask encoding for pull files: run lengths of the flattened mask, starting with zeros ---

def encode_runs(mask: NDArray[np.bool_]) -> list[int]:
    flat = np.asarray(mask, dtype=bool).ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    return ([0] + runs) if flat.size and flat[0] else runs


def decode_runs(runs: Sequence[int], image_size: tuple[int, int]) -> NDArray[np.bool_]:
    width, height = image_size
    values = np.arange(len(runs)) % 2 == 1
    flat = np.repeat(values, np.asarray(runs, dtype=np.int64))
    if flat.size != width * height:
        raise GeometryError(f"mask runs cover {flat.size} pixels, expected {width}x{height}")
    return flat.reshape(height, width)


# --- internal -> Label Studio (predictions) ---

def _result(kind: str, label: str, value: dict[str, Any], *, image_size: tuple[int, int], result_id: str
            ) -> dict[str, Any]:
    control = _KIND_TO_CONTROL[kind]
    result_type = config.REGION_CONTROLS[control]
    return {"id": result_id, "from_name": control, "to_name": config.IMAGE, "type": result_type,
            "original_width": int(image_size[0]), "original_height": int(image_size[1]), "image_rotation": 0,
            "value": {**value, result_type: [label]}}


def rectangle_result(box: Sequence[float], *, label: str, image_size: tuple[int, int], result_id: str
                     ) -> dict[str, Any]:
    x, y, w, h = convert_boxes([box], src=BoxFormat.XYXY, dst=BoxFormat.LS_PERCENT, image_size=image_size)[0]
    return _result("rectangle", label, {"x": float(x), "y": float(y), "width": float(w), "height": float(h),
                                        "rotation": 0}, image_size=image_size, result_id=result_id)


def polygon_result(points: Sequence[Sequence[float]], *, label: str, image_size: tuple[int, int], result_id: str
                   ) -> dict[str, Any]:
    width, height = image_size
    percent = [[float(px) / width * 100.0, float(py) / height * 100.0] for px, py in points]
    return _result("polygon", label, {"points": percent, "closed": True}, image_size=image_size,
                   result_id=result_id)


def brush_result(mask: NDArray[np.bool_], *, label: str, result_id: str) -> dict[str, Any]:
    brush = require("label_studio_sdk.converter.brush", extra="annotation", purpose="encoding brush masks")
    array = np.asarray(mask, dtype=bool)
    rle = brush.mask2rle(array.astype(np.uint8) * 255)
    height, width = array.shape
    return _result("brush", label, {"format": "rle", "rle": [int(v) for v in rle]}, image_size=(width, height),
                   result_id=result_id)


# --- Label Studio (exported results) -> internal ---

def _original_size(result: Mapping[str, Any]) -> tuple[int, int]:
    width, height = result.get("original_width"), result.get("original_height")
    if not width or not height:
        raise ResultSkipped("no_original_size", f"result {result.get('id')!r} has no original_width/height",
                            fix="re-export with the full JSON format (other formats drop the size)")
    if result.get("image_rotation"):
        raise ResultSkipped("image_rotated", f"result {result.get('id')!r} was drawn on an image rotated by "
                            f"{result.get('image_rotation')} degrees", fix="rotate the image back and resubmit")
    return int(width), int(height)


def rotated_rectangle_corners(x: float, y: float, width: float, height: float, rotation_deg: float
                              ) -> list[tuple[float, float]]:
    """Pixel corners of a rectangle with top-left (x, y) rotated clockwise (on screen) about that corner."""
    theta = math.radians(rotation_deg)
    cos, sin = math.cos(theta), math.sin(theta)
    along = (width * cos, width * sin)
    down = (-height * sin, height * cos)
    return [(x, y), (x + along[0], y + along[1]), (x + along[0] + down[0], y + along[1] + down[1]),
            (x + down[0], y + down[1])]


def region_from_result(result: Mapping[str, Any], *, labels: Sequence[str] | None = None) -> Region:
    """One exported region result -> :class:`Region` in pixels. Raises :class:`ResultSkipped` with a reason."""
    kind = _TYPE_TO_KIND.get(str(result.get("type", "")).lower())
    if kind is None:
        raise ResultSkipped("not_a_region", f"result type {result.get('type')!r} is not a region")
    value = result.get("value") or {}
    names = value.get(str(result["type"]).lower()) or []
    if len(names) != 1:
        raise ResultSkipped("label_count", f"region {result.get('id')!r} has {len(names)} labels, expected 1")
    label = str(names[0])
    if labels is not None and label not in labels:
        raise ResultSkipped("label_not_in_config", f"region {result.get('id')!r} has label {label!r}, which is "
                            f"not in the project's configuration ({', '.join(labels)})",
                            fix="fix the label in Label Studio, or add it to the configuration")
    width, height = _original_size(result)
    result_id = str(result.get("id", ""))
    if kind == "rectangle":
        x, y = float(value["x"]) * width / 100.0, float(value["y"]) * height / 100.0
        w, h = float(value["width"]) * width / 100.0, float(value["height"]) * height / 100.0
        rotation = float(value.get("rotation") or 0.0) % 360.0
        if rotation == 0.0:
            return Region(kind=kind, label=label, box=(x, y, x + w, y + h), image_size=(width, height),
                          points=((x, y), (x + w, y), (x + w, y + h), (x, y + h)), result_id=result_id)
        corners = rotated_rectangle_corners(x, y, w, h, rotation)
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        return Region(kind=kind, label=label, box=(min(xs), min(ys), max(xs), max(ys)), image_size=(width, height),
                      points=tuple(corners), rotation=rotation, result_id=result_id)
    if kind == "polygon":
        points = [(float(px) * width / 100.0, float(py) * height / 100.0) for px, py in value.get("points", [])]
        if len(points) < 3:
            raise ResultSkipped("degenerate", f"polygon {result_id!r} has {len(points)} points")
        polygon = Polygon(points)
        x1, y1, x2, y2 = polygon.bounds
        return Region(kind=kind, label=label, box=(x1, y1, x2, y2), image_size=(width, height),
                      points=tuple(points), result_id=result_id)
    brush = require("label_studio_sdk.converter.brush", extra="annotation", purpose="decoding brush masks")
    if value.get("format", "rle") != "rle" or not value.get("rle"):
        raise ResultSkipped("brush_format", f"brush {result_id!r} is not in RLE format")
    decoded = np.asarray(brush.decode_rle(value["rle"]))
    if decoded.size != width * height * 4:
        raise ResultSkipped("brush_size", f"brush {result_id!r} decodes to {decoded.size} values, expected "
                            f"{width}x{height}x4")
    mask = decoded.reshape(height, width, 4)[:, :, 3] >= BRUSH_ALPHA_THRESHOLD
    if not mask.any():
        raise ResultSkipped("degenerate", f"brush {result_id!r} paints no pixel")
    rows, cols = np.nonzero(mask)
    return Region(kind=kind, label=label, box=(float(cols.min()), float(rows.min()), float(cols.max() + 1),
                                               float(rows.max() + 1)),
                  image_size=(width, height), mask=mask, result_id=result_id)


def region_to_result(region: Region, *, result_id: str) -> dict[str, Any]:
    """A pulled region back as a Label Studio result (rotated rectangles go back as polygons)."""
    if region.kind == "brush" and region.mask is not None:
        return brush_result(region.mask, label=region.label, result_id=result_id)
    if region.kind == "rectangle" and region.rotation == 0:
        return rectangle_result(region.box, label=region.label, image_size=region.image_size, result_id=result_id)
    return polygon_result(region.points, label=region.label, image_size=region.image_size, result_id=result_id)
