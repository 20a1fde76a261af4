"""Window views of a task: the stored image first, then the same source pixels rendered with other windows.

A CT row is re-rendered with the window presets a reviewer switches between (soft tissue, lung, bone, brain,
liver, as :data:`vgmed_data.imaging.windowing.PRESETS` defines them); an MR row with a robust full range (the
0.5th to 99.5th percentile of the volume, the label renderers write as ``p0.5-p99.5``). Every view is rendered
from the row's source file with the row's pointer (:func:`vgmed_data.pointers.row_pointer`, as ``vgmed hydrate``
does), never from the stored 8-bit image, so all views share the stored image's pixel frame. A row whose source
copy was not given, or whose source is a raster (the stored image is then the source: there is nothing to
re-window), has the stored view only.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from vgmed_data.errors import InvalidInputError
from vgmed_data.imaging.windowing import PRESETS
from vgmed_data.pointers import pointer_kind, render_pointer, row_pointer

CT_PRESETS = ("soft_tissue", "lung", "bone", "brain", "liver")
MR_FULL_RANGE = "p0.5-p99.5"
WINDOWS_BY_MODALITY: dict[str, tuple[str, ...]] = {"CT": CT_PRESETS, "MR": (MR_FULL_RANGE,)}
RENDERED_KINDS = ("dicom", "nifti")  # files that keep more than 8 bits, so another window shows other tissue


@dataclass(frozen=True, kw_only=True)
class View:
    """One page of a task: its title for the reviewer, the window label it was rendered with, and its PNG."""

    title: str
    window: str
    image_bytes: bytes


def view_title(window: str) -> str:
    if window in PRESETS:
        preset = PRESETS[window]
        return f"{window.replace('_', ' ')} (C {preset.center:g}, W {preset.width:g})"
    if window == MR_FULL_RANGE:
        return "full range (0.5th-99.5th percentile)"
    return window


def _size(data: bytes) -> tuple[int, int]:
    with PILImage.open(io.BytesIO(data)) as image:
        return image.size


def stored_image(row: Mapping[str, Any], *, sources: Mapping[str, Path]) -> bytes | None:
    """The row's image: its embedded bytes, else re-rendered from its source (fingerprint-checked, as hydrate)."""
    image = row.get("image") or {}
    if image.get("bytes"):
        return image["bytes"]
    if row["source"] not in sources:
        return None
    return render_pointer(sources[row["source"]], row_pointer(row), record=row["id"])


def extra_views(row: Mapping[str, Any], *, sources: Mapping[str, Path]) -> tuple[View, ...]:
    """The views besides the stored one (none when the row's modality has no presets, its source copy was not
    given, or its source file is a raster)."""
    windows = WINDOWS_BY_MODALITY.get(str(row["modality"] or "").upper(), ())
    root = sources.get(row["source"])
    if not windows or root is None:
        return ()
    pointer = row_pointer(row)
    stored = str(row.get("window") or "").strip().lower()
    views: list[View] = []
    for window in windows:
        if window == stored:
            continue
        data = render_pointer(root, dataclasses.replace(pointer, window=window, fingerprint=None), record=row["id"])
        if not views and pointer_kind(root, pointer) not in RENDERED_KINDS:
            return ()
        if _size(data) != (int(row["width"]), int(row["height"])):
            raise InvalidInputError(f"{pointer.relative} renders to {_size(data)[0]}x{_size(data)[1]}, the stored "
                                    f"image is {row['width']}x{row['height']}", path=root, record=row["id"],
                                    fix="use the same version of the source that the dataset was built from")
        views.append(View(title=view_title(window), window=window, image_bytes=data))
    return tuple(views)


def check_sources(folder: Path, sources: Mapping[str, Path]) -> dict[str, Path]:
    """``--source`` options checked as ``vgmed hydrate`` checks them (a key no row of the dataset comes from, a path
    that is not a folder: one-line errors)."""
    from vgmed_data.pointers import source_roots

    return source_roots(folder, sources, configs=["vgmed"])
