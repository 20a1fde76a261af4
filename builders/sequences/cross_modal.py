"""Cross-modal: a region marked in one image, found in an image of another sequence or modality.

* ``sequence`` variant (a case with two or more co-registered MRI sequences, e.g. Decathlon Task01): Image 1 is
  the slice in one sequence with the structure's box in red (also written in the question); Image 2 is the same
  slice in another sequence (both seeded). The images are voxel-aligned, so the answer box is the structure's
  mask in Image 2.
* ``modality`` variant (cases of different modalities sharing a target name, e.g. a liver in CT and in MR, from
  the same split): Image 1 is one case's slice with the target's box in red; Image 2 is the other case's slice
  where the target is largest. Answer: the target's box in Image 2.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from vgmed_data.schema import SequenceSample

from vgmed_data.builders.sequences.common import (Settings, Structure, TaskLog, best_slice, build_sample, choose, mark_reference,
                                       same_split, structure_view, structures)
from vgmed_data.builders.sequences.inputs import Case

TASK = "cross_modal"


def _pick(items: list[Structure], rng: np.random.Generator, target: str) -> Structure | None:
    pool = [s for s in items if s.target == target]
    return choose(pool, rng) if pool else None


def generate(cases: Sequence[Case], *, settings: Settings, log: TaskLog) -> Iterator[SequenceSample]:
    for case in cases:
        rng = settings.rng(TASK, case.source, case.case_id)
        items = structures(case)
        if not items:
            log.skip(case, "no labelled structure")
            continue
        split = settings.split_of(case)
        if len(case.channels) >= 2:
            structure = choose(items, rng)
            first, second = (case.channel_names[int(i)] for i in rng.choice(len(case.channels), 2, replace=False))
            index = best_slice(structure.mask)
            views = [structure_view(case, structure.mask, index=index, settings=settings, channel=c)
                     for c in (first, second)]
            frames, boxes = [f for f, _ in views], [b for _, b in views]
            if boxes[0] is None or boxes[1] is None:
                log.skip(case, "structure too small at this image size")
                continue
            reference = mark_reference(frames, boxes[0], settings=settings)
            question = (f"Image 1 is the {first} MRI and Image 2 the {second} MRI of the same slice. The red box "
                        f"{reference} in Image 1 marks a {structure.target}. "
                        "Locate the corresponding area in Image 2.")
            yield log.count(build_sample(
                task=TASK, case=case, frames=frames, question=question, target=structure.target, answer_index=1,
                answer_box=boxes[1], reference_index=0, reference_box=boxes[0], split=split, variant="sequence",
                metadata={"variant": "sequence", "sequences": [first, second]}))
            continue
        partners = [c for c in same_split(cases, case, settings)
                    if c.modality != case.modality and set(c.masks) & set(case.masks)]
        if not partners:
            log.skip(case, "no other sequence and no case of another modality with a shared target")
            continue
        partner = choose(partners, rng)
        target = choose(sorted(set(partner.masks) & set(case.masks)), rng)
        mine, theirs = _pick(items, rng, target), _pick(structures(partner), rng, target)
        if mine is None or theirs is None:
            log.skip(case, "shared target has no component")
            continue
        views = [structure_view(owner, structure.mask, index=best_slice(structure.mask), settings=settings)
                 for owner, structure in ((case, mine), (partner, theirs))]
        frames, boxes = [f for f, _ in views], [b for _, b in views]
        if boxes[0] is None or boxes[1] is None:
            log.skip(case, "structure too small at this image size")
            continue
        reference = mark_reference(frames, boxes[0], settings=settings)
        question = (f"Image 1 is a {case.modality} image and Image 2 a {partner.modality} image of another patient. "
                    f"The red box {reference} in Image 1 marks the {target}. "
                    "Locate the same structure in Image 2.")
        yield log.count(build_sample(
            task=TASK, case=case, frames=frames, question=question, target=target, answer_index=1,
            answer_box=boxes[1], reference_index=0, reference_box=boxes[0], split=split, variant="modality",
            metadata={"variant": "modality", "partner": f"{partner.source}/{partner.case_id}"},
            extra_license=[partner]))
