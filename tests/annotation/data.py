"""Tiny dataset folders for the annotation tests: non-square images, boxes and masks with known pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vgmed_data.folder import write_config
from vgmed_data.schema import GroundingSample, Provenance, make_sample_id

WIDTH, HEIGHT = 64, 40  # non-square on purpose


def sample_mask(index: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[8 + index % 5: 20 + index % 5, 10 + index % 7: 30 + index % 7] = True
    return mask


def make_samples(count: int, *, labels: tuple[str, ...] = ("liver", "kidney"), with_mask: bool = True
                 ) -> list[GroundingSample]:
    samples = []
    for index in range(count):
        image = (np.arange(WIDTH * HEIGHT, dtype=np.int64).reshape(HEIGHT, WIDTH) * (index + 3) % 251)
        mask = sample_mask(index)
        rows, cols = np.nonzero(mask)
        box = [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]
        target = labels[index % len(labels)]
        samples.append(GroundingSample(
            id=make_sample_id("tiny", f"case{index:04d}", "localization"),
            image=Image.fromarray(image.astype(np.uint8), mode="L"),
            question=f"Where is the {target} in this CT slice?",
            question_type="localization", answer=target, target=target,
            boxes=[box, [40.0, 25.0, 50.0, 33.0]], box_labels=[target, target],
            mask=Image.fromarray(mask.astype(np.uint8) * 255, mode="L") if with_mask else None,
            slice_index=index, plane="axial", window="abdomen W400 L50",
            provenance=Provenance(modality="CT", body_part="abdomen", source="tiny", source_id=f"case{index:04d}",
                                  license="CC-BY-4.0", redistributable=True, patient_id=f"patient{index // 2}",
                                  metadata={"series": f"series-{index % 3}"}),
        ))
    return samples


def make_dataset(folder: Path, count: int, **kwargs: object) -> Path:
    write_config(folder, make_samples(count, **kwargs), config="vgmed")  # type: ignore[arg-type]
    return folder
