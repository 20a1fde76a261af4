"""From a :class:`~vgmed_data.builders.records.SourceRecord` to 2D views: displayed image + per-target masks or boxes.

Volumes (NIfTI) are read one at a time: the image volume (one channel of a multi-sequence 4D file), then each
label file in turn. Pass 1 counts each target's voxels per slice and picks slices (the slice where the target is
largest, then evenly spaced slices where it is present); pass 2 cuts every target's mask on the picked slices
(re-reading label files only when a record has several, as in one-file-per-structure folders). Memory is
therefore about one image volume plus one label volume per worker.

DICOM series (:func:`dicom_series_views`) follow the same two passes: the series geometry and the SEG/RTSTRUCT
masks first (one boolean slice stack per target at most), then only the picked slices are decoded and rendered.

Errors are typed (:mod:`vgmed_data.errors`); :func:`skip_reason` gives the short category the build report
counts ("missing file", "shape mismatch", "label not in map", "empty mask", "corrupt file", "missing slice",
"inconsistent geometry", "identifying data").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from vgmed_data.errors import (
    FileFormatError,
    GeometryError,
    InvalidInputError,
    SkipReason,
)
from vgmed_data.geometry import clip_boxes
from vgmed_data.imaging.nifti import Volume, read_label_volume, read_nifti
from vgmed_data.imaging.raster import read_raster, to_display
from vgmed_data.imaging.render import volume_window
from vgmed_data.imaging.windowing import apply_window, parse_window

from vgmed_data.builders.records import RegionRef, SourceRecord


@dataclass
class TargetGeometry:
    """One target on one view: a mask (mask sources) or boxes (box sources), with what the entry says of it."""

    target: str
    kind: str
    body_part: str
    labels: tuple[str, ...]
    mask: NDArray[np.bool_] | None = None
    boxes: NDArray[np.float64] | None = None
    mask_source_paths: tuple[str, ...] = ()


@dataclass
class View:
    """One 2D image ready for questions."""

    record: SourceRecord
    image: Image.Image
    window: str
    spacing_mm: tuple[float, float] | None
    plane: str = ""
    slice_index: int | None = None
    laterality_known: bool = False
    targets: dict[str, TargetGeometry] = field(default_factory=dict)
    image_origin: str = "raster"
    focus: tuple[str, ...] = ()  # targets this view was picked for (volumes); empty: every target
    source_path: str = ""  # the file this view was rendered from, when not the record's (a DICOM series' slice)
    metadata: dict[str, Any] = field(default_factory=dict)  # extra row metadata (safe DICOM tags)
    review: tuple[str, ...] = ()  # why a person must look at it before it is published (possible burned-in text)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def _by_target(regions: tuple[RegionRef, ...]) -> dict[str, list[RegionRef]]:
    grouped: dict[str, list[RegionRef]] = defaultdict(list)
    for region in regions:
        grouped[region.target].append(region)
    return dict(sorted(grouped.items()))


# ----------------------------------------------------------------------------------------------------- 2D rasters
def _packed_rgb(values: NDArray[np.generic]) -> NDArray[np.int64]:
    """(H, W, 3) colours as one integer per pixel (0xRRGGBB)."""
    rgb = values.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _check_palette(found: NDArray[np.int64], known: set[int], region: RegionRef, *, colour: bool) -> None:
    """A label image holds only background (0 / black) and the values or colours declared for it."""
    unknown = sorted({int(v) for v in np.unique(found)} - known - {0})
    if unknown:
        shown = [f"#{v:06x}" if colour else str(v) for v in unknown[:5]]
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise InvalidInputError(f"{'colour' if colour else 'value'}(s) {', '.join(shown)}{more} are not in the "
                                f"label map", path=region.mask_path,
                                fix="check the mask belongs to this source, or use --on-bad skip",
                                reason=SkipReason.LABEL_NOT_IN_MAP)


def _same_aspect(a: tuple[int, ...], b: tuple[int, int]) -> bool:
    """Whether two (h, w) sizes have the same aspect ratio, to within one pixel of the larger."""
    return abs(a[0] * b[1] - a[1] * b[0]) <= max(a[0], a[1], b[0], b[1])


def _polygon_mask(region: RegionRef, shape: tuple[int, int], cache: dict[str, Any]) -> NDArray[np.bool_]:
    """The union of the region's class polygons in its XML file, drawn on the image's grid."""
    from vgmed_data.builders.readers.imagescope_xml import read_polygons, rasterise

    assert region.mask_path is not None and region.mask_polygon_class is not None
    key = f"polygons:{region.mask_path}"
    if key not in cache:
        cache[key] = read_polygons(region.mask_path)
    polygons: dict[str, list[list[tuple[float, float]]]] = cache[key]
    unknown = sorted(set(polygons) - {str(name) for name in region.mask_palette})
    if unknown:
        raise InvalidInputError(f"class(es) {', '.join(repr(u) for u in unknown[:5])} are not in the label map",
                                path=region.mask_path, fix="check the file belongs to this source, or use --on-bad skip",
                                reason=SkipReason.LABEL_NOT_IN_MAP)
    height, width = shape
    if any(not (0 <= x <= width and 0 <= y <= height) for group in polygons.values() for polygon in group
           for x, y in polygon):
        raise FileFormatError(f"has vertices outside its {width}x{height} image", path=region.mask_path,
                              fix="pair each annotation file with the image it was drawn on",
                              reason=SkipReason.SHAPE_MISMATCH)
    return rasterise(polygons.get(region.mask_polygon_class, []), shape)


def _read_mask(region: RegionRef, shape: tuple[int, int],
               cache: dict[str, Any] | None = None) -> NDArray[np.bool_]:
    """The region's mask; ``cache`` keeps files already read for this view (one label image, many labels)."""
    assert region.mask_path is not None
    if region.mask_polygon_class is not None:
        return _polygon_mask(region, shape, cache if cache is not None else {})
    values = cache.get(region.mask_path) if cache is not None else None
    if values is None:
        values = read_raster(region.mask_path)
        if cache is not None:
            cache[region.mask_path] = values
    if values.shape[:2] != shape and region.mask_resample and _same_aspect(values.shape[:2], shape):
        values = np.asarray(Image.fromarray(values).resize((shape[1], shape[0]), Image.Resampling.NEAREST))
    if values.shape[:2] != shape:
        raise FileFormatError(f"mask size {values.shape[1::-1]} differs from its image's {shape[::-1]} (w, h)",
                              path=region.mask_path, fix="pair each mask with the image it was drawn on",
                              reason=SkipReason.SHAPE_MISMATCH)
    if region.mask_colour is not None:
        if values.ndim != 3:
            raise FileFormatError("is a grey image, but the source's masks are RGB label images",
                                  path=region.mask_path, fix="use the source's original mask files")
        packed = _packed_rgb(values)
        _check_palette(packed, {int(_packed_rgb(np.array(c))) for c in region.mask_palette}, region, colour=True)
        return packed == int(_packed_rgb(np.array(region.mask_colour)))
    if values.ndim == 3:
        values = values.max(axis=2)
    if region.mask_value is not None:
        if region.mask_palette:
            _check_palette(values, {int(v) for v in region.mask_palette}, region, colour=False)  # type: ignore[arg-type]
        return values == region.mask_value
    mask = values > (region.mask_threshold or 0)
    return _filled(mask, region) if region.mask_fill else mask


