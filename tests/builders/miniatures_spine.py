"""Miniatures of the spine sources in their published layouts.

VerSe (anjany/verse@02b292b README 'Data' and utils/sample/): ``<release>/rawdata/sub-verseNNN/sub-verseNNN_ct.nii.gz``,
``<release>/derivatives/sub-verseNNN/sub-verseNNN_seg-vert_msk.nii.gz`` and ``..._seg-subreg_ctd.json`` (a list:
``{"direction": ["P", "I", "R"]}`` then ``{"label", "X", "Y", "Z"}`` per vertebra, as in the sample file).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.builders.miniatures import save_nifti

VERSE_SHAPE = (10, 16, 36)  # x (left-right), y (posterior-anterior), z (inferior-superior) in RAS+
VERSE_AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])
# label value -> (y0, y1, z0, z1): a column of four vertebrae, L3 lowest; every vertebra spans x 2..8
VERSE_BODIES = {22: (4, 12, 2, 8), 21: (4, 12, 10, 16), 20: (4, 12, 18, 24), 19: (4, 12, 26, 32)}


def verse_volume(bodies: dict[int, tuple[int, int, int, int]]) -> np.ndarray:
    label = np.zeros(VERSE_SHAPE, np.uint8)
    for value, (y0, y1, z0, z1) in bodies.items():
        label[2:8, y0:y1, z0:z1] = value
    return label


def write_verse(root: Path, *, release: str = "dataset-verse19training", subject: str = "sub-verse004",
                stem: str | None = None, bodies: dict[int, tuple[int, int, int, int]] | None = None) -> Path:
    bodies = VERSE_BODIES if bodies is None else bodies
    stem = stem or subject
    rng = np.random.default_rng(sum(stem.encode()))  # each scan its own pixels (identical images are deduplicated)
    image = (rng.normal(300, 50, VERSE_SHAPE)).astype(np.int16)
    save_nifti(root / release / "rawdata" / subject / f"{stem}_ct.nii.gz", image, VERSE_AFFINE)
    derivatives = root / release / "derivatives" / subject
    save_nifti(derivatives / f"{stem}_seg-vert_msk.nii.gz", verse_volume(bodies), VERSE_AFFINE)
    centroids = [{"direction": ["P", "I", "R"]}] + [
        {"label": value, "X": (y0 + y1) / 2, "Y": float(VERSE_SHAPE[2] - (z0 + z1) / 2), "Z": 5.0}
        for value, (y0, y1, z0, z1) in sorted(bodies.items())]
    (derivatives / f"{stem}_seg-subreg_ctd.json").write_text(json.dumps(centroids))
    return root


def sagittal_box(y0: int, y1: int, z0: int, z1: int) -> list[float]:
    """The box of a y/z cuboid on a displayed sagittal slice (anterior left, superior up: the array slice
    transposed and flipped both ways), computed from the geometry alone."""
    height, width = VERSE_SHAPE[2], VERSE_SHAPE[1]
    return [float(width - y1), float(height - z1), float(width - y0), float(height - z0)]
