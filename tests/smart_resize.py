"""The tests' own transcription of qwen_vl_utils' ``smart_resize`` (0.0.14): the frame a Qwen-VL pipeline
resizes an image to, as (width, height), written from the published function, not from our code."""

from __future__ import annotations

import math


def smart_resize(width: int, height: int, *, factor: int, low: int, high: int) -> tuple[int, int]:
    """Sides rounded to multiples of ``factor``, the area brought within [``low``, ``high``] pixels."""
    h, w = max(factor, round(height / factor) * factor), max(factor, round(width / factor) * factor)
    if h * w > high:
        beta = math.sqrt(height * width / high)
        h, w = math.floor(height / beta / factor) * factor, math.floor(width / beta / factor) * factor
    elif h * w < low:
        beta = math.sqrt(low / (height * width))
        h, w = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return w, h