def _filled(outline: NDArray[np.bool_], region: RegionRef) -> NDArray[np.bool_]:
    """The region an outline encloses (outline included); an outline that encloses nothing (not closed) is bad
    input."""
    from scipy.ndimage import binary_fill_holes

    filled = binary_fill_holes(outline)
    if outline.any() and int(filled.sum()) == int(outline.sum()):
        raise GeometryError("the outline drawn in this file is not closed: it encloses no region",
                            path=region.mask_path, fix="use the source's original annotation image, or --on-bad skip",
                            reason=SkipReason.EMPTY_MASK)
    return filled


def raster_view(record: SourceRecord) -> View:
    pixels = read_raster(record.image.path)
    image = to_display(pixels)
    view = View(record=record, image=image, window="" if pixels.ndim == 3 or pixels.dtype == np.uint8 else "min-max",
                spacing_mm=None if record.spacing_mm is None else (record.spacing_mm[0], record.spacing_mm[1]),
                laterality_known=record.laterality_known)
    _add_targets(view, record, read_mask=_read_mask)
    return view


def _add_targets(view: View, record: SourceRecord,
                 read_mask: Callable[[RegionRef, tuple[int, int], dict[str, Any]], NDArray[np.bool_]]) -> None:
    """The record's targets on a 2D view: boxes clipped to the image, or the union of each target's masks
    (``read_mask`` reads one region's mask on the image's (rows, columns) grid)."""
    image = view.image
    shape = (image.size[1], image.size[0])
    cache: dict[str, Any] = {}
    for target, regions in _by_target(record.regions).items():
        first = regions[0]
        geometry = TargetGeometry(target=target, kind=first.kind, body_part=first.body_part,
                                  labels=tuple(sorted({r.label for r in regions})))
        if first.box is not None:
            boxes = np.array([r.box for r in regions], dtype=np.float64)
            clipped = clip_boxes(boxes, image_size=image.size)
            if np.any((clipped[:, 2] <= clipped[:, 0]) | (clipped[:, 3] <= clipped[:, 1])):
                raise GeometryError(f"a {target} box lies outside the {image.size} image", record=record.record_id,
                                    path=record.image.path)
            geometry.boxes = clipped
        else:
            union = np.zeros(shape, dtype=bool)
            for region in regions:
                union |= read_mask(region, shape, cache)
            if not union.any():
                if all(r.may_be_absent for r in regions):
                    continue  # one label of a multi-label file, not drawn on this image
                raise GeometryError(f"the {target} mask is empty (no foreground pixel)", record=record.record_id,
                                    path=regions[0].mask_path,
                                    fix="check the mask file, or run with --on-bad skip to count it in the report",
                                    reason=SkipReason.EMPTY_MASK)
            geometry.mask = union
            geometry.mask_source_paths = tuple(r.mask_source_path or "" for r in regions)
        view.targets[target] = geometry
    if record.regions and not view.targets:
        raise GeometryError("no labelled structure is drawn on this image (every label is absent)",
                            record=record.record_id, path=record.regions[0].mask_path,
                            fix="check the mask file, or run with --on-bad skip to count it in the report",
                            reason=SkipReason.EMPTY_MASK)



