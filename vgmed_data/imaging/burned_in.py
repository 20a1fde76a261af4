"""Burned-in annotation: text drawn into the pixels (names, dates, ids in a corner), which no header
de-identification removes.

Three levels (``--burned-in-check``):

* always, outside this module: BurnedInAnnotation = YES refuses the slice (:func:`vgmed_data.imaging.deid.phi_findings`);
* ``header`` (default): :func:`header_risks` marks a slice for review when its header says text is likely
  (ImageType SCREEN SAVE; Secondary Capture storage; modalities whose images usually carry text: US, SC, OT, XC,
  ES, GM, DOC);
* ``pixels``: also :func:`pixel_risks`, a look for lines of text-like connected components in the image border.

A slice marked for review is not published: the build withholds it and lists it in ``build_report.json``
(``review``) for a person to look at. The pixel check is a heuristic (a text line is >= 3 small, stroke-like
bright components side by side in the outer band of the image, where a CT or MR body rarely reaches); it finds
typical scanner overlays and misses text drawn over the anatomy or in low contrast.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

CHECKS = ("off", "header", "pixels")
TEXT_MODALITIES = ("US", "SC", "OT", "XC", "ES", "GM", "DOC")
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage and its multi-frame kinds
BORDER = 0.2  # outer fraction of each side searched for text
MIN_LINE = 3  # text-like components side by side that make a line


def header_risks(ds: Dataset) -> list[str]:
    """Why the header suggests burned-in text (empty when it does not)."""
    risks = []
    image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
    if "SCREEN SAVE" in image_type:
        risks.append("ImageType SCREEN SAVE")
    if str(ds.get("SOPClassUID", "")).startswith(SECONDARY_CAPTURE_PREFIX):
        risks.append("Secondary Capture image")
    modality = str(ds.get("Modality", "")).upper()
    if modality in TEXT_MODALITIES:
        risks.append(f"modality {modality} usually carries burned-in text")
    return risks


def _components(mask: NDArray[np.bool_]) -> list[tuple[int, int, int, int, int]]:
    """(top, left, bottom, right, pixels) of each 8-connected component (bottom/right exclusive)."""
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    boxes = ndimage.find_objects(labels)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    return [(b[0].start, b[1].start, b[0].stop, b[1].stop, int(sizes[i + 1])) for i, b in enumerate(boxes)]


def text_lines(image: NDArray[np.uint8], *, border: float = BORDER) -> list[int]:
    """Sizes of the lines of text-like components found in the border band of a displayed 8-bit image
    (grey, or RGB taken as its per-pixel maximum)."""
    grey = image.max(axis=2) if image.ndim == 3 else image
    height, width = grey.shape
    background = float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))
    bright = grey.astype(np.int16) >= max(background + 96, 128)  # marks stand out from the border's background
    inner = (int(height * border), int(width * border), height - int(height * border), width - int(width * border))
    lines: dict[int, list[int]] = defaultdict(list)
    for top, left, bottom, right, pixels in _components(bright):
        in_band = bottom <= inner[0] or top >= inner[2] or right <= inner[1] or left >= inner[3]
        tall, wide = bottom - top, right - left
        stroke = pixels / float(tall * wide)
        if in_band and 5 <= tall <= max(12, height // 8) and wide <= 2 * tall and 0.1 <= stroke <= 0.85:
            lines[(top + bottom) // (2 * max(tall, 1))].append(left)
    return sorted((len(v) for v in lines.values() if len(v) >= MIN_LINE), reverse=True)


def pixel_risks(image: NDArray[np.uint8]) -> list[str]:
    """Why the pixels suggest burned-in text (empty when they do not)."""
    found = text_lines(image)
    return [f"text-like marks in the image border ({found[0]} side by side)"] if found else []
