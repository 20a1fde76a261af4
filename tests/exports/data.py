"""A small dataset folder with both configurations (test and train splits) for the export tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vgmed_data.writer import write_config
from vgmed_data.schema import GroundingSample, Provenance, SequenceImage, SequenceSample, encode_png

OPTIONS = [["liver", "spleen", "kidney", "heart"], ["yes", "no"], [], []]


def _image(seed: int, size: tuple[int, int]) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    return encode_png(pixels)


def _provenance(i: int, split: str) -> Provenance:
    return Provenance(modality="CT", body_part="abdomen", source="export-test", source_id=f"s{i}", license="CC0-1.0",
                      redistributable=True, patient_id=f"p{i}", split=split)


def grounding(i: int, split: str) -> GroundingSample:
    options = OPTIONS[i % 4]
    answer = options[i % len(options)] if options else ["the liver", "left kidney"][i % 2]
    return GroundingSample(id=f"vg/{split}/{i}", image=_image(i, (64, 48)), question=f"What is in region {i}?",
                           question_type="localization", answer=answer, options=options, target=f"organ {i % 3}",
                           boxes=[[4.0 + i, 6.0, 30.0, 40.0]], box_labels=[f"organ {i % 3}"],
                           provenance=_provenance(i, split))


def sequence(i: int, split: str) -> SequenceSample:
    count = 2 + i % 2
    sizes = [(80, 60), (80, 60), (70, 70)][:count]
    answer_index = i % count
    box = [10.0 + i, 12.0, 40.0 + i, 44.0]
    reference = [5.0, 5.0, 25.0, 30.0] if i % 2 else None
    question = f"Find the structure of case {i}."
    if reference is not None:
        question = f"The red box [5, 5, 25, 30] (pixel x1, y1, x2, y2) in Image 1 marks it. {question}"
    return SequenceSample(
        id=f"seq/{split}/{i}", images=[SequenceImage(image=_image(100 + i * 7 + k, size), source="export-test",
                                                     source_id=f"s{i}-{k}") for k, size in enumerate(sizes)],
        task=["cross_modal", "referring", "multi_view"][i % 3], question=question,
        answer=f"Image {answer_index + 1}: [{box[0]:g}, {box[1]:g}, {box[2]:g}, {box[3]:g}]", target="organ",
        answer_image_index=answer_index, answer_box=box, reference_image_index=0 if reference else None,
        reference_box=reference, provenance=_provenance(i, split))


def write_dataset(folder: Path) -> Path:
    write_config(folder, [grounding(i, s) for s in ("train", "test") for i in range(8)], config="vgmed")
    write_config(folder, [sequence(i, s) for s in ("train", "test") for i in range(7)], config="sequences")
    return folder