def _dicom_mask(region: RegionRef, shape: tuple[int, int], cache: dict[str, Any]) -> NDArray[np.bool_]:
    """A mask stored as a DICOM image (CBIS-DDSM's ROI masks): foreground = non-zero, on the image's grid."""
    from vgmed_data.imaging.dicom import read_dicom

    assert region.mask_path is not None
    mask = read_dicom(region.mask_path)
    if mask.is_color or mask.frames != 1 or mask.values.shape[1:] != shape:
        raise FileFormatError(f"mask pixels {mask.values.shape[1:]} differ from its image's {shape} (rows, columns)",
                              path=region.mask_path, fix="pair each mask with the image it was drawn on",
                              reason=SkipReason.SHAPE_MISMATCH)
    return np.asarray(mask.values[0] > 0)


def dicom_image_view(record: SourceRecord, *, window: str | None, deid_key: str,
                     burned_in_check: str = "header") -> View:
    """The view of a single-image DICOM record (one frame, masks as DICOM images): rendered with ``window`` (the
    file's own when None), its metadata the safe tags of the de-identified header, ``review`` as for series."""
    from vgmed_data.imaging.burned_in import header_risks, pixel_risks
    from vgmed_data.imaging.dicom import read_dicom

    dicom = read_dicom(record.image.path)
    image = dicom.render(frame=record.image.frame or 0, window=window)
    review = header_risks(dicom.header) if burned_in_check != "off" else []
    if burned_in_check == "pixels":
        review += pixel_risks(np.asarray(image))
    view = View(record=record, image=image, window=dicom.window_label(window), review=tuple(review),
                spacing_mm=dicom.pixel_spacing_mm, laterality_known=record.laterality_known,
                image_origin="dicom-deidentified", source_path=record.image.source_path,
                metadata={"dicom": _dicom_header_metadata(dicom.header, key=deid_key, path=record.image.path)})
    _add_targets(view, record, read_mask=_dicom_mask)
    return view

# --------------------------------------------------------------------------------------------------------- volumes
def _pick_slices(counts: NDArray[np.int64], *, count: int, min_pixels: int) -> list[int]:
    present = np.nonzero(counts >= min_pixels)[0]
    if present.size == 0:
        return []
    chosen = [int(np.argmax(counts))]
    if count > 1:
        for q in np.linspace(0, 1, count + 1)[1:-1]:
            index = int(present[int(round(q * (present.size - 1)))])
            if index not in chosen:
                chosen.append(index)
    return chosen[:count]


def _region_mask(labels: Volume, region: RegionRef) -> NDArray[np.bool_]:
    if region.mask_value is None:
        return labels.data > 0
    return labels.data == region.mask_value


