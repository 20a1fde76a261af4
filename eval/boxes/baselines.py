"""Trivial baselines, always reported beside a model: they show what a score is worth.

* ``full_image``: the whole image as the box; on multi-image samples it names the last image (a constant rule
  that needs no fitting).
* ``mean_box``: per task, the mean answer box in coordinates relative to its image (xyxy divided by width,
  height), scaled to the answer-frame image; it names the task's most frequent answer image (ties: the lowest
  index). It is **fitted on another split** than the one scored; fitting on the scored split is refused.
  A task absent from the fitting split uses the mean over all fitted samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vgmed_data.eval.boxes.scoring import SampleScore, Target, score_box
from vgmed_data.errors import InvalidInputError

Box = tuple[float, float, float, float]


def full_image(target: Target) -> SampleScore:
    index = len(target.image_sizes) - 1 if target.multi_image else None
    width, height = target.image_sizes[target.answer_index if index is None else index]
    return score_box(target, box=(0.0, 0.0, float(width), float(height)), image_index=index, mode="baseline")


@dataclass(frozen=True)
class MeanBox:
    """Fitted means: task -> relative xyxy, task -> most frequent answer image, and the overall fallback."""

    fitted_on: str
    relative: dict[str, Box] = field(default_factory=dict)
    image_index: dict[str, int | None] = field(default_factory=dict)
    overall: Box = (0.0, 0.0, 1.0, 1.0)
    n: int = 0

    @classmethod
    def fit(cls, targets: Sequence[Target], *, split: str, scored_split: str) -> "MeanBox":
        if split == scored_split:
            raise InvalidInputError(f"the mean-box baseline cannot be fitted on the scored split {split!r}",
                                    fix="fit it on another split (e.g. train or validation)")
        if not targets:
            raise InvalidInputError(f"no samples in split {split!r} to fit the mean-box baseline on",
                                    fix="build the dataset with a fitting split, or pass --baseline-split")
        by_task: dict[str, list[np.ndarray]] = {}
        index_votes: dict[str, list[int]] = {}
        for target in targets:
            width, height = target.image_sizes[target.answer_index]
            box = np.asarray(target.answer_boxes[0], dtype=np.float64) / np.array([width, height, width, height])
            by_task.setdefault(target.task, []).append(box)
            if target.multi_image:
                index_votes.setdefault(target.task, []).append(int(target.answer_index))
        relative = {task: _tuple(np.mean(boxes, axis=0)) for task, boxes in by_task.items()}
        images: dict[str, int | None] = {}
        for task, votes in index_votes.items():
            counts = np.bincount(votes)
            images[task] = int(np.argmax(counts))
        overall = _tuple(np.mean([b for boxes in by_task.values() for b in boxes], axis=0))
        return cls(split, relative, images, overall, len(targets))

    def predict(self, target: Target) -> SampleScore:
        relative = self.relative.get(target.task, self.overall)
        index = None
        if target.multi_image:
            index = self.image_index.get(target.task)
            if index is None or index >= len(target.image_sizes):
                index = len(target.image_sizes) - 1
        width, height = target.image_sizes[target.answer_index if index is None else index]
        box = (relative[0] * width, relative[1] * height, relative[2] * width, relative[3] * height)
        return score_box(target, box=box, image_index=index, mode="baseline")


def _tuple(values: np.ndarray) -> Box:
    a, b, c, d = (float(v) for v in values)
    return (a, b, c, d)
