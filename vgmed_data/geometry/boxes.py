"""Boxes: the one internal format, named external formats, explicit conversions, IoU.

Internal format (``BoxFormat.XYXY``): pixel ``[x1, y1, x2, y2]``, float, origin at the top-left corner of the
top-left pixel, x2/y2 exclusive (a 1-pixel region at column 5, row 7 is ``[5, 7, 6, 8]``), in the frame of the
image as stored in the dataset.

Every other convention is a named :class:`BoxFormat`. :func:`convert_boxes` names both ends and the image size;
nothing here guesses a scale from the values.

| name           | meaning                                                                              |
|----------------|--------------------------------------------------------------------------------------|
| ``xyxy``       | pixel corners, x2/y2 exclusive (internal)                                            |
| ``xywh``       | pixel top-left corner + width, height (COCO, SLAKE)                                  |
| ``cxcywh``     | pixel centre + width, height                                                         |
| ``xyxy_norm``  | corners divided by (width, height): [0, 1]                                           |
| ``cxcywh_norm``| centre + size divided by (width, height) (YOLO)                                      |
| ``xyxy_1000``  | corners on an integer grid: ``round(v / size * 1000)`` (Qwen2-VL, Qwen3-VL)           |
| ``yxyx_1000``  | ``[y1, x1, y2, x2]`` on the same integer grid (Gemini)                               |
| ``ls_percent`` | Label Studio ``[x, y, width, height]`` in percent of the image (rotation 0)          |
| ``input_xyxy`` | pixel xyxy on a model's input after a resize/pad transform (Qwen2.5-VL); needs ``transform`` |
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vgmed_data.errors import GeometryError, InvalidInputError

if TYPE_CHECKING:
    from vgmed_data.geometry.transforms import Transform


class BoxFormat(str, Enum):
    XYXY = "xyxy"
    XYWH = "xywh"
    CXCYWH = "cxcywh"
    XYXY_NORM = "xyxy_norm"
    CXCYWH_NORM = "cxcywh_norm"
    XYXY_1000 = "xyxy_1000"
    YXYX_1000 = "yxyx_1000"
    LS_PERCENT = "ls_percent"
    INPUT_XYXY = "input_xyxy"

    @classmethod
    def parse(cls, value: "BoxFormat | str") -> "BoxFormat":
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            names = ", ".join(member.value for member in cls)
            raise InvalidInputError(
                f"unknown box format {value!r}", fix=f"use one of: {names}"
            ) from None


GRID = 1000.0


def as_boxes(boxes: ArrayLike) -> NDArray[np.float64]:
    """``boxes`` as a float64 array of shape (n, 4); accepts one box or a list of boxes."""
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 4)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != 4:
        raise GeometryError(f"boxes must have shape (n, 4), got {array.shape}", fix="pass [x1, y1, x2, y2] rows")
    if not np.all(np.isfinite(array)):
        raise GeometryError("boxes contain NaN or infinite values", fix="drop or repair the non-finite boxes")
    return array


def _size(image_size: Sequence[float] | None, fmt: BoxFormat) -> tuple[float, float]:
    if image_size is None:
        raise InvalidInputError(f"converting {fmt.value} boxes needs image_size=(width, height)")
    width, height = (float(v) for v in image_size)
    if width <= 0 or height <= 0:
        raise GeometryError(f"image_size must be positive, got {(width, height)}")
    return width, height


_NEEDS_SIZE = {
    BoxFormat.XYXY_NORM, BoxFormat.CXCYWH_NORM, BoxFormat.XYXY_1000, BoxFormat.YXYX_1000, BoxFormat.LS_PERCENT
}


def _to_xyxy(b: NDArray[np.float64], fmt: BoxFormat, size: tuple[float, float] | None,
             transform: "Transform | None") -> NDArray[np.float64]:
    x, y, c, d = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    if fmt is BoxFormat.INPUT_XYXY:
        assert transform is not None
        return transform.inverse_boxes(b)
    if fmt is BoxFormat.XYXY:
        out = b.copy()
    elif fmt is BoxFormat.XYWH:
        out = np.stack([x, y, x + c, y + d], axis=1)
    elif fmt is BoxFormat.CXCYWH:
        out = np.stack([x - c / 2, y - d / 2, x + c / 2, y + d / 2], axis=1)
    else:
        assert size is not None
        w, h = size
        if fmt is BoxFormat.XYXY_NORM:
            out = np.stack([x * w, y * h, c * w, d * h], axis=1)
        elif fmt is BoxFormat.CXCYWH_NORM:
            out = np.stack([(x - c / 2) * w, (y - d / 2) * h, (x + c / 2) * w, (y + d / 2) * h], axis=1)
        elif fmt is BoxFormat.XYXY_1000:
            out = np.stack([x * w / GRID, y * h / GRID, c * w / GRID, d * h / GRID], axis=1)
        elif fmt is BoxFormat.YXYX_1000:
            out = np.stack([y * w / GRID, x * h / GRID, d * w / GRID, c * h / GRID], axis=1)
        elif fmt is BoxFormat.LS_PERCENT:
            out = np.stack([x * w / 100, y * h / 100, (x + c) * w / 100, (y + d) * h / 100], axis=1)
        else:  # pragma: no cover
            raise AssertionError(fmt)
    return out


def _from_xyxy(b: NDArray[np.float64], fmt: BoxFormat, size: tuple[float, float] | None,
               transform: "Transform | None") -> NDArray[np.float64]:
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    if fmt is BoxFormat.XYXY:
        return b.copy()
    if fmt is BoxFormat.XYWH:
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    if fmt is BoxFormat.CXCYWH:
        return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)
    if fmt is BoxFormat.INPUT_XYXY:
        assert transform is not None
        return transform.apply_boxes(b)
    assert size is not None
    w, h = size
    if fmt is BoxFormat.XYXY_NORM:
        return np.stack([x1 / w, y1 / h, x2 / w, y2 / h], axis=1)
    if fmt is BoxFormat.CXCYWH_NORM:
        return np.stack([(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h], axis=1)
    if fmt is BoxFormat.XYXY_1000:
        return np.clip(np.rint(np.stack([x1 / w, y1 / h, x2 / w, y2 / h], axis=1) * GRID), 0, GRID)
    if fmt is BoxFormat.YXYX_1000:
        return np.clip(np.rint(np.stack([y1 / h, x1 / w, y2 / h, x2 / w], axis=1) * GRID), 0, GRID)
    if fmt is BoxFormat.LS_PERCENT:
        return np.stack([x1 / w * 100, y1 / h * 100, (x2 - x1) / w * 100, (y2 - y1) / h * 100], axis=1)
    raise AssertionError(fmt)  # pragma: no cover


def convert_boxes(
    boxes: ArrayLike,
    *,
    src: BoxFormat | str,
    dst: BoxFormat | str,
    image_size: Sequence[float] | None,
    transform: "Transform | None" = None,
) -> NDArray[np.float64]:
    """Convert boxes between two named formats.

    ``image_size`` is ``(width, height)`` of the stored image (the internal frame). ``input_xyxy`` (absolute
    pixels on a model's resized/padded input) also needs ``transform``: the :class:`Transform` from the stored
    image to the model input. Returns a float64 array of shape (n, 4). Integer-grid formats (``*_1000``) are
    rounded to integers on the way out.
    """
    src_fmt, dst_fmt = BoxFormat.parse(src), BoxFormat.parse(dst)
    array = as_boxes(boxes)
    needs_transform = BoxFormat.INPUT_XYXY in (src_fmt, dst_fmt)
    if needs_transform and transform is None:
        raise InvalidInputError(
            "the input_xyxy format needs transform=", fix="pass the Transform the model applied to the image"
        )
    if needs_transform and transform is not None and image_size is not None:
        if tuple(float(v) for v in transform.src_size) != tuple(float(v) for v in image_size):
            raise GeometryError(
                f"transform starts at size {transform.src_size}, but image_size is {tuple(image_size)}",
                fix="build the transform from the stored image's size",
            )
    size = None
    if src_fmt in _NEEDS_SIZE or dst_fmt in _NEEDS_SIZE:
        size = _size(image_size, src_fmt if src_fmt in _NEEDS_SIZE else dst_fmt)
    if src_fmt is dst_fmt:
        return array.copy()
    return _from_xyxy(_to_xyxy(array, src_fmt, size, transform), dst_fmt, size, transform)


def validate_boxes(
    boxes: ArrayLike, *, image_size: Sequence[float], record: str | None = None, allow_empty: bool = False
) -> NDArray[np.float64]:
    """Check internal xyxy boxes: x2 > x1, y2 > y1 and inside ``[0, width] x [0, height]``.

    Raises :class:`GeometryError` naming the record and the first offending box.
    """
    array = as_boxes(boxes)
    width, height = (float(v) for v in image_size)
    for index, (x1, y1, x2, y2) in enumerate(array):
        if x2 < x1 or y2 < y1 or (not allow_empty and (x2 == x1 or y2 == y1)):
            raise GeometryError(
                f"box {index} {[x1, y1, x2, y2]} has x2 <= x1 or y2 <= y1",
                record=record, fix="write boxes as pixel [x1, y1, x2, y2] with x2 > x1 and y2 > y1",
            )
        if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            raise GeometryError(
                f"box {index} {[x1, y1, x2, y2]} lies outside the {width:g}x{height:g} image",
                record=record, fix="clip the box to the image, or check its coordinate format",
            )
    return array


def clip_boxes(boxes: ArrayLike, *, image_size: Sequence[float]) -> NDArray[np.float64]:
    array = as_boxes(boxes)
    width, height = (float(v) for v in image_size)
    return np.stack(
        [np.clip(array[:, 0], 0, width), np.clip(array[:, 1], 0, height),
         np.clip(array[:, 2], 0, width), np.clip(array[:, 3], 0, height)], axis=1
    ) if len(array) else array


def box_area(boxes: ArrayLike) -> NDArray[np.float64]:
    """Areas of xyxy boxes; inverted boxes have area 0."""
    array = as_boxes(boxes)
    return np.clip(array[:, 2] - array[:, 0], 0, None) * np.clip(array[:, 3] - array[:, 1], 0, None)


def box_iou(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Pairwise IoU matrix (len(a), len(b)) of xyxy boxes.

    Zero-area or inverted boxes have IoU 0 with everything (never a division by zero).
    """
    boxes_a, boxes_b = as_boxes(a), as_boxes(b)
    area_a, area_b = box_area(boxes_a), box_area(boxes_b)
    left = np.maximum(boxes_a[:, None, 0], boxes_b[None, :, 0])
    top = np.maximum(boxes_a[:, None, 1], boxes_b[None, :, 1])
    right = np.minimum(boxes_a[:, None, 2], boxes_b[None, :, 2])
    bottom = np.minimum(boxes_a[:, None, 3], boxes_b[None, :, 3])
    intersection = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = area_a[:, None] + area_b[None, :] - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)
    valid = (area_a[:, None] > 0) & (area_b[None, :] > 0)
    return np.clip(np.where(valid, iou, 0.0), 0.0, 1.0)


