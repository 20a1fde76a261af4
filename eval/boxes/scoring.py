"""Scoring predicted boxes against a sample's answer: IoU, Acc@0.3/0.5/0.7, mIoU, image-index accuracy.

Stated policies (the defects of MedSG-Bench's evaluation that they avoid are in docs/sequences.md):

* **First box.** Only the first box the model wrote counts; choosing the best of several after seeing the answer
  is not allowed. How many outputs had more than one box is reported.
* **Image index is scored.** On multi-image samples the image the model names is compared with the answer's
  image; no named image is wrong. "Correct image and IoU >= 0.5" is reported beside plain Acc@0.5.
* **The box is converted** from the model's convention on its own input to the stored image of the image it
  named (or of the answer image when it named none or an index out of range), through the inverse of the
  model's input transform. It is not clipped to the image.
* **Zero-area and inverted boxes** have IoU 0. A missing prediction scores 0 and is counted.
* Where the target has several boxes (``vgmed`` samples), the IoU is the best over the *target's* boxes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vgmed_data.eval.boxes.formats import OutputFormat
from vgmed_data.eval.boxes.parsing import ParseMode
from vgmed_data.errors import InvalidInputError
from vgmed_data.geometry import Transform, box_iou

THRESHOLDS = (0.3, 0.5, 0.7)
Box = tuple[float, float, float, float]


@dataclass(frozen=True, kw_only=True)
class Target:
    """What a prediction is scored against. ``answer_image_index`` is None for single-image samples.
    ``image_stated`` is False where the source never said which image holds the answer (MedSG-Bench's
    difference tasks): the box is still scored on the stored answer image, the image index is not."""

    id: str
    task: str
    split: str
    image_sizes: tuple[tuple[int, int], ...]
    answer_image_index: int | None
    answer_boxes: tuple[Box, ...]
    image_stated: bool = True

    def __post_init__(self) -> None:
        if not self.answer_boxes:
            raise InvalidInputError("a target needs at least one answer box", record=self.id)
        if not self.image_sizes:
            raise InvalidInputError("a target needs at least one image size", record=self.id)

    @property
    def multi_image(self) -> bool:
        return self.answer_image_index is not None and len(self.image_sizes) > 1 and self.image_stated

    @property
    def answer_index(self) -> int:
        return 0 if self.answer_image_index is None else self.answer_image_index


@dataclass(frozen=True, kw_only=True)
class SampleScore:
    id: str
    task: str
    iou: float
    image_correct: bool | None  # None: single-image sample, nothing to choose
    predicted_image_index: int | None
    box: Box | None  # the scored box, stored frame
    mode: ParseMode | str
    boxes_found: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        data["box"] = None if self.box is None else [float(v) for v in self.box]
        return data


def box_score(box: Sequence[float] | None, target: Target) -> float:
    """IoU of one stored-frame box with the target (best over the target's boxes); 0 for no box."""
    if box is None:
        return 0.0
    return float(np.max(box_iou([list(box)], [list(b) for b in target.answer_boxes])))


def image_correct(predicted: int | None, target: Target) -> bool | None:
    if not target.multi_image:
        return None
    return predicted is not None and predicted == target.answer_image_index


def score_box(target: Target, *, box: Sequence[float] | None, image_index: int | None, mode: str,
              boxes_found: int = 1, notes: Sequence[str] = ()) -> SampleScore:
    """Score a box already in the stored frame (baselines, tests)."""
    stored = None if box is None else (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
    return SampleScore(id=target.id, task=target.task, iou=box_score(stored, target),
                       image_correct=image_correct(image_index, target), predicted_image_index=image_index,
                       box=stored, mode=mode, boxes_found=boxes_found if box is not None else 0, notes=tuple(notes))


def score_output(target: Target, text: str, *, fmt: OutputFormat,
                 transforms: Sequence[Transform] | None = None) -> SampleScore:
    """Parse one raw model output and score it. ``transforms`` (stored -> model input, one per image) default
    to the format's input policy applied to each stored image size."""
    parsed = fmt.parse(text)
    notes = list(parsed.notes)
    index = parsed.image_index
    frame = index if index is not None and 0 <= index < len(target.image_sizes) else target.answer_index
    if index is not None and not 0 <= index < len(target.image_sizes):
        notes.append(f"named image {index + 1} does not exist ({len(target.image_sizes)} images)")
    if transforms is not None and len(transforms) != len(target.image_sizes):
        raise InvalidInputError(f"{len(transforms)} input transforms for {len(target.image_sizes)} images",
                                record=target.id, fix="give one transform per image, in order")
    transform = transforms[frame] if transforms is not None else fmt.policy.transform(target.image_sizes[frame])
    if tuple(transform.src_size) != tuple(target.image_sizes[frame]):
        raise InvalidInputError(f"input transform starts at {transform.src_size}, image {frame + 1} is "
                                f"{target.image_sizes[frame]}", record=target.id,
                                fix="build the transform from the stored image's size")
    box = None
    if parsed.first_box is not None:
        converted = fmt.to_stored(parsed.first_box, transform=transform)
        box = tuple(float(v) for v in converted)
        if box[2] <= box[0] or box[3] <= box[1]:
            notes.append("zero-area or inverted box: IoU 0")
    return score_box(target, box=box, image_index=index, mode=parsed.mode, boxes_found=len(parsed.boxes),
                     notes=notes)


def missing(target: Target) -> SampleScore:
    return score_box(target, box=None, image_index=None, mode="missing", boxes_found=0,
                     notes=("no prediction for this id",))


def summarise(scores: Iterable[SampleScore]) -> dict[str, Any]:
    """Metrics over ``scores``: n, miou, acc@t, image_acc and image_and_iou50 (over multi-image samples only,
    None when there are none), and how outputs were parsed."""
    items = list(scores)
    n = len(items)
    if n == 0:
        return {"n": 0}
    ious = np.array([s.iou for s in items])
    multi = [s for s in items if s.image_correct is not None]
    modes: dict[str, int] = {}
    for s in items:
        modes[str(s.mode)] = modes.get(str(s.mode), 0) + 1
    summary: dict[str, Any] = {"n": n, "miou": round(float(ious.mean()), 6)}
    for t in THRESHOLDS:
        summary[f"acc@{t}"] = round(float((ious >= t).mean()), 6)
    if multi:
        summary["image_acc"] = round(sum(bool(s.image_correct) for s in multi) / len(multi), 6)
        summary["image_and_iou50"] = round(sum(bool(s.image_correct) and s.iou >= 0.5 for s in multi) / len(multi), 6)
    else:
        summary["image_acc"] = None
        summary["image_and_iou50"] = None
    summary["parse"] = dict(sorted(modes.items()))
    summary["multi_box_outputs"] = sum(s.boxes_found > 1 for s in items)
    return summary


def summarise_by_task(scores: Iterable[SampleScore]) -> dict[str, dict[str, Any]]:
    """``{"all": ..., "<task>": ...}``."""
    items = list(scores)
    tasks: dict[str, list[SampleScore]] = {}
    for s in items:
        tasks.setdefault(s.task, []).append(s)
    result = {"all": summarise(items)}
    result.update({task: summarise(group) for task, group in sorted(tasks.items())})
    return result


def check_unique(targets: Sequence[Target]) -> Mapping[str, Target]:
    by_id: dict[str, Target] = {}
    for target in targets:
        if target.id in by_id:
            raise InvalidInputError("duplicate sample id in the dataset", record=target.id)
        by_id[target.id] = target
    return by_id
