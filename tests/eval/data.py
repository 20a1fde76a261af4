"""Tiny VGMED dataset folders for the evaluator tests, written through the real schema and folder code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vgmed_data.writer import write_config
from vgmed_data.schema import GroundingSample, Provenance, make_sample_id

MODALITIES = ("CT", "MR", "XR")


def tiny_samples(count: int, *, seed: int = 0, without_boxes: tuple[int, ...] = (),
                 with_options: tuple[int, ...] = ()) -> list[GroundingSample]:
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        width, height = int(rng.integers(40, 120)), int(rng.integers(40, 120))
        pixels = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
        x1, y1 = float(rng.integers(0, width // 2)), float(rng.integers(0, height // 2))
        box = [x1, y1, float(min(width, x1 + rng.integers(5, width // 2))), float(min(height, y1 + rng.integers(5, height // 2)))]
        boxes = [] if i in without_boxes else [box]
        options = ("liver", "spleen", "kidney") if i in with_options else ()
        samples.append(GroundingSample(
            id=make_sample_id("tiny", str(i)), image=Image.fromarray(pixels),
            question=f"What organ is in region {i}?", question_type=("localization", "attribute")[i % 2],
            answer="liver", target="liver", boxes=boxes, box_labels=["liver"] * len(boxes), options=options,
            provenance=Provenance(modality=MODALITIES[i % 3], body_part="abdomen", source="tiny",
                                  source_id=str(i), license="CC0-1.0", redistributable=True, patient_id=f"p{i}")))
    return samples


def write_tiny_dataset(folder: Path, count: int, **kwargs: object) -> Path:
    write_config(folder, tiny_samples(count, **kwargs), config="vgmed")  # type: ignore[arg-type]
    return folder


def record_dicts(path: Path) -> list[dict]:
    """A run's JSON lines as written (read through the run folder's typed records: a torn last line is dropped)."""
    from vgmed_data.eval.run_folder import SampleRecord, read_records

    return [record.to_json() for record in read_records(path, SampleRecord, torn_tail=True)]


def stripped_records(out: Path) -> list[dict]:
    """A finished run's ``samples.jsonl`` without the wall-clock fields (what two runs must agree on)."""
    return [{k: v for k, v in record.items() if k != "timings"} for record in record_dicts(out / "samples.jsonl")]
