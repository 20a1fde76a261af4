"""Visual concept: Image 1 is a structure cut out of its slice (everything outside its mask black, cropped to
its box plus a 4-pixel margin, padded to square and resized); Image 2 is the whole slice. The question does not
name the structure. Answer: the structure's box in Image 2.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from vgmed_data.geometry import Transform
from vgmed_data.schema import SequenceSample

from vgmed_data.builders.sequences.common import (Settings, TaskLog, best_slice, build_sample, pick_structure, slice_frame, structure_box)
from vgmed_data.builders.sequences.inputs import Case, display
from vgmed_data.builders.sequences.render import make_frame

TASK = "visual_concept"
MARGIN = 4


def generate(cases: Sequence[Case], *, settings: Settings, log: TaskLog) -> Iterator[SequenceSample]:
    for case in cases:
        rng = settings.rng(TASK, case.source, case.case_id)
        structure = pick_structure(case, rng, log)
        if structure is None:
            continue
        index = best_slice(structure.mask)
        mask2d = display(structure.mask, plane="axial", index=index)
        full = slice_frame(case, plane="axial", index=index, settings=settings)
        box = structure_box(full, mask2d, settings=settings)
        if box is None:
            log.skip(case, "structure too small at this image size")
            continue
        gray = case.slice(plane="axial", index=index)
        rows, cols = np.nonzero(mask2d)
        height, width = gray.shape
        crop = (max(int(cols.min()) - MARGIN, 0), max(int(rows.min()) - MARGIN, 0),
                min(int(cols.max()) + 1 + MARGIN, width), min(int(rows.max()) + 1 + MARGIN, height))
        masked = np.where(mask2d, gray, 0).astype(np.uint8)
        concept = make_frame(masked, spacing=case.spacing("axial"), size=settings.size, source=case.source,
                             source_id=case.case_id, plane=full.plane, slice_index=full.slice_index,
                             image_origin="synthetic", base=Transform.identity((width, height)).crop(crop))
        question = ("Image 1 shows a structure cut out of a scan (everything else is black). "
                    "Locate the same structure in Image 2.")
        yield log.count(build_sample(
            task=TASK, case=case, frames=[concept, full], question=question, target=structure.target,
            answer_index=1, answer_box=box, split=settings.split_of(case),
            metadata={"crop": list(crop)}))
