"""One entry point from a file on disk to the displayed 8-bit image (``vgmed render`` and the builders)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vgmed_data.errors import InvalidInputError
from vgmed_data.userfiles import check_regular
from vgmed_data.imaging.raster import RASTER_SUFFIXES
from vgmed_data.imaging.windowing import Window, min_max_window, resolve_window

NIFTI_SUFFIXES = (".nii", ".nii.gz")
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")

# NIfTI volumes without an explicit window use these percentiles of the whole volume (the same for every slice).
VOLUME_PERCENTILES = (0.5, 99.5)


@dataclass(frozen=True)
class RenderedImage:
    image: Image.Image
    kind: str  # "dicom" | "nifti" | "raster"
    window: str  # the window used ("" for colour images)
    pixel_spacing_mm: tuple[float, float] | None  # (x, y)
    metadata: dict[str, Any] = field(default_factory=dict)


def detect_kind(path: str | os.PathLike[str]) -> str:
    name = Path(path).name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(RASTER_SUFFIXES):
        return "raster"
    if name.endswith(DICOM_SUFFIXES):
        return "dicom"
    check_regular(path)
    with open(path, "rb") as handle:
        head = handle.read(132)
    if head[128:132] == b"DICM":
        return "dicom"
    raise InvalidInputError(f"cannot tell the file type of {Path(path).name}", path=path,
                            fix="use a .dcm, .nii/.nii.gz, .png, .jpg or .tif file")


def _finite(data: np.ndarray) -> np.ndarray:
    return data[np.isfinite(data)] if data.dtype.kind == "f" else data


def volume_window(data: np.ndarray) -> Window:
    return min_max_window(_finite(data), low_percentile=VOLUME_PERCENTILES[0], high_percentile=VOLUME_PERCENTILES[1])


def render_file(
    path: str | os.PathLike[str],
    *,
    window: str | Window | tuple[float, float] | None = None,
    slice_index: int | None = None,
    plane: str = "axial",
    frame: int = 0,
    channel: int = 0,
) -> RenderedImage:
    """Render a DICOM frame, a NIfTI slice (middle slice by default) or a raster to 8 bits."""
    from vgmed_data.imaging.windowing import apply_window

    kind = detect_kind(path)
    if kind == "dicom":
        from vgmed_data.imaging.dicom import read_dicom, safe_metadata

        dicom = read_dicom(path)
        image = dicom.render(frame=frame, window=window)
        return RenderedImage(image, kind, "" if dicom.is_color else dicom.window_label(window),
                             dicom.pixel_spacing_mm, {"frame": frame, **safe_metadata(dicom.header)})
    if kind == "nifti":
        from vgmed_data.imaging.nifti import read_nifti

        volume = read_nifti(path)
        index = volume.num_slices(plane) // 2 if slice_index is None else slice_index
        pixels = volume.slice(index, plane=plane, channel=channel)
        data = volume.data if volume.channels == 1 else volume.data[..., channel]
        chosen = resolve_window(window, _finite(data)) or volume_window(data)
        return RenderedImage(Image.fromarray(apply_window(pixels, chosen), mode="L"), kind, chosen.label(),
                             volume.slice_spacing(plane), {"plane": plane, "slice_index": index,
                                                           "original_orientation": volume.original_orientation})
    from vgmed_data.imaging.raster import read_raster, to_display

    array = read_raster(path)
    image = to_display(array, window=window)
    raster_window = resolve_window(window, array) if window and array.ndim == 2 else None
    label = "" if array.ndim == 3 else (raster_window.label() if raster_window else ("" if array.dtype == np.uint8 else "min-max"))
    return RenderedImage(image, kind, label, None, {"bit_depth": 16 if array.dtype == np.uint16 else 8})
