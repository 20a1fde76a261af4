"""MetaImage (``.mha``: ITK's text header + pixel data in one file): 2D images (:func:`read_metaimage`) and 3D
volumes (:func:`read_metaimage_volume`, which :func:`vgmed_data.imaging.nifti.read_nifti` uses for ``.mha``).

The header is ``Key = Value`` lines ending with ``ElementDataFile = LOCAL``, after which the pixels follow (zlib
when ``CompressedData = True``), x fastest. Read here: ``NDims`` 2, or 3 with a last ``DimSize`` of 1 or 3 (the
intrapartum ultrasound sets FH-PS-AOP and PSFHS store their grey images as three equal 256x256 planes, their
labels as one 256x256 plane), ``ElementType`` MET_UCHAR / MET_CHAR / MET_USHORT / MET_SHORT, little or big endian
(``BinaryDataByteOrderMSB`` / ``ElementByteOrderMSB``), optional ``ElementNumberOfChannels`` 1 or 3.

The result has :func:`vgmed_data.imaging.raster.read_raster`'s shapes: ``(H, W)`` uint8/uint16 grey, or
``(H, W, 3)`` uint8 colour (three planes). Anything else is a :class:`FileFormatError` naming the file and the
header field, never a guess: a ``.mhd`` (header with a separate data file), another element type, a volume,
truncated or over-long data.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vgmed_data.errors import FileFormatError

MAX_HEADER_BYTES = 64 * 1024
MAX_PIXELS = 16384 * 16384
_TYPES = {"MET_UCHAR": np.uint8, "MET_CHAR": np.int8, "MET_USHORT": np.uint16, "MET_SHORT": np.int16}


def _header(data: bytes, path: Path) -> tuple[dict[str, str], int]:
    """The header fields and where the pixels start."""
    fields: dict[str, str] = {}
    position = 0
    while True:
        end = data.find(b"\n", position, MAX_HEADER_BYTES)
        if end < 0:
            raise FileFormatError("is not a MetaImage: no 'ElementDataFile = LOCAL' line in its header", path=path,
                                  fix="use the source's original .mha file")
        line = data[position:end].decode("ascii", errors="replace").strip()
        position = end + 1
        key, sep, value = line.partition("=")
        if not sep:
            raise FileFormatError(f"header line {line[:40]!r} is not 'Key = Value'", path=path,
                                  fix="use the source's original .mha file")
        fields[key.strip()] = value.strip()
        if key.strip() == "ElementDataFile":
            if value.strip() != "LOCAL":
                raise FileFormatError(f"keeps its pixels in another file ({value.strip()[:40]}); only .mha files with "
                                      "'ElementDataFile = LOCAL' are read", path=path,
                                      fix="convert it to a single .mha file")
            return fields, position


def _ints(fields: dict[str, str], key: str, path: Path) -> list[int]:
    try:
        return [int(v) for v in fields[key].split()]
    except (KeyError, ValueError):
        raise FileFormatError(f"header field {key} is missing or not integers", path=path,
                              fix="use the source's original .mha file") from None


def _pixels(fields: dict[str, str], pixels: bytes, count: int, file: Path) -> NDArray[np.integer]:
    """The ``count`` pixels after the header, decompressed and in the header's element type and byte order."""
    element = fields.get("ElementType", "")
    if element not in _TYPES:
        raise FileFormatError(f"ElementType {element or '(missing)'} is not read (only {', '.join(_TYPES)})",
                              path=file, fix="convert it to 8- or 16-bit integers")
    msb = (fields.get("BinaryDataByteOrderMSB") or fields.get("ElementByteOrderMSB") or "False").lower() == "true"
    dtype = np.dtype(_TYPES[element]).newbyteorder(">" if msb else "<")
    if fields.get("CompressedData", "False").lower() == "true":
        try:
            pixels = zlib.decompress(pixels)
        except zlib.error as error:
            raise FileFormatError(f"compressed pixels cannot be read ({error})", path=file,
                                  fix="re-download the file") from None
    if len(pixels) != count * dtype.itemsize:
        raise FileFormatError(f"holds {len(pixels)} bytes of pixels where its header promises "
                              f"{count * dtype.itemsize} (truncated or not this size)", path=file,
                              fix="re-download the file")
    return np.frombuffer(pixels, dtype=dtype)


