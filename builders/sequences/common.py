"""Shared pieces of the task recipes: settings, seeded random streams, patient-level splits, choosing a
structure, and assembling a :class:`~vgmed_data.schema.SequenceSample`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from vgmed_data.geometry import label_components, reference_phrase
from vgmed_data.schema import Provenance, SequenceImage, SequenceSample, encode_png, make_sample_id

from vgmed_data.builders.sequences.inputs import Case, display
from vgmed_data.builders.policy import Skip
from vgmed_data.builders.skeleton import Hashing, Seeding
from vgmed_data.builders.sequences.render import Frame, draw_box

Box = tuple[float, float, float, float]
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything that changes the output; the same settings and inputs give the same bytes."""

    seed: int = 0
    size: int = 336  # images are padded to square and resized to size x size
    box_width: int = 2  # red reference box line width, pixels of the stored image
    min_region_pixels: int = 16  # smallest answer/reference region, pixels of the stored image
    fit_fraction: float = 0.2  # patients assigned to "train" (fitting split for baselines); the rest "test"
    tracking_slices: int = 6
    patches: int = 3
    max_shift: int = 20  # non-registered difference: independent shift per image, pixels
    samples_per_case: int = 1

    @property
    def seeding(self) -> Seeding:
        """Streams and splits are drawn with this builder's hashing (never changed: it would move the bytes of
        every earlier build)."""
        return Seeding(self.seed, Hashing.JSON)

    def rng(self, *parts: object) -> np.random.Generator:
        """An independent, reproducible stream per (task, source, case, ...)."""
        return self.seeding.generator(*parts)

    def split_of(self, case: Case) -> str:
        """The case's patient-level split (``fit_fraction`` of the patients in "train", the rest in "test"):
        every sample of a patient shares it."""
        return self.seeding.split(case.source, case.patient_id,
                                  splits=(("train", self.fit_fraction), ("test", 1 - self.fit_fraction)))


@dataclass(frozen=True)
class Structure:
    """One 3D connected component of a target in a case."""

    target: str
    mask: NDArray[np.bool_]  # (x, y, z)
    voxels: int


def structures(case: Case, *, min_voxels: int = 1) -> list[Structure]:
    """Every target's 3D connected components (26-connected), largest first within a target, targets sorted."""
    found: list[Structure] = []
    for target in sorted(case.masks):
        labels, count = label_components(case.masks[target])
        if count == 0:
            continue
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        for component in np.argsort(-sizes, kind="stable"):
            if sizes[component] >= min_voxels:
                found.append(Structure(target, labels == component + 1, int(sizes[component])))
    return found


def choose(items: Sequence[T], rng: np.random.Generator) -> T:
    """One of ``items`` (not empty), drawn from the seeded stream."""
    return items[int(rng.integers(len(items)))]


def pick_structure(case: Case, rng: np.random.Generator, log: TaskLog) -> Structure | None:
    """One structure of the case (seeded); ``None`` after counting a skip when the case has none."""
    items = structures(case)
    if not items:
        log.skip(case, "no labelled structure")
        return None
    return choose(items, rng)


def best_slice(mask: NDArray[np.bool_], *, plane: str = "axial") -> int:
    """The slice index of ``plane`` where ``mask`` has the most voxels."""
    axis = {"sagittal": 0, "coronal": 1, "axial": 2}[plane]
    other = tuple(a for a in range(3) if a != axis)
    return int(np.argmax(mask.sum(axis=other)))


def image_label(index: int) -> str:
    return f"Image {index + 1}"


def answer_text(index: int, box: Sequence[float], *, size: tuple[int, int]) -> str:
    from vgmed_data.geometry import box_text

    return f"{image_label(index)}: {box_text(box, fmt='xyxy', image_size=size)}"


def build_sample(*, task: str, case: Case, frames: Sequence[Frame], question: str, target: str,
                 answer_index: int, answer_box: Box, split: str, variant: object = "",
                 reference_index: int | None = None, reference_box: Box | None = None,
                 metadata: Mapping[str, Any] | None = None, extra_license: Sequence[Case] = ()) -> SequenceSample:
    size = (frames[answer_index].pixels.shape[1], frames[answer_index].pixels.shape[0])
    redistributable = case.redistributable and all(c.redistributable for c in extra_license)
    licenses = sorted({case.license, *(c.license for c in extra_license)})
    sample_id = make_sample_id(case.source, case.case_id, "sequences", task, variant)
    images = [SequenceImage(image=encode_png(f.pixels), source=f.source, source_id=f.source_id, plane=f.plane,
                            slice_index=f.slice_index, transform=f.transform.to_json(), image_origin=f.image_origin)
              for f in frames]
    return SequenceSample(
        id=sample_id, images=images, task=task, question=question,
        answer=answer_text(answer_index, answer_box, size=size), target=target,
        answer_image_index=answer_index, answer_box=list(answer_box),
        reference_image_index=reference_index, reference_box=None if reference_box is None else list(reference_box),
        provenance=Provenance(modality=case.modality, body_part=case.body_part, source=case.source,
                              source_id=case.case_id, license=" AND ".join(licenses),
                              redistributable=redistributable, patient_id=case.patient_id, split=split,
                              metadata={"recipe": task, **dict(metadata or {})}))


@dataclass
class TaskLog:
    """Samples and skips of one task, per source (for the build report)."""

    made: dict[str, int] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)

    def skip(self, case: Case, reason: str) -> None:
        self.skipped.append(Skip(source=case.source, record=case.case_id, reason=reason))

    def count(self, sample: SequenceSample) -> SequenceSample:
        self.made[sample.provenance.source] = self.made.get(sample.provenance.source, 0) + 1
        return sample


def same_split(cases: Sequence[Case], case: Case, settings: Settings) -> Iterator[Case]:
    """Other cases in the same split as ``case`` (partners must not leak patients across splits)."""
    split = settings.split_of(case)
    for other in cases:
        if other is not case and settings.split_of(other) == split:
            yield other


def slice_frame(case: Case, *, plane: str, index: int, settings: Settings, channel: str | None = None) -> Frame:
    from vgmed_data.builders.sequences.render import make_frame

    return make_frame(case.slice(plane=plane, index=index, channel=channel), spacing=case.spacing(plane),
                      size=settings.size, source=case.source, source_id=case.case_id,
                      plane=plane if case.is_volume else "", slice_index=index if case.is_volume else None,
                      image_origin=case.image_origin, label=channel or "")


def structure_box(frame: Frame, mask2d: NDArray[np.bool_], *, settings: Settings) -> Box | None:
    """Box of a slice mask in the frame, None when it covers fewer than ``min_region_pixels`` there."""
    from vgmed_data.builders.sequences.render import bbox, frame_mask

    in_frame = frame_mask(frame, mask2d)
    return bbox(in_frame) if int(in_frame.sum()) >= settings.min_region_pixels else None


def structure_view(case: Case, mask: NDArray[np.bool_], *, plane: str = "axial", index: int, settings: Settings,
                   channel: str | None = None) -> tuple[Frame, Box | None]:
    """The rendered slice and the box of a 3D ``mask`` in it (None when too small there)."""
    frame = slice_frame(case, plane=plane, index=index, settings=settings, channel=channel)
    return frame, structure_box(frame, display(mask, plane=plane, index=index), settings=settings)


def mark_reference(frames: list[Frame], box: Box, *, settings: Settings) -> str:
    """Draw ``box`` in red on Image 1 (``frames[0]``, replaced) and return the box as written in questions."""
    frames[0] = draw_box(frames[0], box, width=settings.box_width)
    return reference_phrase(box, image_size=(settings.size, settings.size))
