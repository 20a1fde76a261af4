"""Preview images: boxes (and optionally a mask) drawn over a dataset image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image, ImageDraw

from vgmed_data.geometry.boxes import as_boxes

COLORS = ((255, 64, 64), (64, 200, 255), (255, 210, 0), (120, 255, 120), (255, 120, 255))


def draw_boxes(
    image: Image.Image,
    boxes: ArrayLike,
    *,
    labels: Sequence[str] = (),
    mask: ArrayLike | None = None,
    scale: int = 1,
    width: int = 2,
) -> Image.Image:
    """RGB copy of ``image`` (upscaled by ``scale`` with nearest neighbour) with internal xyxy ``boxes`` drawn as
    outlines on their pixel edges, labels above them, and an optional mask tinted in."""
    canvas = image.convert("RGB")
    if mask is not None:
        tint = np.asarray(canvas, dtype=np.float32)
        region = np.asarray(mask, dtype=bool)
        tint[region] = tint[region] * 0.6 + np.array(COLORS[0], dtype=np.float32) * 0.4
        canvas = Image.fromarray(tint.astype(np.uint8))
    if scale != 1:
        canvas = canvas.resize((canvas.width * scale, canvas.height * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(canvas)
    for index, (x1, y1, x2, y2) in enumerate(as_boxes(boxes)):
        color = COLORS[index % len(COLORS)]
        draw.rectangle([x1 * scale, y1 * scale, x2 * scale - 1, y2 * scale - 1], outline=color, width=width)
        if index < len(labels) and labels[index]:
            draw.text((x1 * scale + 2, max(y1 * scale - 12, 0)), labels[index], fill=color)
    return canvas