def _floats(fields: dict[str, str], key: str, count: int, default: list[float], path: Path) -> list[float]:
    try:
        values = [float(v) for v in fields[key].split()] if key in fields else default
    except ValueError:
        values = []
    if len(values) != count:
        raise FileFormatError(f"header field {key} must hold {count} numbers", path=path,
                              fix="use the source's original .mha file")
    return values


def read_metaimage_volume(path: str | Path) -> tuple[NDArray[np.integer], NDArray[np.float64]]:
    """A 3D MetaImage as ``(data[x, y, z], affine)``: the affine maps voxel indices to RAS+ millimetres.

    MetaImage positions are ITK's LPS: ``Offset`` is the first voxel's centre, ``TransformMatrix`` lists the
    direction of each voxel axis in turn (three numbers per axis, as ITK's MetaImageIO reads it into the columns of
    its direction matrix), ``ElementSpacing`` the step along each axis; LPS becomes RAS by negating x and y."""
    file = Path(path)
    data = file.read_bytes()
    fields, start = _header(data, file)
    dims = _ints(fields, "DimSize", file)
    if _ints(fields, "NDims", file) != [3] or len(dims) != 3 or min(dims) < 1 or dims[0] * dims[1] * dims[2] > \
            MAX_PIXELS * 64 or fields.get("ElementNumberOfChannels", "1") != "1":
        raise FileFormatError(f"is not a one-channel 3D volume (NDims {fields.get('NDims')}, DimSize "
                              f"{fields.get('DimSize')})", path=file, fix="use the source's original .mha file")
    values = _pixels(fields, data[start:], dims[0] * dims[1] * dims[2], file)
    volume = values.reshape(dims[2], dims[1], dims[0]).transpose(2, 1, 0)  # x fastest on disk
    spacing = _floats(fields, "ElementSpacing", 3, [1.0, 1.0, 1.0], file)
    offset = _floats(fields, "Offset", 3, [0.0, 0.0, 0.0], file) if "Offset" in fields else \
        _floats(fields, "Position", 3, [0.0, 0.0, 0.0], file)
    axes = np.array(_floats(fields, "TransformMatrix", 9, [1, 0, 0, 0, 1, 0, 0, 0, 1], file)).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = axes.T * np.array(spacing)  # column i: axis i's direction times its spacing
    affine[:3, 3] = offset
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine  # LPS -> RAS
    return np.ascontiguousarray(volume.astype(volume.dtype.newbyteorder("="), copy=False)), affine


def read_metaimage(path: str | Path) -> NDArray[np.uint8] | NDArray[np.uint16]:
    file = Path(path)
    data = file.read_bytes()
    fields, start = _header(data, file)
    dims = _ints(fields, "DimSize", file)
    ndims = _ints(fields, "NDims", file)
    channels = _ints(fields, "ElementNumberOfChannels", file) if "ElementNumberOfChannels" in fields else [1]
    planes = dims[2] if len(dims) == 3 else 1
    if ndims != [len(dims)] or len(dims) not in (2, 3) or planes not in (1, 3) or channels[0] not in (1, 3) \
            or (planes == 3 and channels[0] == 3):
        raise FileFormatError(f"is not a 2D image (NDims {fields.get('NDims')}, DimSize {fields.get('DimSize')}, "
                              f"ElementNumberOfChannels {channels[0]})", path=file,
                              fix="only 2D grey or 3-plane colour MetaImages are read")
    width, height = dims[0], dims[1]
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise FileFormatError(f"has an unusable size {width}x{height}", path=file, fix="use the source's original file")
    values = _pixels(fields, data[start:], width * height * planes * channels[0], file)
    dtype = values.dtype
    if planes == 3:
        values = values.reshape(3, height, width).transpose(1, 2, 0)
    elif channels[0] == 3:
        values = values.reshape(height, width, 3)
    else:
        values = values.reshape(height, width)
    if values.ndim == 3 and dtype.itemsize != 1:
        raise FileFormatError("is a 16-bit colour image; colour images must be 8 bits per channel", path=file,
                              fix="convert it to 8-bit")
    if dtype.kind == "i":
        if values.min() < 0:
            raise FileFormatError("holds negative pixel values, which a 2D image here cannot", path=file,
                                  fix="rescale it to unsigned integers")
        values = values.astype(np.uint8 if dtype.itemsize == 1 else np.uint16)
    return np.ascontiguousarray(values.astype(values.dtype.newbyteorder("="), copy=False))