def union_box(boxes: ArrayLike) -> NDArray[np.float64]:
    """The smallest xyxy box containing all ``boxes`` (shape (4,))."""
    array = as_boxes(boxes)
    if len(array) == 0:
        raise GeometryError("union of no boxes", fix="pass at least one box")
    return np.array([array[:, 0].min(), array[:, 1].min(), array[:, 2].max(), array[:, 3].max()])


_TEXT_DECIMALS = {BoxFormat.XYXY_NORM: 3, BoxFormat.CXCYWH_NORM: 3, BoxFormat.LS_PERCENT: 2}


def box_text(
    box: ArrayLike,
    *,
    fmt: BoxFormat | str,
    image_size: Sequence[float] | None,
    transform: "Transform | None" = None,
) -> str:
    """One internal xyxy box written for a question or prompt in the named format: ``[a, b, c, d]``.

    Pixel formats keep up to 2 decimals (``12`` or ``12.5``), normalised formats 3, grid formats integers.
    Builders and prompt writers share this so a reference box written in a question can be found and
    re-expressed in another model's convention.
    """
    dst = BoxFormat.parse(fmt)
    values = convert_boxes(box, src=BoxFormat.XYXY, dst=dst, image_size=image_size, transform=transform)[0]
    decimals = _TEXT_DECIMALS.get(dst, 2)
    parts = []
    for value in values:
        rounded = round(float(value), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
        parts.append(f"{rounded:.{decimals}f}" if dst in _TEXT_DECIMALS else f"{rounded:g}")
    return "[" + ", ".join(parts) + "]"


PIXEL_XYXY_NAME = "pixel x1, y1, x2, y2"


def reference_phrase(box: ArrayLike, *, image_size: Sequence[float]) -> str:
    """A reference box as the sequence builders write it into a question: ``[x1, y1, x2, y2] (pixel x1, y1, x2,
    y2)``. The box prompts (``vgmed_data.eval.boxes.prompts``) find exactly this phrase and re-express the box in
    the model's own convention."""
    return f"{box_text(box, fmt=BoxFormat.XYXY, image_size=image_size)} ({PIXEL_XYXY_NAME})"
