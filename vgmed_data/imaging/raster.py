"""Rasters (PNG, JPEG, TIFF, BMP, GIF, PGM; 2D MetaImage ``.mha`` through :mod:`vgmed_data.imaging.metaimage`): 8 and
16 bit, grayscale and RGB.

:func:`read_raster` returns the pixels as stored: (H, W) uint8/uint16 grayscale or (H, W, 3) uint8 RGB. Alpha is
dropped, palettes are expanded. 16-bit colour is refused with a clear error (Pillow would silently reduce it to
8 bits); :func:`to_display` maps 16-bit grayscale to 8 bits with a window (min-max by default).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from vgmed_data.errors import FileFormatError, InvalidInputError
from vgmed_data.userfiles import check_regular
from vgmed_data.imaging.windowing import Window, apply_window, derived_window, min_max_window, resolve_window

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".pgm", ".mha")


def _png_header(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR, or None for other files."""
    with open(path, "rb") as handle:
        head = handle.read(33)
    if not head.startswith(b"\x89PNG\r\n\x1a\n") or len(head) < 26:
        return None
    bit_depth, color_type = struct.unpack(">BB", head[24:26])
    return bit_depth, color_type


def read_raster(path: str | os.PathLike[str]) -> NDArray[np.uint8] | NDArray[np.uint16]:
    file = Path(path)
    check_regular(file)  # missing, a folder, a named pipe or a device: refused before opening
    if file.suffix.lower() == ".mha":
        from vgmed_data.imaging.metaimage import read_metaimage

        return read_metaimage(file)
    header = _png_header(file)
    if header is not None and header[0] == 16 and header[1] in (2, 6):
        raise FileFormatError(
            "is a 16-bit RGB PNG; colour images must be 8 bits per channel (16-bit is supported for grayscale only)",
            path=file, fix="convert it to 8-bit RGB, or to 16-bit grayscale if it is really a grayscale image")
    try:
        with Image.open(file) as image:
            image.load()
            mode = image.mode
            if mode in ("I;16", "I;16B", "I;16L"):
                return np.asarray(image, dtype=np.uint16)
            if mode == "I":
                array = np.asarray(image)
                if array.min() < 0 or array.max() > 65535:
                    raise FileFormatError("32-bit integer image outside the 16-bit range", path=file,
                                          fix="rescale it to 16 bits")
                return array.astype(np.uint16)
            if mode in ("L", "1"):
                return np.asarray(image.convert("L"), dtype=np.uint8)
            if mode in ("LA",):
                return np.asarray(image.convert("L"), dtype=np.uint8)
            if mode in ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr"):
                return np.asarray(image.convert("RGB"), dtype=np.uint8)
            if mode == "F":
                raise FileFormatError("floating-point raster", path=file,
                                      fix="store it as 8/16-bit integers, or use NIfTI for float data")
            raise FileFormatError(f"unsupported image mode {mode}", path=file, fix="convert it to 8-bit PNG")
    except FileFormatError:
        raise
    except UnidentifiedImageError as error:
        raise FileFormatError("is not a readable image (truncated, or not an image at all)", path=file,
                              fix="re-download the file") from error
    except Image.DecompressionBombError as error:
        raise FileFormatError(f"is too large to decode safely ({error})", path=file,
                              fix="downscale the image; rasters above Pillow's pixel limit are refused") from None
    except (SyntaxError, ValueError, EOFError) as error:  # Pillow: "broken PNG file", bad tables, short data
        raise FileFormatError(f"image cannot be decoded ({type(error).__name__}: {error})", path=file,
                              fix="re-download the file") from None
    except OSError as error:
        raise FileFormatError(f"image is truncated or corrupt ({error})", path=file, fix="re-download the file") from error


def to_display(array: NDArray[np.uint8] | NDArray[np.uint16],
               *, window: str | Window | tuple[float, float] | None = None) -> Image.Image:
    """8-bit ``L`` or ``RGB`` image; 16-bit grayscale goes through ``window`` (min-max when None)."""
    if array.ndim == 3:
        return Image.fromarray(array.astype(np.uint8), mode="RGB")
    if derived_window(window) in ("file", "voi_lut"):
        raise InvalidInputError(f"window {window!r} exists only for DICOM files",
                                fix="use 'min-max', a preset or 'CENTER,WIDTH' for a raster")
    chosen = resolve_window(window, array)
    if array.dtype == np.uint8 and chosen is None:
        return Image.fromarray(array, mode="L")
    return Image.fromarray(apply_window(array, chosen or min_max_window(array)), mode="L")
