"""How a model family turns a stored image into its input, as a :class:`~vgmed_data.geometry.Transform`.

A box a model prints lives on the model's input (absolute pixels for Qwen2.5-VL, a 0-1000 grid or 0-1 fractions
of the input for others). Mapping it back to the stored image is the inverse of this transform; nothing here
guesses it from the numbers.

* ``identity``: the image is used as stored (an API model, or a format that is relative to the whole image
  when the processor only rescales it).
* ``smart_resize``: Qwen-VL families. Both sides are rounded to multiples of ``factor`` (28 for Qwen2/2.5-VL,
  32 for Qwen3-VL); if the pixel count leaves ``[min_pixels, max_pixels]`` the image is scaled by
  ``sqrt(pixels / limit)`` first and rounded down (too large) or up (too small) to multiples of ``factor``.
* ``square_resize``: LLaVA-1.5 ``expand2square``: pad the short side, centred, then resize to ``size``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from vgmed_data.errors import GeometryError, InvalidInputError
from vgmed_data.geometry import Transform

PolicyKind = Literal["identity", "smart_resize", "square_resize"]
MAX_ASPECT = 200


def smart_resize(width: int, height: int, *, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """(width, height) of a Qwen-VL input for a ``width`` x ``height`` image (see the module docstring)."""
    if width <= 0 or height <= 0:
        raise GeometryError(f"image size must be positive, got {(width, height)}")
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise GeometryError(f"aspect ratio of {width}x{height} exceeds {MAX_ASPECT}, which Qwen-VL refuses",
                            fix="crop or pad the image before evaluating it")
    if min_pixels > max_pixels:
        raise InvalidInputError(f"min_pixels {min_pixels} exceeds max_pixels {max_pixels}")
    new_h = max(factor, round(height / factor) * factor)
    new_w = max(factor, round(width / factor) * factor)
    if new_h * new_w > max_pixels:
        scale = math.sqrt(height * width / max_pixels)
        new_h = max(factor, math.floor(height / scale / factor) * factor)
        new_w = max(factor, math.floor(width / scale / factor) * factor)
    elif new_h * new_w < min_pixels:
        scale = math.sqrt(min_pixels / (height * width))
        new_h = math.ceil(height * scale / factor) * factor
        new_w = math.ceil(width * scale / factor) * factor
    return new_w, new_h


@dataclass(frozen=True, kw_only=True)
class InputPolicy:
    """A family's input preprocessing, enough to rebuild the transform of any stored image size."""

    kind: PolicyKind
    factor: int = 28
    min_pixels: int = 56 * 56
    max_pixels: int = 16384 * 28 * 28
    size: int = 336

    def with_pixels(self, *, min_pixels: int | None = None, max_pixels: int | None = None) -> "InputPolicy":
        """The same policy with another pixel budget (the processor's ``min_pixels``/``max_pixels``)."""
        return replace(self, min_pixels=self.min_pixels if min_pixels is None else int(min_pixels),
                       max_pixels=self.max_pixels if max_pixels is None else int(max_pixels))

    def transform(self, image_size: tuple[int, int]) -> Transform:
        """The transform from a stored image of ``image_size`` = (width, height) to the model input."""
        width, height = (int(v) for v in image_size)
        base = Transform.identity((width, height))
        if self.kind == "identity":
            return base
        if self.kind == "smart_resize":
            new_w, new_h = smart_resize(width, height, factor=self.factor, min_pixels=self.min_pixels,
                                        max_pixels=self.max_pixels)
            return base if (new_w, new_h) == (width, height) else base.resize(new_w, new_h)
        squared = base.pad_to_square()
        side = squared.dst_size[0]
        return squared if side == self.size else squared.resize(self.size, self.size)

    def describe(self) -> str:
        if self.kind == "smart_resize":
            return (f"smart resize to multiples of {self.factor}, {self.min_pixels}..{self.max_pixels} pixels")
        if self.kind == "square_resize":
            return f"pad to square (centred), resize to {self.size}x{self.size}"
        return "image used as stored"
