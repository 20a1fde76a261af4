"""Medical image IO: DICOM (windowing, de-identification), NIfTI (canonical orientation), rasters.

:func:`render_file` turns any supported file into the 8-bit image that would go into a dataset.
"""

from vgmed_data.imaging.render import RenderedImage, detect_kind, render_file, volume_window
from vgmed_data.imaging.windowing import PRESETS, Window, apply_window, min_max_window, parse_window

__all__ = ["PRESETS", "RenderedImage", "Window", "apply_window", "detect_kind", "min_max_window", "parse_window",
           "render_file", "volume_window"]
