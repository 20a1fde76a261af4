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


# SPIDER (torch-em's spider.py and a loader README as cited in the entry): images/<patient>_<sequence>.mha and
# masks/<same name>, radiological_gradings.csv beside them. 3D MetaImages written here with identity
# TransformMatrix and zero Offset: ITK's LPS, so the reader's RAS volume is the array flipped in x and y.
SPIDER_SHAPE = (6, 20, 40)  # i (x), j (y), k (z: k grows superior)
GRADINGS_HEADER = ("Patient,IVD label,Modic,UP endplate,LOW endplate,Spondylolisthesis,Disc herniation,"
                   "Disc narrowing,Disc bulging,Pfirrman grade")


def spider_label(vertebrae: int = 3) -> np.ndarray:
    label = np.zeros(SPIDER_SHAPE, np.int16)
    for n in range(1, vertebrae + 1):
        k0 = 2 + 12 * (n - 1)
        label[1:5, 4:14, k0:k0 + 8] = n  # vertebra n counted from the bottom
        if n < vertebrae:
            label[1:5, 4:14, k0 + 8:k0 + 12] = 200 + n  # the disc above it
    label[1:5, 15:18, 2:36] = 100  # spinal canal, posterior
    return label


def spider_box(j0: int, j1: int, k0: int, k1: int) -> list[float]:
    """A cuboid's box on a displayed sagittal slice (columns: anterior left, i.e. RAS y reversed = the stored j;
    rows: superior up, i.e. the stored k reversed)."""
    height = SPIDER_SHAPE[2]
    return [float(j0), float(height - k1), float(j1), float(height - k0)]


def save_mha(path: Path, volume: np.ndarray, *, spacing: tuple[float, float, float] = (3.3, 0.6, 0.6)) -> Path:
    import zlib

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = zlib.compress(np.ascontiguousarray(volume.transpose(2, 1, 0)).astype("<i2").tobytes())
    header = ("ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
              "CompressedData = True\nTransformMatrix = 1 0 0 0 1 0 0 0 1\nOffset = 0 0 0\n"
              "CenterOfRotation = 0 0 0\nAnatomicalOrientation = RAI\n"
              f"ElementSpacing = {' '.join(str(s) for s in spacing)}\n"
              f"DimSize = {' '.join(str(d) for d in volume.shape)}\nElementType = MET_SHORT\nElementDataFile = LOCAL\n")
    path.write_bytes(header.encode() + pixels)
    return path


def write_spider(root: Path) -> Path:
    rng = np.random.default_rng(41)
    for name in ("1_t1.mha", "1_t2.mha", "2_t2.mha"):
        save_mha(root / "images" / name, rng.integers(0, 900, SPIDER_SHAPE).astype(np.int16))
        save_mha(root / "masks" / name, spider_label(3 if name.startswith("1_") else 2))
    (root / "radiological_gradings.csv").write_text(
        GRADINGS_HEADER + "\n1,1,2,0,1,0,1,1,0,4\n1,2,0,0,0,0,0,0,1,2\n2,1,0,0,0,1,0,0,0,3\n")
    (root / "overview.csv").write_text("new_file_name,subset\n1_t1,training\n1_t2,training\n2_t2,validation\n")
    return root
