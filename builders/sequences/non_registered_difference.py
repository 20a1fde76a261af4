"""Non-registered difference: as the registered recipe, then each image shifted independently by up to
``max_shift`` pixels in x and y (pad with black on one side, crop on the other; the shift is part of each image's
stored transform). The question names the image the answer is in (the edited one).

Answer: the bounding box of the changed pixels, in the edited image's own (shifted) frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from vgmed_data.geometry import Transform
from vgmed_data.schema import SequenceSample

from vgmed_data.builders.sequences.common import Settings, TaskLog, build_sample
from vgmed_data.builders.sequences.inputs import Case
from vgmed_data.builders.sequences.registered_difference import edited_cases
from vgmed_data.builders.sequences.render import Frame, bbox

TASK = "non_registered_difference"


def shift_transform(size: int, dx: int, dy: int) -> Transform:
    """Moves content by (dx, dy) pixels inside a size x size canvas: pixel x -> x + dx."""
    shift = Transform.identity((size, size)).pad(max(dx, 0), max(dy, 0), max(-dx, 0), max(-dy, 0))
    return shift.crop((max(-dx, 0), max(-dy, 0), max(-dx, 0) + size, max(-dy, 0) + size))


def shifted(frame: Frame, dx: int, dy: int) -> Frame:
    size = frame.pixels.shape[0]
    shift = shift_transform(size, dx, dy)
    chained = frame.transform
    for step in shift.steps:
        chained = (chained.pad(*step.values, fill=step.fill) if step.kind == "pad" else chained.crop(step.values))
    pixels = np.asarray(shift.apply_image(frame.image())).copy()
    from dataclasses import replace

    return replace(frame, pixels=pixels, transform=chained)


def generate(cases: Sequence[Case], *, settings: Settings, log: TaskLog) -> Iterator[SequenceSample]:
    for case, rng, frame, edit, structure, donor in edited_cases(cases, task=TASK, settings=settings, log=log):
        shifts = [tuple(int(v) for v in rng.integers(-settings.max_shift, settings.max_shift + 1, size=2))
                  for _ in range(2)]
        edited_index = int(rng.integers(2))
        original = shifted(frame, *shifts[1 - edited_index])
        edited = shifted(frame.with_pixels(edit.pixels, image_origin="synthetic"), *shifts[edited_index])
        size = frame.pixels.shape[0]
        box = bbox(shift_transform(size, *shifts[edited_index]).apply_mask(edit.changed))
        if box is None:
            log.skip(case, "edit shifted out of the image")
            continue
        frames = [original, edited] if edited_index == 1 else [edited, original]
        k = edited_index + 1
        question = (f"Image 1 and Image 2 show the same slice, each shifted by a few pixels, so they are not "
                    f"aligned. One region of Image {k} was altered. Locate the altered region in Image {k}.")
        yield log.count(build_sample(
            task=TASK, case=case, frames=frames, question=question, target="altered region",
            answer_index=edited_index, answer_box=box,
            split=settings.split_of(case),
            metadata={"edit": edit.method, "structure": structure.target, "shifts": [list(s) for s in shifts],
                      "donor": f"{donor.source}/{donor.case_id}" if donor else ""},
            extra_license=[donor] if donor else []))
