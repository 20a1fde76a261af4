"""Image transforms that carry regions along: crop, pad, resize, pad-to-square.

All of them are axis-aligned affine maps ``x' = sx * x + tx``, ``y' = sy * y + ty`` in the continuous pixel-edge
frame (origin at the top-left corner of the top-left pixel). A :class:`Transform` is a chain of steps from a
source size to a destination size; it applies to images (PIL), masks (nearest neighbour), boxes and polygons,
inverts boxes exactly, and serialises to JSON so a dataset can store how each image was made.

A model adapter describes "the stored image as the model saw it" with one of these (resize to 336, smart resize
to multiples of 28, pad to square then resize...), which is what ``input_xyxy`` boxes are relative to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image

from vgmed_data.errors import GeometryError
from vgmed_data.geometry.boxes import as_boxes

StepKind = Literal["crop", "pad", "resize"]


@dataclass(frozen=True)
class Step:
    """One step. ``crop``: box (x0, y0, x1, y1) in integer pixels; ``pad``: (left, top, right, bottom) with
    ``fill``; ``resize``: target (width, height)."""

    kind: StepKind
    values: tuple[int, ...]
    fill: int | tuple[int, ...] = 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "values": list(self.values), "fill": self.fill}


@dataclass(frozen=True)
class Transform:
    """A chain of steps from ``src_size`` (width, height) to ``dst_size``."""

    src_size: tuple[int, int]
    steps: tuple[Step, ...] = field(default_factory=tuple)

    # ---- construction -------------------------------------------------------------------------------
    @classmethod
    def identity(cls, size: Sequence[int]) -> "Transform":
        width, height = (int(v) for v in size)
        if width <= 0 or height <= 0:
            raise GeometryError(f"image size must be positive, got {(width, height)}")
        return cls((width, height))

    def crop(self, box: Sequence[int]) -> "Transform":
        x0, y0, x1, y1 = (int(v) for v in box)
        width, height = self.dst_size
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise GeometryError(f"crop {list(box)} is not inside the {width}x{height} image",
                                fix="pass integer [x0, y0, x1, y1] with x0 < x1 <= width, y0 < y1 <= height")
        return Transform(self.src_size, self.steps + (Step("crop", (x0, y0, x1, y1)),))

    def pad(self, left: int, top: int, right: int, bottom: int, *, fill: int | tuple[int, ...] = 0) -> "Transform":
        values = (int(left), int(top), int(right), int(bottom))
        if min(values) < 0:
            raise GeometryError(f"padding must be >= 0, got {values}")
        return Transform(self.src_size, self.steps + (Step("pad", values, fill),))

    def resize(self, width: int, height: int) -> "Transform":
        if int(width) <= 0 or int(height) <= 0:
            raise GeometryError(f"resize target must be positive, got {(width, height)}")
        return Transform(self.src_size, self.steps + (Step("resize", (int(width), int(height))),))

    def pad_to_square(self, *, fill: int | tuple[int, ...] = 0) -> "Transform":
        """Pad the shorter side, centred (extra pixel on the right/bottom), as LLaVA-style ``expand2square``."""
        width, height = self.dst_size
        side = max(width, height)
        left, top = (side - width) // 2, (side - height) // 2
        return self.pad(left, top, side - width - left, side - height - top, fill=fill)

    # ---- geometry -----------------------------------------------------------------------------------
    @property
    def dst_size(self) -> tuple[int, int]:
        width, height = self.src_size
        for step in self.steps:
            if step.kind == "crop":
                x0, y0, x1, y1 = step.values
                width, height = x1 - x0, y1 - y0
            elif step.kind == "pad":
                left, top, right, bottom = step.values
                width, height = width + left + right, height + top + bottom
            else:
                width, height = step.values
        return width, height

    @property
    def affine(self) -> tuple[float, float, float, float]:
        """``(sx, sy, tx, ty)`` with ``x' = sx * x + tx`` and ``y' = sy * y + ty``."""
        sx = sy = 1.0
        tx = ty = 0.0
        width, height = self.src_size
        for step in self.steps:
            if step.kind == "crop":
                x0, y0, x1, y1 = step.values
                tx, ty = tx - x0, ty - y0
                width, height = x1 - x0, y1 - y0
            elif step.kind == "pad":
                left, top, right, bottom = step.values
                tx, ty = tx + left, ty + top
                width, height = width + left + right, height + top + bottom
            else:
                new_w, new_h = step.values
                fx, fy = new_w / width, new_h / height
                sx, sy, tx, ty = sx * fx, sy * fy, tx * fx, ty * fy
                width, height = new_w, new_h
        return sx, sy, tx, ty

    def apply_points(self, points: ArrayLike) -> NDArray[np.float64]:
        array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        sx, sy, tx, ty = self.affine
        return np.stack([array[:, 0] * sx + tx, array[:, 1] * sy + ty], axis=1)

    def inverse_points(self, points: ArrayLike) -> NDArray[np.float64]:
        array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        sx, sy, tx, ty = self.affine
        return np.stack([(array[:, 0] - tx) / sx, (array[:, 1] - ty) / sy], axis=1)

    def apply_boxes(self, boxes: ArrayLike) -> NDArray[np.float64]:
        """Boxes (xyxy, source frame) -> destination frame. Not clipped: a crop can move boxes outside."""
        array = as_boxes(boxes)
        return self.apply_points(array.reshape(-1, 2)).reshape(-1, 4)

    def inverse_boxes(self, boxes: ArrayLike) -> NDArray[np.float64]:
        """Boxes on the destination (e.g. a model's input) -> the source (stored image) frame."""
        array = as_boxes(boxes)
        return self.inverse_points(array.reshape(-1, 2)).reshape(-1, 4)

    # ---- pixels ------------------------------------------------------------------------------------
    def apply_image(self, image: Image.Image, *, resample: Image.Resampling = Image.Resampling.BICUBIC) -> Image.Image:
        if image.size != self.src_size:
            raise GeometryError(f"transform expects a {self.src_size} image, got {image.size}")
        for step in self.steps:
            if step.kind == "crop":
                left, top, right, bottom = step.values
                image = image.crop((left, top, right, bottom))
            elif step.kind == "pad":
                left, top, right, bottom = step.values
                canvas = Image.new(image.mode, (image.width + left + right, image.height + top + bottom),
                                   _fill_for(image.mode, step.fill))
                canvas.paste(image, (left, top))
                image = canvas
            else:
                width, height = step.values
                image = image.resize((width, height), resample=resample)
        return image

    def apply_mask(self, mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Masks go through the same steps with nearest-neighbour resampling and zero padding."""
        image = Image.fromarray(np.asarray(mask, dtype=np.uint8) * 255, mode="L")
        plain = Transform(self.src_size, tuple(Step(s.kind, s.values, 0) for s in self.steps))
        return np.asarray(plain.apply_image(image, resample=Image.Resampling.NEAREST)) > 127

    # ---- storage -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"src_size": list(self.src_size), "steps": [s.to_dict() for s in self.steps],
                "dst_size": list(self.dst_size)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Transform":
        fill_of = lambda f: tuple(f) if isinstance(f, list) else f  # noqa: E731
        steps = tuple(Step(s["kind"], tuple(int(v) for v in s["values"]), fill_of(s.get("fill", 0)))
                      for s in data["steps"])
        return cls((int(data["src_size"][0]), int(data["src_size"][1])), steps)

    @classmethod
    def from_json(cls, text: str) -> "Transform":
        return cls.from_dict(json.loads(text))


def _fill_for(mode: str, fill: int | tuple[int, ...]) -> int | tuple[int, ...]:
    bands = Image.getmodebands(mode)
    if isinstance(fill, tuple):
        return fill if len(fill) == bands else fill[0]
    return fill if bands == 1 else (fill,) * bands
