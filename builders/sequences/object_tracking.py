"""Object tracking: one 3D connected component followed over up to ``tracking_slices`` (6) axial slices.

Recipe: pick a component spanning at least two axial slices (seeded); take up to 6 slices evenly spaced over its
extent, in order. Image 1 shows the component's box in red (also written in the question); the answer image is
a later one (seeded) and the answer box is that component's mask there (other components of the same label
are not part of the answer).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from vgmed_data.schema import SequenceSample

from vgmed_data.builders.sequences.common import (Settings, TaskLog, build_sample, choose, mark_reference, structure_view, structures)
from vgmed_data.builders.sequences.inputs import Case

TASK = "object_tracking"


def generate(cases: Sequence[Case], *, settings: Settings, log: TaskLog) -> Iterator[SequenceSample]:
    for case in cases:
        rng = settings.rng(TASK, case.source, case.case_id)
        candidates = [s for s in structures(case) if np.count_nonzero(s.mask.any(axis=(0, 1))) >= 2]
        if not case.is_volume or not candidates:
            log.skip(case, "no structure spanning two slices")
            continue
        structure = choose(candidates, rng)
        zs = np.nonzero(structure.mask.any(axis=(0, 1)))[0]
        chosen = np.unique(np.rint(np.linspace(zs.min(), zs.max(), settings.tracking_slices)).astype(int))
        frames, boxes = [], []
        for z in chosen:
            if not structure.mask[:, :, z].any():
                continue
            frame, box = structure_view(case, structure.mask, index=int(z), settings=settings)
            if box is not None:
                frames.append(frame)
                boxes.append(box)
        if len(frames) < 2:
            log.skip(case, "structure too small on the tracked slices")
            continue
        answer_index = int(rng.integers(1, len(frames)))
        reference = mark_reference(frames, boxes[0], settings=settings)
        question = (f"Images 1 to {len(frames)} are axial slices of one scan, in order. The red box "
                    f"{reference} in Image 1 marks a {structure.target}. "
                    f"Locate the same object in Image {answer_index + 1}.")
        yield log.count(build_sample(
            task=TASK, case=case, frames=frames, question=question, target=structure.target,
            answer_index=answer_index, answer_box=boxes[answer_index], reference_index=0, reference_box=boxes[0],
            split=settings.split_of(case),
            metadata={"slices": [f.slice_index for f in frames]}))
