"""From a displayed slice to a sample image: physical aspect, pad to square, resize, and the red reference box.

Image size policy: the slice is first resized to its physical aspect (so a 5 mm-thick coronal slice is not
squashed), then padded to a square (centred, black) and resized to ``size`` (336 by default). The whole chain is
one :class:`~vgmed_data.geometry.Transform` stored with the image; masks go through it with nearest-neighbour
resampling, so boxes of transformed masks are whole pixels of the stored image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from vgmed_data.geometry import Transform

RED = (255, 0, 0)


@dataclass(frozen=True, kw_only=True)
class Frame:
    """One image of a sample: RGB pixels, the transform from its source slice, and where it came from."""

    pixels: NDArray[np.uint8]  # (size, size, 3)
    transform: Transform
    source: str
    source_id: str
    plane: str = ""
    slice_index: int | None = None
    image_origin: str = "nifti"
    label: str = ""  # e.g. the MRI sequence, for questions

    def with_pixels(self, pixels: NDArray[np.uint8], *, image_origin: str | None = None) -> "Frame":
        return replace(self, pixels=pixels, image_origin=image_origin or self.image_origin)

    def image(self) -> Image.Image:
        return Image.fromarray(self.pixels, mode="RGB")


def frame_transform(size_wh: tuple[int, int], *, spacing: tuple[float, float], size: int,
                    base: Transform | None = None) -> Transform:
    """Physical aspect -> pad to square -> ``size``. ``base`` (e.g. a crop) is continued when given."""
    transform = base if base is not None else Transform.identity(size_wh)
    width, height = transform.dst_size
    sx, sy = spacing
    if not np.isclose(sx, sy):
        unit = min(sx, sy)
        transform = transform.resize(max(1, round(width * sx / unit)), max(1, round(height * sy / unit)))
    transform = transform.pad_to_square()
    if transform.dst_size != (size, size):
        transform = transform.resize(size, size)
    return transform


def make_frame(gray: NDArray[np.uint8], *, spacing: tuple[float, float], size: int, source: str, source_id: str,
               plane: str = "", slice_index: int | None = None, image_origin: str = "nifti",
               base: Transform | None = None, label: str = "") -> Frame:
    """``gray`` is the full displayed slice; ``base`` may crop it first (its ``src_size`` is the slice's)."""
    height, width = gray.shape
    transform = frame_transform((width, height), spacing=spacing, size=size, base=base)
    image = transform.apply_image(Image.fromarray(np.ascontiguousarray(gray), mode="L")).convert("RGB")
    return Frame(pixels=np.asarray(image).copy(), transform=transform, source=source, source_id=source_id,
                 plane=plane, slice_index=slice_index, image_origin=image_origin, label=label)


def frame_mask(frame: Frame, mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    return frame.transform.apply_mask(mask)


def bbox(mask: NDArray[np.bool_]) -> tuple[float, float, float, float] | None:
    """Internal xyxy box of a 2D mask's pixels (x2/y2 exclusive), None when empty."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    return (float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1))


def draw_box(frame: Frame, box: Sequence[float], *, width: int) -> Frame:
    """The frame with ``box`` outlined in pure red, ``width`` pixels drawn inward from the box edges."""
    image = frame.image()
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    ImageDraw.Draw(image).rectangle([x1, y1, x2 - 1, y2 - 1], outline=RED, width=width)
    return frame.with_pixels(np.asarray(image).copy())
