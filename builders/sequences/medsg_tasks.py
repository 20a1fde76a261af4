"""MedSG-Bench's task keys and which image holds each task's answer, as the benchmark defines them.

Sources (MedSG-Bench's evaluation code, ``eval/MedSG_Bench.py`` as uploaded by its authors in commit 046a9fa,
read in the public mirror XavierSylus/MedSG-Bench; public example items transcribed in
saitejalekkala33/MedSG-Agent ``examples_all_tasks.py`` and the benchmark's Hub viewer):

* The task keys are exactly the ``--task`` choices (``MedSG_Bench.py`` lines 543-547) and the values each
  task's filter compares ``item['task']`` with (lines 506-536): :data:`BENCHMARK_TO_INTERNAL`.
* No item carries the answer image: the evaluation scores the box only (``compute_iou(obj['answer'], ...)``,
  line 57 and the ``*_eval`` functions). Which image holds the answer follows from the task and the wording:

  - ``multi_view`` and ``crossmodal`` name the reference image first and the answer image last ("... marked
    with red bounding box in the first image ... locate this object in the second image"): the **last**
    "<ordinal> image" / "Image N" phrase of the question is the answer image;
  - ``object_tracking`` and ``concept``: the same rule; no public example of their wording was found, so a
    question without such a phrase falls back to the task definition (``concept``: image 1 is the concept,
    image 2 the scan, so image 2) or is recorded as unstated (``object_tracking``);
  - ``patch``: "locate the first region picture in the source image": the answer is always in the source
    image, image 1 (the ordinal counts the crops, not the images);
  - ``referring`` test items ask "Please find the bounding box coordinates for the area described by: ..."
    without naming an image: image 1 when there is one image, else unstated;
  - ``Registered_Diff`` / ``Non_Registered_Diff`` ask "Compare these two images carefully and give me the
    coordinates of their difference." without naming an image: unstated (the registered pair shares one frame;
    the non-registered pair does not, FACTS.md "Defects").

An answer image the benchmark leaves unstated is stored as the last image and the record says so
(:data:`UNSTATED`); the box scorer does not score the image index of such records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vgmed_data.errors import SchemaError

# benchmark key -> internal task name (docs/sequences.md); the only place the two vocabularies meet.
BENCHMARK_TO_INTERNAL: dict[str, str] = {
    "Registered_Diff": "registered_difference",
    "Non_Registered_Diff": "non_registered_difference",
    "multi_view": "multi_view",
    "object_tracking": "object_tracking",
    "concept": "visual_concept",
    "patch": "visual_patch",
    "crossmodal": "cross_modal",
    "referring": "referring",
}
INTERNAL_TO_BENCHMARK: dict[str, str] = {internal: key for key, internal in BENCHMARK_TO_INTERNAL.items()}

# How the answer image of an imported item was decided (``answer_image_rule`` in the record's metadata).
GIVEN, QUESTION, TASK, UNSTATED = "given", "question", "task", "unstated"
UNSTATED_NOTE = "MedSG-Bench does not say which image holds the answer; the last image is stored"

_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6}
_PHRASE = re.compile(r"\b(?:(first|second|third|fourth|fifth|sixth)\s+image|image[\s-]?(\d+))\b", re.IGNORECASE)


@dataclass(frozen=True)
class AnswerImage:
    index: int  # 0-based
    rule: str  # GIVEN | QUESTION | TASK | UNSTATED


def internal_task(key: str, *, record: str) -> str:
    """The internal task name of a MedSG-Bench task key; a :class:`SchemaError` for anything else."""
    if key not in BENCHMARK_TO_INTERNAL:
        raise SchemaError(f"task {key!r} is not a MedSG-Bench task key", record=record,
                          fix=f"use one of {', '.join(BENCHMARK_TO_INTERNAL)} (MedSG_Bench.py --task choices)")
    return BENCHMARK_TO_INTERNAL[key]


def named_image(question: str) -> int | None:
    """1-based number of the last image the question names ("the second image", "Image 3"), or None."""
    found = list(_PHRASE.finditer(question))
    if not found:
        return None
    ordinal, digits = found[-1].groups()
    return _ORDINALS[ordinal.lower()] if ordinal else int(digits)


def answer_image(key: str, question: str, image_count: int, *, record: str) -> AnswerImage:
    """The answer image of a MedSG-Bench item that does not carry one, by the rules in the module docs."""
    last = AnswerImage(image_count - 1, UNSTATED)
    if key == "patch":
        return AnswerImage(0, TASK)
    if key in ("Registered_Diff", "Non_Registered_Diff"):
        return last
    number = named_image(question)
    if number is not None:
        if not 1 <= number <= image_count:
            raise SchemaError(f"the question names image {number} but the item has {image_count} images",
                              record=record, fix="check the item's images list against its question")
        return AnswerImage(number - 1, QUESTION)
    if key == "concept" and image_count >= 2:
        return AnswerImage(1, TASK)
    if image_count == 1:
        return AnswerImage(0, TASK)
    return last
