"""Registered difference: the same slice twice, one region edited in one of them (order randomised).

Recipe: pick a labelled 3D structure of the case (seeded), take the axial slice where it is largest, render it
(pad to square, resize). Edit a copy, with probability 1/2 each (when a donor exists): ``cut_paste`` (the
structure's box copied elsewhere in the same image) or ``transplant`` (a structure of another case of the same
split, feathered and blended in). The edited copy goes to a random position (Image 1 or 2).
Answer: the edited image and the bounding box of the pixels that differ between the two images.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from vgmed_data.schema import SequenceSample

from vgmed_data.builders.sequences.common import (Settings, Structure, TaskLog, best_slice, build_sample, choose, pick_structure,
                                       same_split, slice_frame, structure_view, structures)
from vgmed_data.builders.sequences.edits import Edit, changed_box, cut_paste, transplant
from vgmed_data.builders.sequences.inputs import Case, display
from vgmed_data.builders.sequences.render import Frame, frame_mask

TASK = "registered_difference"


def edited_slice(case: Case, cases: Sequence[Case], *, settings: Settings, rng: np.random.Generator,
                 log: TaskLog) -> tuple[Frame, Edit, Structure, Case | None] | None:
    """The rendered slice and one edit of it (shared with the non-registered recipe)."""
    structure = pick_structure(case, rng, log)
    if structure is None:
        return None
    frame, box = structure_view(case, structure.mask, index=best_slice(structure.mask), settings=settings)
    if box is None:
        log.skip(case, "structure too small at this image size")
        return None
    donors = [c for c in same_split(cases, case, settings) if c.masks]
    edit: Edit | None = None
    donor_case = None
    if donors and rng.random() < 0.5:
        donor_case = choose(donors, rng)
        donor = choose(structures(donor_case), rng)
        donor_index = best_slice(donor.mask)
        donor_frame = slice_frame(donor_case, plane="axial", index=donor_index, settings=settings)
        donor_mask = frame_mask(donor_frame, display(donor.mask, plane="axial", index=donor_index))
        edit = transplant(frame.pixels, donor=donor_frame.pixels, donor_mask=donor_mask, rng=rng, avoid=box)
    if edit is None:
        donor_case = None
        edit = cut_paste(frame.pixels, source_box=box, rng=rng)
    if edit is None:
        log.skip(case, "edit changed no pixel or found no place")
        return None
    return frame, edit, structure, donor_case


def edited_cases(cases: Sequence[Case], *, task: str, settings: Settings, log: TaskLog
                 ) -> Iterator[tuple[Case, np.random.Generator, Frame, Edit, Structure, Case | None]]:
    """Each case with its seeded stream and :func:`edited_slice` (cases without one are counted skips)."""
    for case in cases:
        rng = settings.rng(task, case.source, case.case_id)
        made = edited_slice(case, cases, settings=settings, rng=rng, log=log)
        if made is not None:
            yield case, rng, *made


def generate(cases: Sequence[Case], *, settings: Settings, log: TaskLog) -> Iterator[SequenceSample]:
    for case, rng, frame, edit, structure, donor in edited_cases(cases, task=TASK, settings=settings, log=log):
        edited = frame.with_pixels(edit.pixels, image_origin="synthetic")
        edited_index = int(rng.integers(2))
        frames = [frame, edited] if edited_index == 1 else [edited, frame]
        box = changed_box(frame.pixels, edit.pixels)
        if box is None:  # edits that change nothing are refused in edited_slice; kept as a counted skip
            log.skip(case, "edit changed no pixel")
            continue
        question = ("Image 1 and Image 2 show the same slice. One region was altered in one of the two images. "
                    "Which image contains the altered region, and where is it?")
        yield log.count(build_sample(
            task=TASK, case=case, frames=frames, question=question, target="altered region",
            answer_index=edited_index, answer_box=box,
            split=settings.split_of(case),
            metadata={"edit": edit.method, "structure": structure.target,
                      "donor": f"{donor.source}/{donor.case_id}" if donor else ""},
            extra_license=[donor] if donor else []))
