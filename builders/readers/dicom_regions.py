"""Per-slice masks from a DICOM-SEG or an RTSTRUCT, on the slices of a :class:`~vgmed_data.builders.readers.dicom.SeriesGeometry`.

**DICOM-SEG** (PS3.3 C.8.20): every frame belongs to one segment (ReferencedSegmentNumber in the frame's
SegmentIdentificationSequence, per frame or shared) and lies on one source slice: the
ReferencedSOPInstanceUID of its DerivationImageSequence -> SourceImageSequence, or, when a frame has no
derivation reference, its PlanePositionSequence ImagePositionPatient matched to a slice position. BINARY frames:
foreground = non-zero; FRACTIONAL frames (probability or occupancy): foreground = value >= half of
MaximumFractionalValue. LABELMAP (Label Map Segmentation Storage, SOP Class 1.2.840.10008.5.1.4.1.1.66.7,
DICOM Supplement 243 / 2024c, written by highdicom >= 0.24): a frame holds every segment of its plane, pixel
value = SegmentNumber (background = PixelPaddingValue, never a segment number), so segment n = pixels equal to n;
frames are placed on slices as above. A MONOCHROME2 label map is read; a PALETTE COLOR one, or any other
SegmentationType, is refused with an error the build counts (``unsupported segmentation``).

**RTSTRUCT** (PS3.3 C.8.8.6): each ROI's ContourSequence holds CLOSED_PLANAR polygons in patient mm. A contour
lies on the slice named by its ContourImageSequence ReferencedSOPInstanceUID or, without one, on the slice whose
plane holds its points. Points go to pixel coordinates through that slice's ImagePositionPatient,
ImageOrientationPatient and PixelSpacing (IPP is the centre of the first pixel), and are rasterised with
:func:`vgmed_data.geometry.rasterize` (pixels whose centre is inside). Several contours of one ROI on one slice
combine by even-odd (XOR), so a contour inside another is a hole. POINT/OPEN contours are not regions.

Errors name the annotation file and never quote a header value (the report may be published; the slice a
frame references is missing, so it has no pointer to name it by): a reference to a slice that is not in the series, a frame size that is not the
series' size, a segment/ROI with no foreground or no closed contour (``empty``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from shapely.geometry import Polygon

from vgmed_data.errors import FileFormatError, GeometryError, SkipReason
from vgmed_data.geometry import rasterize
from vgmed_data.imaging.dicom import read_dicom, read_header

from vgmed_data.builders.readers.dicom import RTSTRUCT_SOP_CLASS, SEG_CLASSES, SeriesGeometry

SliceMasks = dict[int, NDArray[np.bool_]]  # slice index -> (rows, columns) mask


def annotation_masks(path: str, geometry: SeriesGeometry, numbers: Iterable[int]) -> dict[int, SliceMasks]:
    """SegmentNumber/ROINumber -> masks on the slices where it has foreground. Raises when one of ``numbers``
    has none (an empty segment, an ROI without closed contours)."""
    ds = read_header(path)
    wanted = sorted(set(numbers))
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class in SEG_CLASSES:
        masks = _seg_masks(path, geometry, wanted)
    elif sop_class == RTSTRUCT_SOP_CLASS:
        masks = _rtstruct_masks(ds, path, geometry, wanted)
    else:
        raise FileFormatError("is neither a DICOM-SEG nor an RTSTRUCT (its SOP Class is another)", path=path)
    for number in wanted:
        if not any(mask.any() for mask in masks.get(number, {}).values()):
            kind = "segment" if sop_class in SEG_CLASSES else "ROI"
            raise GeometryError(f"{kind} {number} is empty (no foreground on any slice of the series)", path=path,
                                fix="check the annotation, or run with --on-bad skip to count it in the report",
                                reason=SkipReason.EMPTY_MASK)
    return masks


# ------------------------------------------------------------------------------------------------------ SEG
def _frame_item(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """The item of functional group ``keyword`` for frame ``index`` (per-frame first, then shared)."""
    for groups in (ds.get("PerFrameFunctionalGroupsSequence"), ds.get("SharedFunctionalGroupsSequence")):
        if not groups:
            continue
        group = groups[index] if groups is ds.get("PerFrameFunctionalGroupsSequence") else groups[0]
        if keyword in group and group[keyword].value:
            return group[keyword].value[0]
    return None


SEGMENTATION_TYPES = ("BINARY", "FRACTIONAL", "LABELMAP")


def segmentation_type(ds: Dataset, path: str) -> str:
    """BINARY, FRACTIONAL or a readable LABELMAP; anything else is refused (``unsupported segmentation``)."""
    kind = str(ds.get("SegmentationType", "BINARY")).upper()
    if kind not in SEGMENTATION_TYPES:
        raise FileFormatError(f"its SegmentationType is not one of {', '.join(SEGMENTATION_TYPES)}",
                              path=path, fix="re-export the segmentation as BINARY or LABELMAP, or use --on-bad skip",
                              reason=SkipReason.UNSUPPORTED_SEGMENTATION)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if kind == "LABELMAP" and photometric != "MONOCHROME2":
        raise FileFormatError("a LABELMAP segmentation whose PhotometricInterpretation is not MONOCHROME2 is not "
                              "read", path=path,
                              fix="re-export the label map as MONOCHROME2 or BINARY, or use --on-bad skip",
                              reason=SkipReason.UNSUPPORTED_SEGMENTATION)
    return kind


def _seg_frames(kind: str, ds: Dataset, pixels: NDArray[np.float64]) -> NDArray[np.bool_] | NDArray[np.int64]:
    """Per-frame foreground (BINARY, FRACTIONAL) or per-frame segment numbers (LABELMAP)."""
    if kind == "LABELMAP":
        return np.rint(pixels).astype(np.int64)
    if kind == "FRACTIONAL":
        top = float(ds.get("MaximumFractionalValue", 255) or 255)
        return pixels.astype(np.float64) >= 0.5 * top
    return pixels > 0


def _seg_masks(path: str, geometry: SeriesGeometry, wanted: list[int]) -> dict[int, SliceMasks]:
    kind = segmentation_type(read_header(path), path)
    decoded = read_dicom(path)  # frames as (frames, rows, columns); SEG has no modality LUT
    ds = decoded.header
    if (int(ds.Rows), int(ds.Columns)) != geometry.shape:
        raise FileFormatError(f"segmentation frame size {(int(ds.Rows), int(ds.Columns))} differs from the image "
                              f"series' {geometry.shape} (rows, columns)", path=path,
                              fix="pair the SEG with the series it was drawn on", reason=SkipReason.SHAPE_MISMATCH)
    frames = _seg_frames(kind, ds, decoded.values)
    masks: dict[int, SliceMasks] = {number: {} for number in wanted}
    for index in range(frames.shape[0]):
        if kind == "LABELMAP":
            slice_index = _seg_slice(ds, index, path, geometry)
            for number in wanted:
                previous = masks[number].get(slice_index)
                found = frames[index] == number
                masks[number][slice_index] = found if previous is None else (previous | found)
            continue
        identification = _frame_item(ds, index, "SegmentIdentificationSequence")
        if identification is None:
            raise FileFormatError(f"frame {index + 1} has no ReferencedSegmentNumber", path=path)
        number = int(identification.ReferencedSegmentNumber)
        if number not in masks:
            continue
        slice_index = _seg_slice(ds, index, path, geometry)
        previous = masks[number].get(slice_index)
        masks[number][slice_index] = frames[index] if previous is None else (previous | frames[index])
    return masks


def _seg_slice(ds: Dataset, index: int, path: str, geometry: SeriesGeometry) -> int:
    derivation = _frame_item(ds, index, "DerivationImageSequence")
    if derivation is not None and derivation.get("SourceImageSequence"):
        uid = str(derivation.SourceImageSequence[0].ReferencedSOPInstanceUID)
        found = geometry.index_of_sop(uid)
        if found is None:
            raise FileFormatError(f"frame {index + 1} references a slice that is not in the image series",
                                  path=path, fix="download the complete series, or use --on-bad skip",
                                  reason=SkipReason.MISSING_SLICE)
        return found
    position = _frame_item(ds, index, "PlanePositionSequence")
    if position is not None and "ImagePositionPatient" in position:
        found = geometry.index_at([float(v) for v in position.ImagePositionPatient])
        if found is None:
            raise FileFormatError(f"frame {index + 1} at position {list(position.ImagePositionPatient)} matches no "
                                  "slice of the image series", path=path,
                                  fix="download the complete series, or use --on-bad skip")
        return found
    raise FileFormatError(f"frame {index + 1} names neither its source slice nor its position", path=path)


# ------------------------------------------------------------------------------------------------- RTSTRUCT
def _contour_slice(contour: Dataset, points: NDArray[np.float64], path: str, geometry: SeriesGeometry) -> int:
    images = contour.get("ContourImageSequence")
    if images:
        uid = str(images[0].ReferencedSOPInstanceUID)
        found = geometry.index_of_sop(uid)
        if found is None:
            raise FileFormatError("a contour references a slice that is not in the image series", path=path,
                                  fix="download the complete series, or use --on-bad skip",
                                  reason=SkipReason.MISSING_SLICE)
        return found
    found = geometry.index_at(points.mean(axis=0))
    if found is None:
        raise FileFormatError(f"a contour at {points[0].round(2).tolist()} (mm) lies on no slice of the image series",
                              path=path, fix="check the structure set belongs to this series, or use --on-bad skip")
    return found


def contour_mask(points: NDArray[np.float64], geometry: SeriesGeometry, *, index: int) -> NDArray[np.bool_]:
    """Rasterise one closed planar contour (patient mm, (n, 3)) on slice ``index``."""
    pixels = geometry.to_pixels(points, index=index) + 0.5  # rasterize: pixel (c, r) has its centre at c+0.5
    polygon = Polygon(pixels)
    if not polygon.is_valid:
        polygon = polygon.buffer(0)
    rows, columns = geometry.shape
    return rasterize(polygon, image_size=(columns, rows))


def _rtstruct_masks(ds: Dataset, path: str, geometry: SeriesGeometry, wanted: list[int]) -> dict[int, SliceMasks]:
    if geometry.positions is None:
        raise FileFormatError("the image series has no ImagePositionPatient, so contours cannot be placed",
                              path=path, fix="use a series with complete geometry tags, or use --on-bad skip")
    masks: dict[int, SliceMasks] = {number: {} for number in wanted}
    for roi in ds.get("ROIContourSequence", []):
        number = int(roi.ReferencedROINumber)
        if number not in masks:
            continue
        for contour in roi.get("ContourSequence", []) or []:
            if str(contour.get("ContourGeometricType", "")) != "CLOSED_PLANAR":
                continue
            data = np.asarray([float(v) for v in contour.ContourData], dtype=np.float64)
            if data.size < 9 or data.size % 3:
                raise FileFormatError(f"ROI {number} has a contour with {data.size} coordinates (needs >= 3 points)",
                                      path=path)
            points = data.reshape(-1, 3)
            index = _contour_slice(contour, points, path, geometry)
            mask = contour_mask(points, geometry, index=index)
            previous = masks[number].get(index)
            masks[number][index] = mask if previous is None else (previous ^ mask)
    return masks
