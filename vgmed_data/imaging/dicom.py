"""DICOM: read pixels in modality units, window to the displayed image, keep spacing and key tags.

Order of operations for grayscale images (PS3.3 C.11): stored values -> Modality LUT (RescaleSlope/Intercept,
or a Modality LUT Sequence) -> VOI (explicit window > named preset > the file's first WindowCenter/Width >
the file's VOI LUT Sequence > min-max of the frame) -> MONOCHROME1 inversion. Colour images (RGB, YBR_*, palette)
are converted to 8-bit RGB without windowing. Compressed transfer syntaxes decode through the pylibjpeg plugins;
when one is missing the error names it.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from PIL import Image
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from vgmed_data.errors import FileFormatError, MissingDependencyError
from vgmed_data.userfiles import check_regular
from vgmed_data.imaging.windowing import (Window, apply_window, derived_window, min_max_window, parse_window,
                                         resolve_window)


_TAGS: dict[str, int] = {}


def _tag(keyword: str) -> int:
    tag = _TAGS.get(keyword)
    if tag is None:
        found = tag_for_keyword(keyword)
        if found is None:
            raise KeyError(f"{keyword!r} is not a DICOM keyword")
        tag = _TAGS[keyword] = found
    return tag


def _value(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """``ds.get(keyword, default)`` through the numeric tag: the same value, without pydicom's per-access
    keyword lookups (a few microseconds each, a measurable share of reading a small file)."""
    tag = _tag(keyword)
    return ds[tag].value if tag in ds else default

COLOR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR")

# transfer syntax UID prefix -> the pip package that decodes it
_DECODER_HINTS = {
    "1.2.840.10008.1.2.4.5": "pylibjpeg pylibjpeg-libjpeg",   # JPEG baseline/extended
    "1.2.840.10008.1.2.4.57": "pylibjpeg pylibjpeg-libjpeg",  # JPEG lossless
    "1.2.840.10008.1.2.4.70": "pylibjpeg pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.8": "pylibjpeg pylibjpeg-libjpeg (or pyjpegls)",  # JPEG-LS
    "1.2.840.10008.1.2.4.9": "pylibjpeg pylibjpeg-openjpeg",  # JPEG 2000
    "1.2.840.10008.1.2.5": "pylibjpeg pylibjpeg-rle",         # RLE
}


@dataclass(frozen=True)
class DicomImage:
    """Decoded DICOM pixels. ``values``: float64 (frames, rows, cols) in modality units for grayscale, or uint8
    (frames, rows, cols, 3) RGB for colour images."""

    path: str
    values: NDArray[Any]
    photometric: str
    modality: str
    pixel_spacing_mm: tuple[float, float] | None  # (x, y) = (column, row) spacing, from PixelSpacing
    file_window: Window | None
    header: Dataset = field(repr=False)

    @property
    def frames(self) -> int:
        return int(self.values.shape[0])

    @property
    def is_color(self) -> bool:
        return self.values.ndim == 4

    def render(self, *, frame: int = 0, window: str | Window | tuple[float, float] | None = None) -> Image.Image:
        """The displayed 8-bit image of one frame (mode ``L`` or ``RGB``)."""
        if not 0 <= frame < self.frames:
            raise FileFormatError(f"frame {frame} does not exist ({self.frames} frame(s))", path=self.path,
                                  fix=f"pass a frame between 0 and {self.frames - 1}")
        pixels = self.values[frame]
        if self.is_color:
            return Image.fromarray(pixels.astype(np.uint8), mode="RGB")
        derived = derived_window(window)  # a label this class wrote: re-render exactly that window
        if derived == "file" and self.file_window is None:
            raise FileFormatError("has no window of its own (WindowCenter/WindowWidth) but the row was rendered "
                                  "with 'file'", path=self.path, fix="use the same file the dataset was built from")
        if derived == "voi_lut" and "VOILUTSequence" not in self.header:
            raise FileFormatError("has no VOI LUT Sequence but the row was rendered with 'voi_lut'", path=self.path,
                                  fix="use the same file the dataset was built from")
        chosen = resolve_window(window, pixels)
        if chosen is None and derived != "voi_lut":
            chosen = self.file_window
        if chosen is None and "VOILUTSequence" in self.header:
            display = _apply_voi_lut_sequence(self.header, pixels)
        else:
            display = apply_window(pixels, chosen or min_max_window(pixels))
        if self.photometric == "MONOCHROME1":
            display = 255 - display
        return Image.fromarray(display, mode="L")

    def window_label(self, window: str | Window | tuple[float, float] | None) -> str:
        if derived_window(window) is not None:
            return str(window).strip().lower()
        chosen = parse_window(window) or self.file_window
        if chosen is not None:
            return chosen.label()
        return "voi_lut" if "VOILUTSequence" in self.header else "min-max"


def _apply_voi_lut_sequence(ds: Dataset, pixels: NDArray[np.float64]) -> NDArray[np.uint8]:
    item = ds.VOILUTSequence[0]
    first, entries_bits = int(item.LUTDescriptor[1]), int(item.LUTDescriptor[2])
    data = item.LUTData
    if isinstance(data, bytes):  # OW: 16-bit words in the file's byte order
        lut = np.frombuffer(data, dtype="<u2" if ds.is_little_endian in (True, None) else ">u2").astype(np.float64)
    else:
        lut = np.asarray(data, dtype=np.float64).ravel()
    index = np.clip(np.rint(pixels).astype(np.int64) - first, 0, len(lut) - 1)
    top = float(2 ** entries_bits - 1) or 1.0
    return np.clip(np.rint(lut[index] / top * 255), 0, 255).astype(np.uint8)


def _spacing(ds: Dataset) -> tuple[float, float] | None:
    spacing = _value(ds, "PixelSpacing") or _value(ds, "ImagerPixelSpacing")
    if spacing is None and _tag("SharedFunctionalGroupsSequence") in ds:
        shared = ds.SharedFunctionalGroupsSequence[0]
        if "PixelMeasuresSequence" in shared:
            spacing = shared.PixelMeasuresSequence[0].get("PixelSpacing")
    if spacing is None or len(spacing) != 2:
        return None
    row_spacing, column_spacing = float(spacing[0]), float(spacing[1])
    return (column_spacing, row_spacing)


def _file_window(ds: Dataset) -> Window | None:
    center, width = _value(ds, "WindowCenter"), _value(ds, "WindowWidth")
    if center is None or width is None:
        return None
    first = lambda v: float(v[0]) if isinstance(v, (list, tuple, pydicom.multival.MultiValue)) else float(v)  # noqa: E731
    try:
        return Window(first(center), max(first(width), 1.0), "file")
    except (TypeError, ValueError):
        return None


def read_header(path: str | os.PathLike[str]) -> Dataset:
    """The dataset without pixel data; :class:`FileFormatError` for files that are not DICOM or are cut short."""
    return _read(path, stop_before_pixels=True)


def _read(path: str | os.PathLike[str], *, stop_before_pixels: bool) -> Dataset:
    check_regular(path)  # a named pipe or a device is refused before pydicom opens it
    try:
        try:
            return pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
        except InvalidDicomError:
            # Files written without the 128-byte preamble and 'DICM' prefix are common in older exports;
            # accept them only when the forced read finds a real SOP Class.
            forced = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels, force=True)
            if "SOPClassUID" not in forced:
                raise
            return forced
    except InvalidDicomError as error:
        raise FileFormatError(f"not a DICOM file ({error})", path=path,
                              fix="check the file; for files without the DICM preamble use a DICOM tool to repair it") from error
    except (EOFError, OSError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise FileFormatError(f"the DICOM file is truncated or corrupt ({type(error).__name__}: {error})", path=path,
                              fix="re-download or re-export the file") from error


def read_dicom(path: str | os.PathLike[str]) -> DicomImage:
    """Decode one DICOM instance (single- or multi-frame)."""
    ds = _read(path, stop_before_pixels=False)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        kind = ds.get("Modality", "unknown modality")
        raise FileFormatError(f"has no pixel data (a {kind} object)", path=path,
                              fix="pass an image instance; SEG/RTSTRUCT files are read as regions by the builders")
    syntax = str(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else ""
    try:
        raw = ds.pixel_array
    except (RuntimeError, NotImplementedError) as error:
        plugins = _installed_decoders(syntax)
        if plugins:  # a decoder is installed and failed: the file, not the installation, is the problem
            raise FileFormatError(f"pixel data could not be decoded by the installed decoders ({', '.join(plugins)}): "
                                  f"{_one_line(error)}", path=path,
                                  fix="the compressed data is corrupt or an unsupported variant; re-export or "
                                  "re-download the file") from None
        package = next((hint for prefix, hint in _DECODER_HINTS.items() if syntax.startswith(prefix)), None)
        if package is None and "plugin" not in str(error).lower():
            raise FileFormatError(f"pixel data could not be decoded ({_one_line(error)})", path=path) from error
        raise MissingDependencyError(
            f"no installed decoder for transfer syntax {syntax} ({getattr(ds.file_meta.TransferSyntaxUID, 'name', '')})",
            path=path, fix=f"pip install {package or 'pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle'}",
        ) from error
    except (ValueError, EOFError) as error:
        raise FileFormatError(f"pixel data is truncated or inconsistent with the header ({_one_line(error)})",
                              path=path, fix="re-download or re-export the file") from error
    except (AttributeError, KeyError, TypeError, IndexError) as error:  # pydicom: a required element is missing
        raise FileFormatError(f"the header cannot describe its pixel data ({_one_line(error)})", path=path,
                              fix="repair the file's image pixel module (e.g. BitsAllocated, TransferSyntaxUID) "
                              "with a DICOM tool, or re-export it") from None
    photometric = str(_value(ds, "PhotometricInterpretation", "MONOCHROME2"))
    frames = int(_value(ds, "NumberOfFrames", 1) or 1)
    samples = int(_value(ds, "SamplesPerPixel", 1))
    if photometric in COLOR or samples == 3:
        values = _to_rgb(ds, raw, photometric)
        if frames == 1 and values.ndim == 3:
            values = values[None]
    else:
        values = np.asarray(pydicom.pixels.apply_modality_lut(raw, ds), dtype=np.float64)
        if values.ndim == 2:
            values = values[None]
    return DicomImage(
        path=str(path), values=values, photometric=photometric, modality=str(_value(ds, "Modality", "")),
        pixel_spacing_mm=_spacing(ds), file_window=_file_window(ds), header=ds,
    )


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]


def _installed_decoders(syntax: str) -> tuple[str, ...]:
    """Names of the installed pydicom decoder plugins for transfer syntax ``syntax`` (empty: none)."""
    from pydicom.pixels.decoders.base import get_decoder

    try:
        return tuple(get_decoder(syntax).available_plugins)
    except (NotImplementedError, ValueError, KeyError):  # an unknown or uncompressed transfer syntax
        return ()


def _to_rgb(ds: Dataset, raw: NDArray[Any], photometric: str) -> NDArray[np.uint8]:
    if photometric == "PALETTE COLOR":
        raw = pydicom.pixels.apply_color_lut(raw, ds)
    elif photometric.startswith("YBR") and photometric not in ("YBR_ICT", "YBR_RCT"):
        raw = pydicom.pixels.convert_color_space(raw, photometric, "RGB")
    array = np.asarray(raw)
    if array.dtype != np.uint8:
        bits = int(ds.get("BitsStored", 8)) if photometric != "PALETTE COLOR" else 16
        array = np.clip(np.rint(array.astype(np.float64) / (2 ** bits - 1) * 255), 0, 255).astype(np.uint8)
    return array


# What rows may carry from a DICOM header: an explicit allow-list of coded and numeric attributes, each value
# checked, so a header cannot smuggle text into a row through them. Free text stays out: BodyPartExamined (a CS
# that sites fill with anything), ImageType beyond its two enumerated values, descriptions, code meanings. The
# profile does not claim Clean Descriptors (PS3.15 E.3.5, 113105), so none of them is ever copied.
# Modality: the defined terms of PS3.3 C.7.3.1.1.1 (2024b, retired terms included).
DICOM_UID_ROOT = "1.2.840.10008."  # UIDs the standard defines (SOP classes, transfer syntaxes)
MODALITIES = frozenset((
    "AR", "ASMT", "AU", "BDUS", "BI", "BMD", "CFM", "CR", "CT", "CTPROTOCOL", "DG", "DOC", "DX", "ECG", "EEG",
    "EMG", "EOG", "EPS", "ES", "FID", "GM", "HC", "HD", "IO", "IOL", "IVOCT", "IVUS", "KER", "KO", "LEN", "LS",
    "MG", "MR", "M3D", "NM", "OAM", "OCT", "OP", "OPM", "OPT", "OPTBSV", "OPTENF", "OPV", "OSS", "OT", "PLAN",
    "POS", "PR", "PT", "PX", "REG", "RESP", "RF", "RG", "RTDOSE", "RTIMAGE", "RTINTENT", "RTPLAN", "RTRAD",
    "RTRECORD", "RTSEGANN", "RTSTRUCT", "RWV", "SEG", "SM", "SMR", "SR", "SRF", "STAIN", "TEXTUREMAP", "TG", "US",
    "VA", "XA", "XAPROTOCOL", "XC", "CD", "DD", "DM", "DS", "EC", "FA", "FS", "LP", "MA", "MS", "OPR", "ST", "VF"))
# Enumerated values: PhotometricInterpretation (PS3.3 C.7.6.3.1.2), ImageType values 1 and 2 (C.7.6.1.1.2).
CODED_TAGS: dict[str, frozenset[str]] = {
    "Modality": MODALITIES,
    "PhotometricInterpretation": frozenset(("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB", "YBR_FULL",
                                            "YBR_FULL_422", "YBR_PARTIAL_422", "YBR_PARTIAL_420", "YBR_ICT",
                                            "YBR_RCT", "XYB")),
    "PatientIdentityRemoved": frozenset(("YES", "NO")),
}
IMAGE_TYPE_VALUES = (frozenset(("ORIGINAL", "DERIVED")), frozenset(("PRIMARY", "SECONDARY")))
NUMERIC_TAGS = ("Rows", "Columns", "NumberOfFrames", "PixelSpacing", "SliceThickness", "RescaleSlope",
                "RescaleIntercept", "WindowCenter", "WindowWidth")
SAFE_TAGS = (*CODED_TAGS, *NUMERIC_TAGS, "SOPClassUID", "ImageType")  # what safe_metadata may return


def _values(ds: Dataset, keyword: str) -> list[Any]:
    value = ds[_tag(keyword)].value
    return list(value) if isinstance(value, pydicom.multival.MultiValue) else [value]


def _number(value: Any) -> int | float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return int(number) if isinstance(value, int) else number


def safe_metadata(ds: Dataset) -> dict[str, Any]:
    """The allow-listed attributes of ``ds`` as JSON-ready values (see :data:`SAFE_TAGS`): a coded attribute only
    when its value is one of the standard's terms, a numeric one only when every value is a finite number, the
    SOP class only when it is a DICOM-defined UID, ImageType only as its enumerated values 1 and 2. Anything else
    is left out, never cleaned."""
    out: dict[str, Any] = {}
    for keyword in SAFE_TAGS:
        if _tag(keyword) not in ds or ds[_tag(keyword)].value in (None, ""):
            continue
        values = _values(ds, keyword)
        if keyword in CODED_TAGS:
            if len(values) == 1 and str(values[0]) in CODED_TAGS[keyword]:
                out[keyword] = str(values[0])
        elif keyword == "SOPClassUID":
            if str(values[0]).startswith(DICOM_UID_ROOT) and re.fullmatch(r"[0-9.]{1,64}", str(values[0])):
                out[keyword] = str(values[0])
        elif keyword == "ImageType":
            coded = [str(v) for v in values[:2]]
            if len(coded) == 2 and all(v in allowed for v, allowed in zip(coded, IMAGE_TYPE_VALUES)):
                out[keyword] = coded
        else:
            numbers = [_number(v) for v in values]
            if numbers and all(n is not None for n in numbers):
                out[keyword] = numbers if isinstance(ds[_tag(keyword)].value, pydicom.multival.MultiValue) \
                    else numbers[0]
    return out
