"""The sample schema: ``datasets.Features`` for the two configurations and typed, validated sample records.

Two configurations share provenance and review fields:

* ``vgmed``: one image, a question that names its target, the target's boxes (and optional mask).
* ``sequences``: several images, a task, an optional reference region, the answer box in one of the images.

The full field table lives in ``docs/schema.md``; the features below are the single source of truth (each
configuration's :class:`~vgmed_data.configs.DatasetConfig` names its own). Samples are
validated when they are constructed (:class:`GroundingSample`, :class:`SequenceSample`), so a bad record fails
where it is made, with a :class:`~vgmed_data.errors.SchemaError` or
:class:`~vgmed_data.errors.GeometryError` naming its id.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasets import Features, Image, List, Value
from PIL import Image as PILImage

from vgmed_data.errors import FileFormatError, SchemaError
from vgmed_data.geometry.boxes import as_boxes, validate_boxes

SPLITS = ("train", "validation", "test")
QUESTION_TYPES = ("localization", "attribute", "presence", "counting", "open")
MODALITIES = ("CT", "MR", "XR", "XA", "MG", "US", "PET", "NM", "ENDOSCOPY", "DERMOSCOPY", "FUNDUS", "OCT", "PATHOLOGY",
              "MICROSCOPY", "OTHER")
SEQUENCE_TASKS = ("registered_difference", "non_registered_difference", "multi_view", "object_tracking",
                  "visual_concept", "visual_patch", "cross_modal", "referring", "longitudinal")
REVIEW_STATUSES = ("unreviewed", "accepted", "corrected", "adjudicated", "rejected")
# How the stored image was produced; the PHI guard refuses "dicom" (not de-identified) at publishing time.
IMAGE_ORIGINS = ("raster", "nifti", "dicom", "dicom-deidentified", "synthetic")
PLANES = ("axial", "coronal", "sagittal")

BOX = List(Value("float64"), length=4)
REVIEW = {
    "status": Value("string"),
    "verdicts": List(Value("string")),
    "annotators": List(Value("string")),
    "agreement": Value("float64"),
    "adjudicator": Value("string"),
    "notes": Value("string"),
}
PROVENANCE = {
    "modality": Value("string"),
    "body_part": Value("string"),
    "source": Value("string"),
    "source_id": Value("string"),
    "license": Value("string"),
    "redistributable": Value("bool"),
    "patient_id": Value("string"),
    "split": Value("string"),
    "metadata": Value("string"),
    "review": REVIEW,
}

VGMED_FEATURES = Features({
    "id": Value("string"),
    "image": Image(),
    "width": Value("int32"),
    "height": Value("int32"),
    "question": Value("string"),
    "question_type": Value("string"),
    "answer": Value("string"),
    "options": List(Value("string")),
    "target": Value("string"),
    "boxes": List(BOX),
    "box_labels": List(Value("string")),
    "mask": Image(),
    "pixel_spacing_mm": List(Value("float64"), length=2),
    "plane": Value("string"),
    "slice_index": Value("int32"),
    "window": Value("string"),
    "image_origin": Value("string"),
    **PROVENANCE,
})

IMAGE_PROVENANCE = {
    "source": Value("string"),
    "source_id": Value("string"),
    "plane": Value("string"),
    "slice_index": Value("int32"),
    "transform": Value("string"),
    "image_origin": Value("string"),
}

SEQUENCES_FEATURES = Features({
    "id": Value("string"),
    "images": List(Image()),
    "image_sizes": List(List(Value("int32"), length=2)),
    "task": Value("string"),
    "question": Value("string"),
    "answer": Value("string"),
    "target": Value("string"),
    "reference_image_index": Value("int32"),
    "reference_box": BOX,
    "answer_image_index": Value("int32"),
    "answer_box": BOX,
    "image_provenance": List(IMAGE_PROVENANCE),
    **PROVENANCE,
})


def storage_row(sample: "GroundingSample | SequenceSample | Mapping[str, Any]", *, features: Features) -> dict[str, Any]:
    """The Arrow storage form of a sample. Our dataclasses already produce it (images as PNG bytes), so only
    plain mappings (which may hold PIL images or arrays) go through ``features.encode_example`` (the
    configuration's :attr:`~vgmed_data.configs.DatasetConfig.features`)."""
    if isinstance(sample, (GroundingSample, SequenceSample)):
        return sample.to_row()
    return features.encode_example(dict(sample))


def row_metadata(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row's ``metadata`` column (JSON text) as a dict, ``{}`` when empty; :class:`FileFormatError`
    naming the row when the text is not a JSON object."""
    try:
        value = json.loads(row.get("metadata") or "{}")
    except (TypeError, ValueError, RecursionError) as error:
        detail = " ".join(str(error).split())[:120]
        raise FileFormatError(f"metadata is not JSON ({detail})", record=str(row.get("id")),
                              fix="run `vgmed validate` on the folder; rebuild or download it again") from None
    if not isinstance(value, dict):
        raise FileFormatError(f"metadata is JSON but a {type(value).__name__}, not an object", record=str(row.get("id")),
                              fix="run `vgmed validate` on the folder; rebuild or download it again")
    return value


def make_sample_id(source: str, source_id: str, *parts: object) -> str:
    """Deterministic id: ``<source>-<16 hex>`` from the source, the source record id and the other parts
    (region, question type, template...). The same inputs always give the same id."""
    text = json.dumps([source, source_id, *[str(p) for p in parts]], separators=(",", ":"))
    return f"{source}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def encode_png(image: PILImage.Image | np.ndarray) -> bytes:
    """Deterministic PNG bytes (no timestamps, fixed compression)."""
    if isinstance(image, np.ndarray):
        if image.dtype == bool:
            image = PILImage.fromarray(image.astype(np.uint8) * 255, mode="L")
        else:
            image = PILImage.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _check_choice(value: str, allowed: Sequence[str], name: str, record: str) -> None:
    if value not in allowed:
        raise SchemaError(f"{name} {value!r} is not one of {', '.join(allowed)}", record=record,
                          fix=f"set {name} to one of the allowed values")


@dataclass(frozen=True)
class Review:
    status: str = "unreviewed"
    verdicts: tuple[str, ...] = ()
    annotators: tuple[str, ...] = ()
    agreement: float | None = None
    adjudicator: str = ""
    notes: str = ""

    def to_row(self) -> dict[str, Any]:
        return {"status": self.status, "verdicts": list(self.verdicts), "annotators": list(self.annotators),
                "agreement": self.agreement, "adjudicator": self.adjudicator, "notes": self.notes}

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | None) -> "Review":
        if not row:
            return cls()
        return cls(row.get("status") or "unreviewed", tuple(row.get("verdicts") or ()),
                   tuple(row.get("annotators") or ()), row.get("agreement"), row.get("adjudicator") or "",
                   row.get("notes") or "")


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """Where a sample came from and whether its image may be published."""

    modality: str
    body_part: str
    source: str
    source_id: str
    license: str
    redistributable: bool
    patient_id: str
    split: str = "test"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    review: Review = field(default_factory=Review)

    def check(self, record: str) -> None:
        _check_choice(self.modality, MODALITIES, "modality", record)
        _check_choice(self.split, SPLITS, "split", record)
        _check_choice(self.review.status, REVIEW_STATUSES, "review status", record)
        for name in ("source", "source_id", "license", "patient_id"):
            if not getattr(self, name):
                raise SchemaError(f"{name} is empty", record=record, fix=f"every sample needs a {name}")

    def to_row(self) -> dict[str, Any]:
        return {"modality": self.modality, "body_part": self.body_part, "source": self.source,
                "source_id": self.source_id, "license": self.license, "redistributable": bool(self.redistributable),
                "patient_id": self.patient_id, "split": self.split,
                "metadata": json.dumps(dict(self.metadata), sort_keys=True, separators=(",", ":")),
                "review": self.review.to_row()}


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _image_size(image: PILImage.Image | bytes | None) -> tuple[int, int] | None:
    if image is None:
        return None
    if isinstance(image, PILImage.Image):
        return image.size
    if len(image) >= 24 and image[:8] == _PNG_SIGNATURE and image[12:16] == b"IHDR":
        # PNG (what encode_png writes): width and height are the first fields of the mandatory first chunk;
        # reading them directly skips PIL's format detection (~10 us a row). Anything else: PIL decides.
        width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
        if width > 0 and height > 0:
            return width, height
    with PILImage.open(io.BytesIO(image)) as opened:
        return opened.size


def _image_cell(image: PILImage.Image | bytes | None) -> dict[str, Any] | None:
    if image is None:
        return None
    data = image if isinstance(image, bytes) else encode_png(image)
    return {"bytes": data, "path": None}


@dataclass(frozen=True, kw_only=True)
class GroundingSample:
    """One ``vgmed`` row. ``image`` and ``mask`` are PIL images or encoded bytes; boxes are internal xyxy."""

    id: str
    image: PILImage.Image | bytes | None
    question: str
    question_type: str
    answer: str
    target: str
    boxes: Sequence[Sequence[float]]
    box_labels: Sequence[str]
    provenance: Provenance
    options: Sequence[str] = ()
    mask: PILImage.Image | bytes | None = None
    size: tuple[int, int] | None = None  # (width, height); required when image is None (annotations only)
    pixel_spacing_mm: tuple[float, float] | None = None  # (x, y) = (column, row) spacing
    plane: str = ""
    slice_index: int | None = None
    window: str = ""
    image_origin: str = "raster"

    def __post_init__(self) -> None:
        record = self.id
        if not self.id:
            raise SchemaError("sample id is empty", fix="derive ids with make_sample_id(...)")
        size = _image_size(self.image) or self.size
        if size is None:
            raise SchemaError("sample has no image and no size", record=record, fix="pass image= or size=")
        if self.image is not None and self.size is not None and tuple(self.size) != tuple(size):
            raise SchemaError(f"size {self.size} differs from the image's {size}", record=record)
        object.__setattr__(self, "size", (int(size[0]), int(size[1])))
        for name in ("question", "answer", "target"):
            if not str(getattr(self, name)).strip():
                raise SchemaError(f"{name} is empty", record=record)
        _check_choice(self.question_type, QUESTION_TYPES, "question_type", record)
        _check_choice(self.image_origin, IMAGE_ORIGINS, "image_origin", record)
        if self.plane:
            _check_choice(self.plane, PLANES, "plane", record)
        boxes = validate_boxes(self.boxes, image_size=size, record=record) if len(self.boxes) else as_boxes([])
        object.__setattr__(self, "boxes", [list(map(float, b)) for b in boxes])
        if len(self.box_labels) != len(boxes):
            raise SchemaError(f"{len(boxes)} boxes but {len(self.box_labels)} box labels", record=record,
                              fix="give one label per box")
        if self.options and self.answer not in self.options:
            raise SchemaError(f"answer {self.answer!r} is not among the options {list(self.options)}",
                              record=record)
        if len(set(self.options)) != len(self.options):
            raise SchemaError(f"options repeat: {list(self.options)}", record=record)
        mask_size = _image_size(self.mask)
        if mask_size is not None and mask_size != size:
            raise SchemaError(f"mask size {mask_size} differs from image size {size}", record=record)
        if self.pixel_spacing_mm is not None and min(self.pixel_spacing_mm) <= 0:
            raise SchemaError(f"pixel spacing must be positive, got {self.pixel_spacing_mm}", record=record)
        self.provenance.check(record)

    def to_row(self) -> dict[str, Any]:
        width, height = self.size  # type: ignore[misc]
        return {
            "id": self.id, "image": _image_cell(self.image), "width": width, "height": height,
            "question": self.question, "question_type": self.question_type, "answer": self.answer,
            "options": list(self.options), "target": self.target, "boxes": [list(b) for b in self.boxes],
            "box_labels": list(self.box_labels), "mask": _image_cell(self.mask),
            "pixel_spacing_mm": None if self.pixel_spacing_mm is None else [float(v) for v in self.pixel_spacing_mm],
            "plane": self.plane, "slice_index": self.slice_index, "window": self.window,
            "image_origin": self.image_origin, **self.provenance.to_row(),
        }


@dataclass(frozen=True, kw_only=True)
class SequenceImage:
    """One image of a sequence sample with its own provenance and the transform that produced it."""

    image: PILImage.Image | bytes | None
    source: str
    source_id: str
    size: tuple[int, int] | None = None
    plane: str = ""
    slice_index: int | None = None
    transform: str = ""  # Transform.to_json() from the source slice to this image, "" if untouched
    image_origin: str = "raster"


@dataclass(frozen=True, kw_only=True)
class SequenceSample:
    """One ``sequences`` row: several images, the answer box in ``answer_image_index``."""

    id: str
    images: Sequence[SequenceImage]
    task: str
    question: str
    answer: str
    target: str
    answer_image_index: int
    answer_box: Sequence[float]
    provenance: Provenance
    reference_image_index: int | None = None
    reference_box: Sequence[float] | None = None

    def __post_init__(self) -> None:
        record = self.id
        if not self.id:
            raise SchemaError("sample id is empty", fix="derive ids with make_sample_id(...)")
        if len(self.images) < 1:
            raise SchemaError("a sequence sample needs at least one image", record=record)
        _check_choice(self.task, SEQUENCE_TASKS, "task", record)
        sizes = []
        for index, item in enumerate(self.images):
            size = _image_size(item.image) or item.size
            if size is None:
                raise SchemaError(f"image {index} has no pixels and no size", record=record)
            _check_choice(item.image_origin, IMAGE_ORIGINS, f"image {index} image_origin", record)
            sizes.append((int(size[0]), int(size[1])))
        object.__setattr__(self, "_sizes", sizes)
        for name in ("question", "answer"):
            if not str(getattr(self, name)).strip():
                raise SchemaError(f"{name} is empty", record=record)
        if not 0 <= self.answer_image_index < len(self.images):
            raise SchemaError(f"answer_image_index {self.answer_image_index} is out of range for "
                              f"{len(self.images)} images", record=record)
        validate_boxes([self.answer_box], image_size=sizes[self.answer_image_index], record=record)
        if (self.reference_image_index is None) != (self.reference_box is None):
            raise SchemaError("reference_image_index and reference_box go together", record=record)
        if self.reference_image_index is not None and self.reference_box is not None:
            if not 0 <= self.reference_image_index < len(self.images):
                raise SchemaError(f"reference_image_index {self.reference_image_index} is out of range for "
                                  f"{len(self.images)} images", record=record)
            validate_boxes([self.reference_box], image_size=sizes[self.reference_image_index], record=record)
        self.provenance.check(record)

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return list(getattr(self, "_sizes"))

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "images": [_image_cell(item.image) for item in self.images],
            "image_sizes": [list(size) for size in self.sizes],
            "task": self.task, "question": self.question, "answer": self.answer, "target": self.target,
            "reference_image_index": self.reference_image_index,
            "reference_box": None if self.reference_box is None else [float(v) for v in self.reference_box],
            "answer_image_index": self.answer_image_index,
            "answer_box": [float(v) for v in self.answer_box],
            "image_provenance": [
                {"source": item.source, "source_id": item.source_id, "plane": item.plane,
                 "slice_index": item.slice_index, "transform": item.transform, "image_origin": item.image_origin}
                for item in self.images
            ],
            **self.provenance.to_row(),
        }
