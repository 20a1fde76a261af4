"""Visual patch: Image 1 is a slice; Images 2.. are ``patches`` (3) crops of it, each padded to square and
resized. The question asks where crop k (seeded) comes from.

Recipe: crops are squares of side between 1/6 and 1/3 of the slice's shorter side at seeded integer positions,
kept only if not uniform (retried otherwise). Answer: the crop rectangle mapped into Image 1 by Image 1's
transform (the crop rectangle itself is in each crop image's stored transform).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from vgmed_data.geometry import Transform
from vgmed_data.schema import SequenceSample

from vgmed_data.builders.sequences.common import Settings, TaskLog, best_slice, build_sample, slice_frame
from vgmed_data.builders.sequences.inputs import Case
from vgmed_data.builders.sequences.render import make_frame

TASK = "visual_patch"
TRIES = 20


def generate(cases: Sequence[Case], *, settings: Settings, log: TaskLog) -> Iterator[SequenceSample]:
    for case in cases:
        rng = settings.rng(TASK, case.source, case.case_id)
        masks = [m for _, m in sorted(case.masks.items())]
        index = best_slice(np.logical_or.reduce(masks)) if masks else case.shape[2] // 2
        gray = case.slice(plane="axial", index=index)
        height, width = gray.shape
        short = min(width, height)
        if short < 12:
            log.skip(case, "slice too small for patches")
            continue
        source = slice_frame(case, plane="axial", index=index, settings=settings)
        crops: list[tuple[int, int, int, int]] = []
        for _ in range(TRIES * settings.patches):
            if len(crops) == settings.patches:
                break
            side = int(rng.integers(short // 6, short // 3 + 1))
            x = int(rng.integers(0, width - side + 1))
            y = int(rng.integers(0, height - side + 1))
            if gray[y:y + side, x:x + side].std() > 0 and (x, y, x + side, y + side) not in crops:
                crops.append((x, y, x + side, y + side))
        if len(crops) < settings.patches:
            log.skip(case, "slice too uniform for patches")
            continue
        frames = [source] + [
            make_frame(gray, spacing=case.spacing("axial"), size=settings.size, source=case.source,
                       source_id=case.case_id, plane=source.plane, slice_index=source.slice_index,
                       image_origin=source.image_origin, base=Transform.identity((width, height)).crop(c))
            for c in crops]
        asked = int(rng.integers(len(crops)))
        box = tuple(float(v) for v in source.transform.apply_boxes([crops[asked]])[0])
        question = (f"Images 2 to {len(frames)} are crops of Image 1, each enlarged. "
                    f"Locate the region shown in Image {asked + 2} within Image 1.")
        yield log.count(build_sample(
            task=TASK, case=case, frames=frames, question=question, target=f"crop {asked + 1}",
            answer_index=0, answer_box=box,  # type: ignore[arg-type]
            split=settings.split_of(case),
            metadata={"crops": [list(c) for c in crops], "asked": asked}))
