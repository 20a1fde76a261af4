"""DICOM series with DICOM-SEG or RTSTRUCT annotations.

Listing (:class:`DicomSeriesReader`): every ``*.dcm`` file under the source root is read up to its pixel data
(headers only) and grouped by SeriesInstanceUID. Annotation objects are recognised by SOP Class (Segmentation
Storage, RT Structure Set Storage); each names the image series it annotates (SEG: ReferencedSeriesSequence,
else the series of its first referenced instance; RTSTRUCT: ReferencedFrameOfReferenceSequence ->
RTReferencedStudySequence -> RTReferencedSeriesSequence). One :class:`~vgmed_data.builders.records.SourceRecord` per image
series that at least one annotation object references; its regions are the segments/ROIs, one
:class:`~vgmed_data.builders.records.RegionRef` each (``mask_path`` = the annotation file, ``mask_value`` = the
SegmentNumber or ROINumber). The image series' instance files travel in ``ImageRef.series``.

Which annotation label names a region: for SEG the CodeMeaning of the segment's SegmentedPropertyTypeCodeSequence
(``label_from="property"``, e.g. "Nodule" in the LIDC-IDRI conversions), the coded concept itself
(``label_from="code"``: ``CodingSchemeDesignator:CodeValue``, e.g. "SCT:10200004") or its SegmentLabel
(``label_from="segment_label"``); for RTSTRUCT the ROIName. A label not in the entry's map is bad input, unless
``ignore_unmapped`` (RT structure sets carry many planning structures; the map then picks the targets).

The identifiers that listing reads (PatientID, Study/Series UIDs) stay in memory only: the build replaces them by
keyed pseudonyms (:mod:`vgmed_data.builders.deid`) before any record is processed or written. Files are named by
their :mod:`~vgmed_data.imaging.sop_pointer` (``ImageRef.series``, ``RegionRef.mask_source_path``, hence the rows'
``source_path``), never by their path, which in the IDC/TCIA layouts holds the PatientID and the UIDs; a file
whose header cannot be read is called ``dicom-file:N-of-M`` (its place in the sorted listing). Skips recorded
while listing use those names (:func:`~vgmed_data.builders.deid.redact_skip`); a skipped series is named by its
SeriesInstanceUID, which the build then pseudonymises like record ids, and an unmapped label (ROI names and
segment labels are free text, which Table E.1-1 empties) is named by its segment/ROI number, never quoted
(and, as a second net, any spelling of it left in a message is written as ``<unmapped label>``).

Geometry (:class:`SeriesGeometry`, read when a worker loads the record): slices sorted by
ImagePositionPatient projected on the slice normal (the cross product of the ImageOrientationPatient cosines),
or by InstanceNumber when positions are missing; all slices must share orientation, size and pixel spacing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from vgmed_data.errors import FileFormatError, InvalidInputError, SkipReason, SourceNotFoundError, VgmedError
from vgmed_data.imaging.dicom import read_header
from vgmed_data.imaging.sop_pointer import sop_pointer

from vgmed_data.builders.deid import redact_skip
from vgmed_data.builders.policy import Skip, handle
from vgmed_data.builders.readers.common import relative, visible
from vgmed_data.builders.records import ImageRef, RegionRef, SourceRecord

if TYPE_CHECKING:
    from vgmed_data.builders.entry import SourceEntry

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
# Label Map Segmentation Storage (DICOM Supplement 243, in the standard since 2024c; highdicom >= 0.24 writes it
# with segmentation_type="LABELMAP"): same Segmentation IOD, one frame per plane, pixel value = segment number.
LABELMAP_SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
SEG_CLASSES = (SEG_SOP_CLASS, LABELMAP_SEG_SOP_CLASS)
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
ANNOTATION_CLASSES = {SEG_SOP_CLASS: "SEG", LABELMAP_SEG_SOP_CLASS: "SEG", RTSTRUCT_SOP_CLASS: "RTSTRUCT"}
LABEL_SOURCES = ("property", "segment_label", "code")


# ------------------------------------------------------------------------------------------------- annotations
def referenced_series(ds: Dataset, *, path: str) -> str:
    """SeriesInstanceUID of the image series a SEG or RTSTRUCT annotates."""
    if "ReferencedSeriesSequence" in ds and ds.ReferencedSeriesSequence:
        return str(ds.ReferencedSeriesSequence[0].SeriesInstanceUID)
    for frame_of_reference in ds.get("ReferencedFrameOfReferenceSequence", []):
        for study in frame_of_reference.get("RTReferencedStudySequence", []):
            for series in study.get("RTReferencedSeriesSequence", []):
                return str(series.SeriesInstanceUID)
    raise FileFormatError("does not name the image series it annotates (no ReferencedSeriesSequence or "
                          "RTReferencedSeriesSequence)", path=path,
                          fix="re-export the annotation with its references, or use --on-bad skip")


def annotation_labels(ds: Dataset, *, label_from: str) -> list[tuple[int, str]]:
    """(SegmentNumber or ROINumber, label) of every segment/ROI, in file order."""
    if str(ds.SOPClassUID) in SEG_CLASSES:
        labels = []
        for segment in ds.get("SegmentSequence", []):
            code = (segment.get("SegmentedPropertyTypeCodeSequence") or [None])[0]
            if label_from == "code":  # the coded concept itself, e.g. "SCT:10200004" (Liver)
                name = "" if code is None else f"{code.get('CodingSchemeDesignator', '')}:{code.get('CodeValue', '')}"
            elif label_from == "property" and code is not None:
                name = str(code.CodeMeaning)
            else:
                name = str(segment.get("SegmentLabel", ""))
            labels.append((int(segment.SegmentNumber), name))
        return labels
    return [(int(roi.ROINumber), str(roi.ROIName)) for roi in ds.get("StructureSetROISequence", [])]


# What the listing keeps of a header until its series is paired: the keys read by referenced_series,
# annotation_labels and the record (a whole header per series would make memory grow with the download)
LISTING_KEYS = ("SOPClassUID", "PatientID", "StudyInstanceUID", "ReferencedSeriesSequence",
                "ReferencedFrameOfReferenceSequence", "SegmentSequence", "StructureSetROISequence")


def listing_header(ds: Dataset) -> Dataset:
    """The elements of ``ds`` named in :data:`LISTING_KEYS` (the same element objects), without the rest."""
    kept = Dataset()
    for keyword in LISTING_KEYS:
        if keyword in ds:
            kept[keyword] = ds[keyword]
    return kept


@dataclass(frozen=True)
class _Instance:
    path: Path
    series_uid: str
    sop_class: str


@dataclass(frozen=True, kw_only=True)
class DicomSeriesReader:
    """Image series + the SEG/RTSTRUCT objects that reference them, anywhere under the root.

    ``file_glob``: which files are DICOM instances (the IDC and TCIA downloads name them ``*.dcm``)."""

    file_glob: str = "**/*.dcm"
    label_from: str = "property"
    ignore_unmapped: bool = False
    needs_deid_key: ClassVar[bool] = True  # records carry patient identifiers: the build pseudonymises them with a key

    def __post_init__(self) -> None:
        if self.label_from not in LABEL_SOURCES:
            raise ValueError(f"label_from must be one of {LABEL_SOURCES}")

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return (self.file_glob,)

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip],
                include: Callable[[Path], bool] | None = None) -> Iterator[SourceRecord]:
        """``include``: read only the files it accepts (one part of a sharded build); the others keep their
        place in the numbering of unreadable files, so names agree with the whole listing."""
        def listing(paths: list[Path]) -> list[Path]:
            return sorted(p for p in visible(paths) if p.is_file())

        every = cache(lambda: listing(list(root.glob(self.file_glob))))  # read whole only where needed
        own = getattr(include, "walk", lambda pattern: None)(self.file_glob)  # a part's own folders only
        files = every() if own is None else listing(own)
        if not files and not (own is not None and every()):
            raise SourceNotFoundError(f"no DICOM files matching {self.file_glob}", path=root,
                                      fix=f"point --source {entry.key}=PATH at the download folder")
        series: dict[str, list[_Instance]] = defaultdict(list)
        headers: dict[Path, Dataset] = {}
        names: dict[str, str] = {}  # absolute and relative path, file name -> the file's pointer

        def skip(error: VgmedError, *, record: str, reason: str, free_text: tuple[str, ...] = ()) -> None:
            handle(error, policy=on_bad, source=entry.key, record=record, reason=reason, log=skips)
            hidden = {text: "<unmapped label>" for text in free_text if text}
            skips[-1] = redact_skip(skips[-1], names={**names, **hidden})

        for path in files:
            if include is not None and not include(path):
                continue
            try:
                ds = read_header(path)
                if "SeriesInstanceUID" not in ds or "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
                    raise FileFormatError("has no SeriesInstanceUID, SOPClassUID or SOPInstanceUID", path=path,
                                          fix="remove the file, or use --on-bad skip")
                name = sop_pointer(str(ds.SOPInstanceUID))
            except VgmedError as error:
                name = f"dicom-file:{every().index(path) + 1}-of-{len(every())}"  # numbered in the whole listing
                names.update({str(path): name, relative(path, root): name, path.name: name})
                skip(error, record=name, reason="corrupt file")
                continue
            names.update({str(path): name, relative(path, root): name, path.name: name})
            instance = _Instance(path, str(ds.SeriesInstanceUID), str(ds.SOPClassUID))
            series[instance.series_uid].append(instance)
            if instance.sop_class in ANNOTATION_CLASSES or len(series[instance.series_uid]) == 1:
                headers[path] = listing_header(ds)  # annotations; image series: the first instance's header
        annotations: dict[str, list[Path]] = defaultdict(list)  # image series UID -> annotation files
        for _uid, instances in sorted(series.items()):
            for instance in instances:
                if instance.sop_class not in ANNOTATION_CLASSES:
                    continue
                try:
                    target = referenced_series(headers[instance.path], path=str(instance.path))
                    if target not in series:
                        raise SourceNotFoundError("annotates a series that is not in the download",
                                                  path=instance.path,
                                                  fix="download the referenced image series too, or use --on-bad skip")
                except VgmedError as error:
                    skip(error, record=names[str(instance.path)],
                         reason="missing file" if isinstance(error, SourceNotFoundError) else "corrupt file")
                    continue
                annotations[target].append(instance.path)
        for uid in sorted(annotations, key=lambda u: str(series[u][0].path)):
            instances = sorted(series[uid], key=lambda i: str(i.path))
            first = instances[0].path
            try:
                regions = self._regions(entry, annotations[uid], headers, root, names)
                skips.extend(self.unmapped_skips(entry, uid, [headers[p] for p in sorted(annotations[uid])]))
            except VgmedError as error:
                unmapped = tuple(name for path in annotations[uid]
                                 for _, name in annotation_labels(headers[path], label_from=self.label_from)
                                 if name not in entry.labels)  # ROI names and segment labels are free text
                skip(error, record=uid, reason="label not in map", free_text=unmapped)
                continue
            header = headers[first]
            yield SourceRecord(
                source=entry.key, record_id=uid, patient_id=str(header.get("PatientID", "") or "unknown"),
                case_id=str(header.get("StudyInstanceUID", "")), modality=entry.modality, body_part=entry.body_part,
                image=ImageRef(path=str(first.parent), source_path=names[str(first)], kind="dicom",
                               series=tuple((str(i.path), names[str(i.path)]) for i in instances)),
                regions=regions, laterality_known=entry.laterality_known,
            )

    def unmapped_skips(self, entry: "SourceEntry", uid: str, annotations: list[Dataset]) -> list[Skip]:
        """Skips to report for the segments/ROIs of a record that its regions left out (a hook: none here, where
        ``ignore_unmapped`` means the map deliberately picks a few targets)."""
        return []

    def _regions(self, entry: "SourceEntry", paths: list[Path], headers: dict[Path, Dataset],
                 root: Path, names: dict[str, str]) -> tuple[RegionRef, ...]:
        regions = []
        for path in sorted(paths):
            for number, name in annotation_labels(headers[path], label_from=self.label_from):
                if name not in entry.labels:
                    if self.ignore_unmapped:
                        continue
                    raise InvalidInputError(  # the label is header free text: named by number, never quoted
                        f"segment/ROI {number}'s label is not in the {entry.key} label map (known: "
                        f"{', '.join(entry.labels)})", path=relative(path, root), reason=SkipReason.LABEL_NOT_IN_MAP,
                        fix="check the file is from this source, add the label to the entry, or use --on-bad skip")
                label = entry.labels[name]
                regions.append(RegionRef(label=name, target=label.target, body_part=label.body_part,
                                         kind=label.kind, mask_path=str(path),
                                         mask_source_path=names[str(path)], mask_value=number))
        if not regions:
            raise FileFormatError("no segment or ROI of its annotations is in the label map",
                                  path=relative(paths[0], root),
                                  fix=f"known labels: {', '.join(entry.labels)}; or use --on-bad skip")
        return tuple(regions)


# ------------------------------------------------------------------------------------------------- geometry
PLANE_OF_AXIS = {0: "sagittal", 1: "coronal", 2: "axial"}


@dataclass(frozen=True)
class SeriesGeometry:
    """Sorted slices of one image series and the patient<->pixel mapping they share."""

    paths: tuple[str, ...]  # absolute, in slice order
    source_paths: tuple[str, ...]
    sop_uids: tuple[str, ...]
    positions: NDArray[np.float64] | None  # (slices, 3) ImagePositionPatient, None when missing
    row_cosine: NDArray[np.float64]  # direction of increasing column index
    column_cosine: NDArray[np.float64]  # direction of increasing row index
    pixel_spacing: tuple[float, float]  # (between rows, between columns) as in PixelSpacing
    shape: tuple[int, int]  # (rows, columns)

    @property
    def normal(self) -> NDArray[np.float64]:
        return np.cross(self.row_cosine, self.column_cosine)

    @property
    def plane(self) -> str:
        return PLANE_OF_AXIS[int(np.argmax(np.abs(self.normal)))]

    @property
    def radiological(self) -> bool:
        """Image left = patient right, image top = anterior (the standard axial display)."""
        return bool(np.allclose(self.row_cosine, (1, 0, 0), atol=1e-3)
                    and np.allclose(self.column_cosine, (0, 1, 0), atol=1e-3))

    def index_of_sop(self, uid: str) -> int | None:
        try:
            return self.sop_uids.index(uid)
        except ValueError:
            return None

    def index_at(self, point: Sequence[float]) -> int | None:
        """The slice whose plane holds ``point`` (patient mm), within a quarter of the slice spacing."""
        if self.positions is None:
            return None
        heights = self.positions @ self.normal
        height = float(np.asarray(point, dtype=np.float64) @ self.normal)
        gaps = np.diff(heights)
        tolerance = max(0.25 * float(np.min(gaps)) if gaps.size else 0.5, 1e-3)
        best = int(np.argmin(np.abs(heights - height)))
        return best if abs(heights[best] - height) <= tolerance else None

    def to_pixels(self, points: NDArray[np.float64], *, index: int) -> NDArray[np.float64]:
        """Patient mm (n, 3) -> (column, row) pixel indices (n, 2) on slice ``index``; pixel centres are integers."""
        assert self.positions is not None
        offset = points - self.positions[index]
        columns = offset @ self.row_cosine / self.pixel_spacing[1]
        rows = offset @ self.column_cosine / self.pixel_spacing[0]
        return np.stack([columns, rows], axis=1)


def _floats(value: object, count: int, *, name: str, path: str) -> NDArray[np.float64]:
    try:
        array = np.asarray([float(v) for v in value], dtype=np.float64)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        array = np.zeros(0)
    if array.size != count:
        raise FileFormatError(f"{name} is missing or malformed", path=path,
                              fix="the series needs complete geometry tags; use --on-bad skip")
    return array


def series_geometry(series: Sequence[tuple[str, str]]) -> SeriesGeometry:
    """Read the headers of a series' instances, check they share one geometry, and sort them into slices."""
    if not series:
        raise SourceNotFoundError("the image series has no instance files")
    items = []
    for path, source_path in series:
        ds = read_header(path)
        items.append((ds, path, source_path))
    ref, ref_path = items[0][0], items[0][1]
    orientation = _floats(ref.get("ImageOrientationPatient"), 6, name="ImageOrientationPatient", path=ref_path)
    spacing = _floats(ref.get("PixelSpacing"), 2, name="PixelSpacing", path=ref_path)
    shape = (int(ref.get("Rows", 0)), int(ref.get("Columns", 0)))
    has_positions = all("ImagePositionPatient" in ds for ds, _, _ in items)
    for ds, path, _ in items[1:]:
        other = _floats(ds.get("ImageOrientationPatient"), 6, name="ImageOrientationPatient", path=path)
        other_spacing = _floats(ds.get("PixelSpacing"), 2, name="PixelSpacing", path=path)
        other_shape = (int(ds.get("Rows", 0)), int(ds.get("Columns", 0)))
        if (not np.allclose(other, orientation, atol=1e-4) or not np.allclose(other_spacing, spacing, rtol=1e-4)
                or other_shape != shape):
            raise FileFormatError(
                f"inconsistent series geometry: orientation {other.tolist()}, spacing {other_spacing.tolist()}, "
                f"size {other_shape} differ from {Path(ref_path).name}'s {orientation.tolist()}, "
                f"{spacing.tolist()}, {shape}", path=path,
                fix="the series mixes acquisitions (e.g. a localiser); remove the odd files or use --on-bad skip",
                reason=SkipReason.INCONSISTENT_GEOMETRY)
    row_cosine, column_cosine = orientation[:3], orientation[3:]
    normal = np.cross(row_cosine, column_cosine)
    positions: NDArray[np.float64] | None = None
    if has_positions:
        raw = np.stack([_floats(ds.ImagePositionPatient, 3, name="ImagePositionPatient", path=path)
                        for ds, path, _ in items])
        order = np.argsort(raw @ normal, kind="stable")
        heights = (raw @ normal)[order]
        if np.any(np.diff(heights) < 1e-6):
            duplicate = items[int(order[int(np.argmin(np.diff(heights)))])][1]
            raise FileFormatError("two instances of the series lie at the same position", path=duplicate,
                                  fix="remove duplicate instances, or use --on-bad skip")
        positions = raw[order]
    else:
        order = np.argsort([int(ds.get("InstanceNumber", 0) or 0) for ds, _, _ in items], kind="stable")
    items = [items[int(i)] for i in order]
    return SeriesGeometry(
        paths=tuple(p for _, p, _ in items), source_paths=tuple(s for _, _, s in items),
        sop_uids=tuple(str(ds.SOPInstanceUID) for ds, _, _ in items), positions=positions,
        row_cosine=row_cosine, column_cosine=column_cosine,
        pixel_spacing=(float(spacing[0]), float(spacing[1])), shape=shape)
