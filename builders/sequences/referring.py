"""Referring: a readable target name -> which image shows it, and its box, over up to 3 images.

Recipe: pick a target of the case (seeded) and the axial slice where it is largest, kept only when the target
has exactly one component there (else the box would be ambiguous). Up to 2 distractor slices do not contain the
target: slices of the same volume outside the target's extent, or slices of other cases of the same split that
lack the target. Order is shuffled (seeded). Answer: the image index and the target's box.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence


from vgmed_data.geometry import label_components
from vgmed_data.schema import SequenceSample

from vgmed_data.builders.sequences.common import (Settings, TaskLog, best_slice, build_sample, same_split, slice_frame,
                                       structure_box)
from vgmed_data.builders.sequences.inputs import Case, display
from vgmed_data.builders.sequences.render import Frame, frame_mask

TASK = "referring"
DISTRACTORS = 2


def generate(cases: Sequence[Case], *, settings: Settings, log: TaskLog) -> Iterator[SequenceSample]:
    for case in cases:
        rng = settings.rng(TASK, case.source, case.case_id)
        if not case.masks:
            log.skip(case, "no labelled structure")
            continue
        targets = sorted(case.masks)
        target = targets[int(rng.integers(len(targets)))]
        index = best_slice(case.masks[target])
        mask2d = display(case.masks[target], plane="axial", index=index)
        frame = slice_frame(case, plane="axial", index=index, settings=settings)
        in_frame = frame_mask(frame, mask2d)
        box = structure_box(frame, mask2d, settings=settings)
        if box is None or label_components(in_frame)[1] != 1:
            log.skip(case, "target absent, too small or in several pieces on its best slice")
            continue
        distractors: list[Frame] = []
        empty = [z for z in range(case.shape[2]) if not case.masks[target][:, :, z].any()]
        for z in (rng.permutation(empty)[:DISTRACTORS] if empty else []):
            distractors.append(slice_frame(case, plane="axial", index=int(z), settings=settings))
        others = [c for c in same_split(cases, case, settings) if target not in c.masks]
        for other in (rng.permutation(len(others))[:DISTRACTORS - len(distractors)] if others else []):
            chosen = others[int(other)]
            distractors.append(slice_frame(chosen, plane="axial", index=chosen.shape[2] // 2, settings=settings))
        frames = distractors[:DISTRACTORS] + [frame]
        order = [int(i) for i in rng.permutation(len(frames))]
        frames = [frames[i] for i in order]
        answer_index = order.index(len(order) - 1)
        partners = [c for c in cases if any(f.source_id == c.case_id and f.source == c.source for f in frames)
                    and c is not case]
        question = (f"Which of the {len(frames)} images shows the {target}? Give the image number and the box."
                    if len(frames) > 1 else f"Locate the {target} in Image 1.")
        yield log.count(build_sample(
            task=TASK, case=case, frames=frames, question=question, target=target, answer_index=answer_index,
            answer_box=box, split=settings.split_of(case),
            metadata={"images": [f"{f.source}/{f.source_id}:{f.slice_index}" for f in frames]},
            extra_license=partners))
