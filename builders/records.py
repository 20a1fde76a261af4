"""Source records: what every reader yields, and what the VGMED and sequence builders consume.

A :class:`SourceRecord` is a *reference*: cheap to create and to pickle (paths, label values, boxes, metadata),
so a reader can list a whole source without loading pixels. :func:`vgmed_data.builders.loading.load_record` turns it into
pixels and masks when a worker processes it (one volume at a time).

* ``image``: an :class:`ImageRef` (path + kind: ``nifti`` | ``raster`` | ``dicom``, the channel of a
  multi-sequence volume, the frame of a multi-frame DICOM, the instance files of a DICOM series).
* ``regions``: :class:`RegionRef` items, each naming the source label and the target it maps to, with where its
  pixels are: a label image + value (``mask_path``/``mask_value``; ``mask_value=None`` means "any non-zero
  voxel", as in one-file-per-structure folders; for DICOM series: a SEG or RTSTRUCT file + its SegmentNumber
  or ROINumber), or a box in internal pixel ``xyxy`` (box tables, VQA sets).
* ``patient_id``/``case_id``: the subject (the unit the entry's ``split_unit`` names: a patient, or a volume,
  image or video where the source links nothing across them; used for splits) and the case within the source.
  ``groups`` holds the ids of coarser units a build may split by instead (``{"centre": "C3"}``).
* ``spacing_mm``: voxel/pixel spacing when known; ``view``: "axial"/"PA"/... when known.

Coordinates follow the project's one convention: pixel ``xyxy`` floats, x2/y2 exclusive, in the frame of the
displayed image (for volumes: the display-oriented slice of :mod:`vgmed_data.imaging.nifti`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vgmed_data.errors import InvalidInputError

IMAGE_KINDS = ("nifti", "raster", "dicom")
REGION_KINDS = ("organ", "lesion", "device", "other")
# What a source calls a subject, i.e. the unit no split may divide: a patient, a study, a volume or an image (when
# the source links nothing across them), a video (endoscopy sequences), or an acquisition centre.
SPLIT_UNITS = ("patient", "study", "volume", "image", "video", "centre")


@dataclass(frozen=True, kw_only=True)
class ImageRef:
    """Where the pixels are. ``source_path`` is relative to the source root (kept in row metadata so
    ``vgmed hydrate`` can re-make the image from a local copy of the source)."""

    path: str
    source_path: str
    kind: str
    channel: int | None = None  # volume index of a 4D multi-sequence NIfTI
    channel_name: str = ""  # e.g. "FLAIR"
    frame: int | None = None  # frame of a multi-frame DICOM
    # DICOM series: (absolute path, path relative to the source root) of every instance; ``path`` is then the
    # series folder and each view points at its own slice file
    series: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in IMAGE_KINDS:
            raise InvalidInputError(f"image kind {self.kind!r} is not one of {', '.join(IMAGE_KINDS)}",
                                    path=self.path)


@dataclass(frozen=True, kw_only=True)
class RegionRef:
    """One labelled structure of a record."""

    label: str  # the label as the source names it (label-map key)
    target: str  # the target name used in questions ("liver", "left lung"...)
    body_part: str
    kind: str  # organ | lesion | device | other
    mask_path: str | None = None
    mask_source_path: str | None = None
    mask_value: int | None = None  # None: any non-zero value of mask_path
    mask_threshold: int | None = None  # for lossy (JPEG) masks: foreground is value > threshold
    mask_colour: tuple[int, int, int] | None = None  # RGB label images: this structure's colour
    # every grey value or colour the mask file may hold (the labels declared for it; 0 / black is background):
    # anything else in the file is a label the entry does not know
    mask_palette: tuple[int, ...] | tuple[tuple[int, int, int], ...] | tuple[str, ...] = ()
    # a label of a file holding several labels may be absent from one image (m2caiSeg has no liver on some frames):
    # the target is then left out of that image, where a dedicated mask file with no foreground is an error
    may_be_absent: bool = False
    # the source draws its masks at another resolution than its images (CHUAC): resample the mask to the image
    # (nearest neighbour) when the aspect ratios agree, instead of refusing the size mismatch
    mask_resample: bool = False
    # polygon annotation files (Aperio ImageScope XML: MoNuSAC): mask_path is the XML, this the class whose polygons
    # make the mask, and mask_palette every class name declared for that file
    mask_polygon_class: str | None = None
    mask_fill: bool = False  # the file draws the structure's outline (HC18's ellipse): its inside is the region
    box: tuple[float, float, float, float] | None = None  # internal xyxy (box sources)
    # the source's own gradings of this structure ((attribute name, answer), ...; SPIDER's per-disc gradings)
    attributes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in REGION_KINDS:
            raise InvalidInputError(f"region kind {self.kind!r} is not one of {', '.join(REGION_KINDS)}",
                                    record=self.label)
        if (self.mask_path is None) == (self.box is None):
            raise InvalidInputError("a region has either a mask (mask_path) or a box, not both or neither",
                                    record=self.label)


@dataclass(frozen=True, kw_only=True)
class SourceRecord:
    """One image (2D) or one volume (3D, possibly one sequence of a multi-sequence study) with its regions."""

    source: str
    record_id: str  # unique within the source; stable across runs
    patient_id: str
    case_id: str
    modality: str
    image: ImageRef
    regions: tuple[RegionRef, ...]
    body_part: str = ""
    spacing_mm: tuple[float, ...] | None = None  # (x, y) for 2D; volumes take it from the file
    view: str = ""
    laterality_known: bool = False  # True when image left/right maps to patient right/left
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # ids of the other split units this record belongs to ({"centre": "C3"}), for the entry's other_split_units
    groups: Mapping[str, str] = field(default_factory=dict)
    # the record's own licence where a source's series differ (IDC); empty / None: the source entry's
    license: str = ""
    redistributable: bool | None = None

    @property
    def is_volume(self) -> bool:
        return self.image.kind == "nifti"


def patient_part(key: str, count: int) -> int:
    """Which of ``count`` parts of a sharded build (``vgmed build vgmed --shard I/N``) the patient ``key`` falls
    to: a hash, the same on every machine."""
    import hashlib

    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % count

