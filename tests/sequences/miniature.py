"""Miniature sources for the sequence tests: small volumes with blobs whose geometry the tests know."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

from vgmed_data.builders.sequences.inputs import Case

SHAPE = (48, 40, 8)  # x, y, z: axial slices display as 40 rows x 48 columns


def blobs(shape: tuple[int, int, int] = SHAPE, *, shift: int = 0) -> dict[str, np.ndarray]:
    x, y, z = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    organ = ((x - 20 - shift) / 12.0) ** 2 + ((y - 18) / 9.0) ** 2 + ((z - 4) / 3.2) ** 2 <= 1
    lesion = (x >= 34) & (x < 41) & (y >= 26) & (y < 33) & (z >= 2) & (z < 6)
    return {"liver": organ, "tumour": lesion}


def texture(shape: tuple[int, int, int], *, seed: int, masks: dict[str, np.ndarray], gains: tuple[float, float]
            ) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.normal(100, 20, size=shape)
    data[masks["liver"]] += gains[0]
    data[masks["tumour"]] += gains[1]
    return data.astype(np.float32)


def volume_case(case_id: str, *, modality: str = "CT", source: str = "mini-ct", seed: int = 0,
                sequences: tuple[str, ...] = ("image",), shift: int = 0) -> Case:
    masks = blobs(shift=shift)
    channels = {name: texture(SHAPE, seed=seed + i, masks=masks, gains=(80 - 60 * i, 160 + 30 * i))
                for i, name in enumerate(sequences)}
    return Case(source=source, case_id=case_id, patient_id=case_id, modality=modality, body_part="abdomen",
                license="CC-BY-SA-4.0", redistributable=True, channels=channels, masks=masks,
                spacing_mm=(1.0, 1.0, 1.0))


def mini_cases() -> list[Case]:
    cases = [volume_case(f"ct{i}", seed=10 * i, shift=i % 3) for i in range(4)]
    cases += [volume_case(f"mr{i}", modality="MR", source="mini-mr", seed=100 + i, sequences=("FLAIR", "T1gd"))
              for i in range(2)]
    cases += [volume_case(f"mrl{i}", modality="MR", source="mini-mr-liver", seed=200 + i) for i in range(2)]
    return cases


def write_decathlon(root: Path, *, cases: int = 3) -> Path:
    """A Task01_BrainTumour-shaped folder: 4D images (4 sequences), integer labels 0-3, dataset.json."""
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    training = []
    for i in range(cases):
        masks = blobs(shift=i)
        data = np.stack([texture(SHAPE, seed=i * 7 + c, masks=masks, gains=(40 + 10 * c, 120 - 20 * c))
                         for c in range(4)], axis=-1)
        labels = np.zeros(SHAPE, dtype=np.uint8)
        labels[masks["liver"]] = 1
        labels[masks["tumour"]] = 3
        affine = np.diag([1.0, 1.0, 1.0, 1.0])
        nib.save(nib.Nifti1Image(data, affine), root / "imagesTr" / f"BRATS_{i:03d}.nii.gz")
        nib.save(nib.Nifti1Image(labels, affine), root / "labelsTr" / f"BRATS_{i:03d}.nii.gz")
        training.append({"image": f"./imagesTr/BRATS_{i:03d}.nii.gz", "label": f"./labelsTr/BRATS_{i:03d}.nii.gz"})
    index = {"name": "BRATS", "modality": {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
             "labels": {"0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"},
             "training": training}
    (root / "dataset.json").write_text(json.dumps(index))
    return root