def _check_values(labels: Volume, regions: list[RegionRef], record: SourceRecord) -> None:
    known = {r.mask_value for r in regions if r.mask_value is not None}
    if not known:
        return
    present = {int(v) for v in np.unique(labels.data)} - {0}
    unknown = sorted(present - known)
    if unknown:
        raise InvalidInputError(f"label value(s) {unknown} are not in the {record.source} label map "
                                f"(known: {sorted(known)})", path=labels.path, record=record.record_id,
                                fix="check the label file belongs to this source, or use --on-bad skip",
                                reason=SkipReason.LABEL_NOT_IN_MAP)


def volume_views(record: SourceRecord, *, window: str | None, planes: tuple[str, ...], slices_per_target: int,
                 min_pixels: int, dropped: list[str] | None = None) -> Iterator[View]:
    """Views of a volume record. Targets present in the volume but never reaching ``min_pixels`` on a slice are
    appended to ``dropped``."""
    image = read_nifti(record.image.path, volume_index=record.image.channel)
    if image.data.ndim != 3:
        raise FileFormatError(f"expected a 3D volume, got shape {image.shape}", path=record.image.path,
                              fix="name the sequence (channel) to use in the source entry", reason=SkipReason.SHAPE_MISMATCH)
    chosen_window = parse_window(window) if window else volume_window(image.data)
    by_file: dict[str, list[RegionRef]] = defaultdict(list)
    for region in record.regions:
        by_file[str(region.mask_path)].append(region)
    files = sorted(by_file)
    cached: dict[str, Volume] = {}
    picks: dict[tuple[str, int], set[str]] = defaultdict(set)  # (plane, slice) -> targets picked there
    any_foreground = False
    axes = {"sagittal": (1, 2), "coronal": (0, 2), "axial": (0, 1)}
    target_counts: dict[tuple[str, str], NDArray[np.int64]] = {}
    for path in files:
        labels = read_label_volume(path, image=image)
        _check_values(labels, by_file[path], record)
        for region in by_file[path]:
            mask = _region_mask(labels, region)
            for plane in planes:
                counts = mask.sum(axis=axes[plane]).astype(np.int64)
                key = (region.target, plane)
                target_counts[key] = target_counts.get(key, 0) + counts
        if len(files) == 1:
            cached[path] = labels
        del labels
    for (target, plane), counts in sorted(target_counts.items()):
        any_foreground |= bool(np.any(counts > 0))
        chosen = _pick_slices(counts, count=slices_per_target, min_pixels=min_pixels)
        if not chosen and np.any(counts > 0) and dropped is not None:
            dropped.append(target)
        for index in chosen:
            picks[(plane, index)].add(target)
    if not any_foreground:
        raise GeometryError("every label of this case is empty (no foreground voxel)", record=record.record_id,
                            path=files[0] if files else None,
                            fix="check the label file, or run with --on-bad skip to count it in the report",
                            reason=SkipReason.EMPTY_MASK)
    # pass 2: cut every target's mask on every picked slice
    masks: dict[tuple[str, int], dict[str, NDArray[np.bool_]]] = defaultdict(dict)
    sources: dict[str, list[str]] = defaultdict(list)
    for path in files:
        labels = cached.pop(path, None) or read_label_volume(path, image=image)
        for region in by_file[path]:
            mask = _region_mask(labels, region)
            volume = Volume(labels.path, mask, labels.affine, labels.spacing_mm, labels.original_orientation)
            sources[region.target].append(region.mask_source_path or "")
            for plane, index in picks:
                cut = volume.slice(index, plane=plane)
                if cut.any():
                    previous = masks[(plane, index)].get(region.target)
                    masks[(plane, index)][region.target] = cut if previous is None else (previous | cut)
        del labels
    meta = {r.target: r for r in record.regions}
    for plane, index in sorted(picks):
        pixels = image.slice(index, plane=plane)
        view = View(record=record, image=Image.fromarray(apply_window(pixels, chosen_window), mode="L"),
                    window=chosen_window.label(), spacing_mm=image.slice_spacing(plane), plane=plane,
                    slice_index=index, laterality_known=record.laterality_known and plane != "sagittal",
                    image_origin="nifti")
        for target, mask in sorted(masks[(plane, index)].items()):
            region = meta[target]
            labels_of_target = tuple(sorted({r.label for r in record.regions if r.target == target}))
            view.targets[target] = TargetGeometry(target=target, kind=region.kind, body_part=region.body_part,
                                                  labels=labels_of_target, mask=np.ascontiguousarray(mask),
                                                  mask_source_paths=tuple(sorted(set(sources[target]))))
        view.focus = tuple(sorted(picks[(plane, index)]))
        yield view


