"""Decode untrusted image bytes or files with Pillow, with a pixel limit and one error type.

Pillow reports a bad image in many ways (``UnidentifiedImageError``, ``OSError`` "image file is truncated",
``SyntaxError`` "broken PNG file", ``ValueError``, ``zlib.error``, ``struct.error``, ``EOFError``) and refuses
images above twice ``Image.MAX_IMAGE_PIXELS`` with ``DecompressionBombError`` (a warning between 1x and 2x).
Here every one of them becomes a :class:`~vgmed_data.errors.FileFormatError` naming the image, and the limit is
:data:`MAX_PIXELS` (Pillow's default, about 89 megapixels: a 9459 x 9459 image), enforced from the header before
any pixel is decoded.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

from PIL import Image

from vgmed_data.errors import FileFormatError, SourceNotFoundError

MAX_PIXELS = 89_478_485  # Image.MAX_IMAGE_PIXELS in Pillow 9-11: 1024 * 1024 * 1024 // 4 // 3
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, Image.DecompressionBombError,
                 IndexError)  # IndexError: Pillow's TIFF/ICO plugins on short tables


def _open(source: io.BytesIO | Path, *, where: str | os.PathLike[str] | None, record: str | None, what: str,
          decode: bool) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            width, height = image.size
            if width * height > MAX_PIXELS:
                image.close()
                raise FileFormatError(f"{what} is {width}x{height} pixels, above the {MAX_PIXELS} pixel limit "
                                      "(a decompression bomb, or an image far larger than any scan)",
                                      path=where, record=record, fix="downscale the image or drop it")
            if decode:
                image.load()
            return image
    except FileFormatError:
        raise
    except Image.DecompressionBombWarning as warning:
        raise FileFormatError(f"{what} is above the pixel limit ({warning})", path=where, record=record,
                              fix="downscale the image or drop it") from None
    except DECODE_ERRORS as error:
        detail = " ".join(str(error).split())[:160] or type(error).__name__
        detail = detail.replace(repr(source), "").strip() if isinstance(source, io.BytesIO) else detail
        raise FileFormatError(f"{what} cannot be decoded ({type(error).__name__}: {detail})", path=where,
                              record=record, fix="re-encode the image as PNG, or rebuild the row") from None


def decode_bytes(data: bytes, *, what: str = "image", path: str | os.PathLike[str] | None = None,
                 record: str | None = None, decode: bool = True) -> Image.Image:
    """The image in ``data``, fully decoded unless ``decode`` is False (header only: size and mode)."""
    return _open(io.BytesIO(data), where=path, record=record, what=what, decode=decode)


def open_image_file(path: str | os.PathLike[str], *, what: str = "image", record: str | None = None) -> Image.Image:
    """The image file at ``path``, fully decoded; :class:`SourceNotFoundError` when it is missing or a folder."""
    file = Path(path)
    if not file.is_file():
        state = "is a folder, not an image file" if file.is_dir() else "not found"
        raise SourceNotFoundError(f"{what} {state}", path=file, record=record, fix="check the image path")
    return _open(file, where=file, record=record, what=what, decode=True)
