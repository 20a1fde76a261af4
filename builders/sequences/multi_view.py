"""Multi-view: three orthogonal slices (axial, coronal, sagittal) through one point of a 3D structure.

Recipe: pick a structure (seeded); the point is the structure's voxel nearest its centroid (so every view cuts
the structure even when it is not convex). Image 1 (axial) shows the structure's box in red, and the question
writes the same box in pixel xyxy. The answer image is the coronal or the sagittal view (seeded); the answer box
is the structure's mask in that view. Each view keeps its physical aspect before padding to square.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from vgmed_data.schema import SequenceSample

from vgmed_data.builders.sequences.common import (Settings, TaskLog, build_sample, mark_reference, pick_structure, structure_view)
from vgmed_data.builders.sequences.inputs import Case

TASK = "multi_view"
PLANES = ("axial", "coronal", "sagittal")


def anchor_voxel(mask: np.ndarray) -> tuple[int, int, int]:
    """The voxel of ``mask`` nearest its centroid (ties: the first in C order)."""
    points = np.argwhere(mask)
    centroid = points.mean(axis=0)
    nearest = points[int(np.argmin(((points - centroid) ** 2).sum(axis=1)))]
    return int(nearest[0]), int(nearest[1]), int(nearest[2])


def generate(cases: Sequence[Case], *, settings: Settings, log: TaskLog) -> Iterator[SequenceSample]:
    for case in cases:
        if not case.is_volume or min(case.shape) < 2:
            log.skip(case, "needs a 3D volume")
            continue
        rng = settings.rng(TASK, case.source, case.case_id)
        structure = pick_structure(case, rng, log)
        if structure is None:
            continue
        i, j, k = anchor_voxel(structure.mask)
        indices = {"sagittal": i, "coronal": j, "axial": k}
        views = [structure_view(case, structure.mask, plane=plane, index=indices[plane], settings=settings)
                 for plane in PLANES]
        frames, boxes = [f for f, _ in views], [b for _, b in views]
        answer_index = int(rng.integers(1, 3))
        reference_box, answer_box = boxes[0], boxes[answer_index]
        if reference_box is None or answer_box is None:
            log.skip(case, "structure too small in one of the views")
            continue
        reference = mark_reference(frames, reference_box, settings=settings)
        view = PLANES[answer_index]
        question = (f"Image 1 (axial), Image 2 (coronal) and Image 3 (sagittal) are orthogonal slices through the "
                    f"same point. The red box {reference} in Image 1 marks a {structure.target}. "
                    f"Locate the same structure in Image {answer_index + 1} ({view}).")
        yield log.count(build_sample(
            task=TASK, case=case, frames=frames, question=question, target=structure.target,
            answer_index=answer_index, answer_box=answer_box, reference_index=0, reference_box=reference_box,
            split=settings.split_of(case),
            metadata={"voxel": [i, j, k]}))