# ---------------------------------------------------------------------------------------------- DICOM series
def _dicom_header_metadata(header: Any, *, key: str, path: str) -> dict[str, Any]:
    """``safe_metadata`` of the de-identified header; refuses a slice whose header still identifies someone
    after de-identification (e.g. BurnedInAnnotation=YES: text in the pixels)."""
    from vgmed_data.imaging.deid import deidentify, phi_findings
    from vgmed_data.imaging.dicom import safe_metadata

    clean = deidentify(header, key=key)
    findings = phi_findings(clean)
    if findings:
        raise InvalidInputError(f"still carries identifying data after de-identification: {', '.join(findings)}",
                                path=path, fix="leave this series out of the build, or use --on-bad skip",
                                reason=SkipReason.IDENTIFYING_DATA)
    return safe_metadata(clean)


def dicom_series_views(record: SourceRecord, *, window: str | None, slices_per_target: int, min_pixels: int,
                       deid_key: str, dropped: list[str] | None = None,
                       burned_in_check: str = "header") -> Iterator[View]:
    """Views of a DICOM series record: one per picked slice, rendered with ``window`` (the entry's preset; the
    file's own window when None), its metadata the safe tags of the de-identified slice header. ``review`` holds
    the reasons :mod:`vgmed_data.imaging.burned_in` gives at level ``burned_in_check``."""
    from vgmed_data.imaging.burned_in import header_risks, pixel_risks

    from vgmed_data.builders.readers.dicom import series_geometry
    from vgmed_data.builders.readers.dicom_regions import annotation_masks
    from vgmed_data.imaging.dicom import read_dicom

    geometry = series_geometry(record.image.series)
    by_file: dict[str, list[RegionRef]] = defaultdict(list)
    for region in record.regions:
        by_file[str(region.mask_path)].append(region)
    stacks: dict[str, dict[int, NDArray[np.bool_]]] = defaultdict(dict)  # target -> slice -> mask
    sources: dict[str, set[str]] = defaultdict(set)
    for path in sorted(by_file):
        regions = by_file[path]
        masks = annotation_masks(path, geometry, [int(r.mask_value or 0) for r in regions])
        for region in regions:
            sources[region.target].add(region.mask_source_path or "")
            for index, mask in masks[int(region.mask_value or 0)].items():
                previous = stacks[region.target].get(index)
                stacks[region.target][index] = mask if previous is None else (previous | mask)
    picks: dict[int, set[str]] = defaultdict(set)
    for target, by_slice in sorted(stacks.items()):
        counts = np.zeros(len(geometry.paths), dtype=np.int64)
        for index, mask in by_slice.items():
            counts[index] = int(mask.sum())
        chosen = _pick_slices(counts, count=slices_per_target, min_pixels=min_pixels)
        if not chosen and dropped is not None:
            dropped.append(target)
        for index in chosen:
            picks[index].add(target)
    meta = {r.target: r for r in record.regions}
    for index in sorted(picks):
        path = geometry.paths[index]
        dicom = read_dicom(path)
        if dicom.is_color or dicom.values.shape[1:] != geometry.shape:
            raise FileFormatError(f"slice pixels {dicom.values.shape[1:]} do not match the series size "
                                  f"{geometry.shape}", path=path, fix="use --on-bad skip", reason=SkipReason.SHAPE_MISMATCH)
        image = dicom.render(window=window)
        review = header_risks(dicom.header) if burned_in_check != "off" else []
        if burned_in_check == "pixels":
            review += pixel_risks(np.asarray(image))
        view = View(record=record, image=image, window=dicom.window_label(window), review=tuple(review),
                    spacing_mm=dicom.pixel_spacing_mm, plane=geometry.plane, slice_index=index,
                    laterality_known=record.laterality_known and geometry.radiological,
                    image_origin="dicom-deidentified", source_path=geometry.source_paths[index],
                    metadata={"dicom": _dicom_header_metadata(dicom.header, key=deid_key, path=path)})
        for target in sorted(t for t in stacks if index in stacks[t]):
            region = meta[target]
            view.targets[target] = TargetGeometry(
                target=target, kind=region.kind, body_part=region.body_part,
                labels=tuple(sorted({r.label for r in record.regions if r.target == target})),
                mask=np.ascontiguousarray(stacks[target][index]), mask_source_paths=tuple(sorted(sources[target])))
        view.focus = tuple(sorted(picks[index]))
        yield view
