"""Intensity windows: named presets, ``C,W`` strings, and the DICOM linear VOI function.

Rows record the window their image was rendered with (``Window.label()`` / ``DicomImage.window_label()``). Besides
presets and ``C,W``, a label may name a window derived from the data itself: ``file`` (the DICOM file's own VOI
window), ``voi_lut`` (its VOI LUT), ``min-max`` (the image's range) or ``pLOW-pHIGH`` (percentiles of the volume,
written by :func:`min_max_window`). :func:`derived_window` reads those, so a row's image can be rendered again
from the source byte for byte (``vgmed hydrate``).

The linear function follows DICOM PS3.3 C.11.2.1.2.1 (``VOI LUT Function`` LINEAR) with output range 0-255::

    x <= c - 0.5 - (w - 1) / 2  ->  0
    x >  c - 0.5 + (w - 1) / 2  ->  255
    else                        ->  ((x - (c - 0.5)) / (w - 1) + 0.5) * 255

rounded to the nearest integer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vgmed_data.errors import InvalidInputError


@dataclass(frozen=True)
class Window:
    center: float
    width: float
    name: str = ""

    def __post_init__(self) -> None:
        if not self.width >= 1:
            raise InvalidInputError(f"window width must be >= 1, got {self.width}")

    def label(self) -> str:
        return self.name or f"{self.center:g},{self.width:g}"


class WindowPreset(StrEnum):
    """The named windows ``--window`` and source entries accept (besides ``CENTER,WIDTH`` and derived labels)."""

    LUNG = "lung"
    MEDIASTINUM = "mediastinum"
    SOFT_TISSUE = "soft_tissue"
    ABDOMEN = "abdomen"
    LIVER = "liver"
    BONE = "bone"
    BRAIN = "brain"
    SUBDURAL = "subdural"
    STROKE = "stroke"


# Common radiology presets (centre, width) in Hounsfield units for CT; "brain" is also used for MR only when
# the user asks for it explicitly.
_CENTRE_WIDTH = {WindowPreset.LUNG: (-600, 1500), WindowPreset.MEDIASTINUM: (50, 350),
                 WindowPreset.SOFT_TISSUE: (40, 400), WindowPreset.ABDOMEN: (50, 400), WindowPreset.LIVER: (60, 160),
                 WindowPreset.BONE: (400, 1800), WindowPreset.BRAIN: (40, 80), WindowPreset.SUBDURAL: (75, 215),
                 WindowPreset.STROKE: (32, 8)}
PRESETS: dict[str, Window] = {preset.value: Window(centre, width, preset.value)
                              for preset, (centre, width) in _CENTRE_WIDTH.items()}


DERIVED_LABELS = ("file", "voi_lut", "min-max")
_PERCENTILE_LABEL = re.compile(r"p(?P<low>\d+(?:\.\d+)?)-p(?P<high>\d+(?:\.\d+)?)")


def derived_window(value: object) -> str | tuple[float, float] | None:
    """For a label naming a data-derived window: ``"file"``, ``"voi_lut"``, ``"min-max"``, or the (low, high)
    percentiles of a ``pLOW-pHIGH`` label; None for anything else (presets, ``C,W``, None)."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in DERIVED_LABELS:
        return text
    match = _PERCENTILE_LABEL.fullmatch(text)
    if match and float(match["low"]) < float(match["high"]) <= 100:
        return float(match["low"]), float(match["high"])
    return None


def parse_window(value: str | Window | tuple[float, float] | None) -> Window | None:
    """``None``, a preset name, ``"C,W"`` or a (center, width) pair -> :class:`Window`. Data-derived labels
    (:func:`derived_window`) have no values of their own: callers resolve them against the pixels."""
    if value is None or isinstance(value, Window):
        return value
    if isinstance(value, tuple):
        return Window(float(value[0]), float(value[1]))
    text = value.strip().lower()
    if text in PRESETS:
        return PRESETS[text]
    parts = text.split(",")
    if len(parts) == 2:
        try:
            return Window(float(parts[0]), float(parts[1]))
        except ValueError:
            pass
    raise InvalidInputError(
        f"unknown window {value!r}",
        fix=f"use a preset ({', '.join(PRESETS)}) or 'CENTER,WIDTH' such as '-600,1500'"
            + (" (data-derived windows such as 'file', 'min-max' or 'p0.5-p99.5' apply to DICOM, NIfTI and "
               "16-bit rasters only)" if derived_window(value) else ""),
    )


def apply_window(values: ArrayLike, window: Window) -> NDArray[np.uint8]:
    """DICOM linear VOI function to 8 bits (see module docstring)."""
    x = np.asarray(values, dtype=np.float64)
    c, w = window.center, window.width
    low, high = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
    if w == 1:
        out = np.where(x > high, 255.0, 0.0)
    else:
        out = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0
        out = np.where(x <= low, 0.0, np.where(x > high, 255.0, out))
    return np.clip(np.rint(np.nan_to_num(out, nan=0.0)), 0, 255).astype(np.uint8)  # NaN voxels shown black


def resolve_window(value: str | Window | tuple[float, float] | None, values: ArrayLike) -> Window | None:
    """:func:`parse_window`, with ``min-max`` and ``pLOW-pHIGH`` computed from ``values`` (the same function
    that wrote the label). ``file``/``voi_lut`` and None give None: only a DICOM knows its own window."""
    derived = derived_window(value)
    if derived == "min-max":
        return min_max_window(values)
    if isinstance(derived, tuple):
        return min_max_window(values, low_percentile=derived[0], high_percentile=derived[1])
    if derived is not None:
        return None
    return parse_window(value)


def min_max_window(values: ArrayLike, *, low_percentile: float = 0.0, high_percentile: float = 100.0) -> Window:
    """A window spanning the given percentiles of ``values`` (min-max by default)."""
    lo, hi = percentiles(values, (low_percentile, high_percentile))
    width = max(hi - lo, 1.0)
    return Window(lo + width / 2 + 0.5, width + 1, f"p{low_percentile:g}-p{high_percentile:g}")


def percentiles(values: ArrayLike, qs: tuple[float, ...]) -> list[float]:
    """``np.percentile`` (linear interpolation), computed from a histogram for integer data (exact, and much
    faster than sorting for medical volumes whose value range is small compared with their size)."""
    x = np.asarray(values)
    if x.dtype.kind not in "iub" or x.size == 0:
        return [float(v) for v in np.percentile(x.astype(np.float64), qs)]
    flat = x.ravel()
    lo, hi = int(flat.min()), int(flat.max())
    if hi - lo > 4 * flat.size + 65536:
        return [float(v) for v in np.percentile(flat, qs)]
    cumulative = np.cumsum(np.bincount((flat.astype(np.int64) - lo), minlength=hi - lo + 1))
    out = []
    for q in qs:
        position = q / 100 * (flat.size - 1)
        below, above = int(np.floor(position)), int(np.ceil(position))
        value_below = lo + int(np.searchsorted(cumulative, below + 1))
        value_above = lo + int(np.searchsorted(cumulative, above + 1))
        out.append(value_below + (position - below) * (value_above - value_below))
    return out
