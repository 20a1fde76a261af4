"""Miniatures of the volume sources of ``builders/sources/volumes.py`` and MSD Task08/Task10, in their published
layouts (folder and file names, index-file keys and label values as read at the places each entry's
``layout_confirmed_at`` names; pixel content synthetic: cuboids at known places).

Each writer returns ``(root to pass as --source, targets the build must find)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.builders.miniatures import ct_volume, cuboid, save_nifti, write_msd_task

SHAPE = (20, 18, 6)
RAS = np.diag([1.5, 1.5, 3.0, 1.0])


def organs(*boxes: tuple[int, tuple[int, int, int], tuple[int, int, int]]) -> np.ndarray:
    """A label volume of SHAPE holding each (value, lo, hi) cuboid."""
    label = np.zeros(SHAPE, np.int16)
    for value, lo, hi in boxes:
        label[tuple(slice(a, b) for a, b in zip(lo, hi))] = value
    return label


def hepatic_vessel(root: Path) -> tuple[Path, set[str]]:
    # Task08 dataset.json labels {"0": "background", "1": "Vessel", "2": "Tumour"}; cases hepaticvessel_NNN
    cases = {"hepaticvessel_001": organs((1, (2, 2, 1), (8, 9, 5)), (2, (11, 4, 1), (17, 12, 5)))}
    return (write_msd_task(root, task="Task08_HepaticVessel", labels={"1": "Vessel", "2": "Tumour"}, cases=cases,
                           modality={"0": "CT"}), {"hepatic vessels", "liver tumour"})


def colon(root: Path) -> tuple[Path, set[str]]:
    # Task10 dataset.json labels {"0": "background", "1": "colon cancer primaries"}; cases colon_NNN
    cases = {"colon_001": organs((1, (4, 4, 1), (12, 12, 5))), "colon_219": organs((1, (9, 3, 2), (17, 10, 6)))}
    return (write_msd_task(root, task="Task10_Colon", labels={"1": "colon cancer primaries"}, cases=cases,
                           modality={"0": "CT"}), {"colon cancer"})


AMOS_LABELS = {"0": "background", "1": "spleen", "2": "right kidney", "3": "left kidney", "4": "gall bladder",
               "5": "esophagus", "6": "liver", "7": "stomach", "8": "arota", "9": "postcava", "10": "pancreas",
               "11": "right adrenal gland", "12": "left adrenal gland", "13": "duodenum", "14": "bladder",
               "15": "prostate/uterus"}


def amos(root: Path) -> Path:
    """amos22/ with dataset.json ('training', 'validation', 'test' lists; the AMOS label names, 'arota' included),
    imagesTr/labelsTr (one CT case, one MR case >= 500), imagesVa/labelsVa (one CT case), imagesTs."""
    folder = root / "amos22"
    rng = np.random.default_rng(3)
    liver_spleen = organs((6, (2, 2, 1), (10, 10, 5)), (1, (12, 8, 1), (18, 16, 5)))
    kidneys = organs((2, (2, 2, 1), (7, 8, 5)), (3, (13, 2, 1), (18, 8, 5)))
    lists: dict[str, list[dict[str, str]]] = {"training": [], "validation": []}
    for name, split, label in (("amos_0001", "Tr", liver_spleen), ("amos_0507", "Tr", kidneys),
                               ("amos_0008", "Va", kidneys)):
        save_nifti(folder / f"images{split}" / f"{name}.nii.gz", ct_volume(SHAPE, rng), RAS)
        save_nifti(folder / f"labels{split}" / f"{name}.nii.gz", label.astype(np.uint8), RAS)
        lists["training" if split == "Tr" else "validation"].append(
            {"image": f"./images{split}/{name}.nii.gz", "label": f"./labels{split}/{name}.nii.gz"})
    save_nifti(folder / "imagesTs" / "amos_0002.nii.gz", ct_volume(SHAPE, rng), RAS)
    (folder / "dataset.json").write_text(json.dumps({
        "name": "AMOS", "labels": AMOS_LABELS, "modality": {"0": "CT"}, "numTraining": 2, "numValidation": 1,
        "numTest": 1, **lists, "test": [{"image": "./imagesTs/amos_0002.nii.gz"}]}, indent=4))
    (folder / "readme.md").write_text("id numbers less than 500 belong to CT data, otherwise they belong to MRI data\n")
    return folder


def amos_ct(root: Path) -> tuple[Path, set[str]]:
    return amos(root), {"liver", "spleen", "right kidney", "left kidney"}


def amos_mr(root: Path) -> tuple[Path, set[str]]:
    return amos(root), {"right kidney", "left kidney"}


def abdomenatlas(root: Path) -> tuple[Path, set[str]]:
    """BDMAP_00000001/{ct.nii.gz, combined_labels.nii.gz, segmentations/liver.nii.gz} and a label-only case
    BDMAP_00005196 (nnU-Net's Dataset023 script: cases 5196-9262 have no ct.nii.gz)."""
    folder = root / "AbdomenAtlas1.1Mini"
    label = organs((5, (2, 2, 1), (10, 12, 5)), (8, (12, 6, 1), (18, 14, 5)))  # 5 liver, 8 spleen
    save_nifti(folder / "BDMAP_00000001" / "ct.nii.gz", ct_volume(SHAPE, np.random.default_rng(4)), RAS)
    save_nifti(folder / "BDMAP_00000001" / "combined_labels.nii.gz", label.astype(np.uint8), RAS)
    save_nifti(folder / "BDMAP_00000001" / "segmentations" / "liver.nii.gz", (label == 5).astype(np.uint8), RAS)
    save_nifti(folder / "BDMAP_00005196" / "combined_labels.nii.gz", label.astype(np.uint8), RAS)
    return folder, {"liver", "spleen"}


TSMRI_STRUCTURES = ("liver", "spleen", "pancreas", "kidney_left", "kidney_right", "stomach", "gallbladder",
                    "urinary_bladder", "aorta", "heart")


def totalsegmentator_mri(root: Path) -> tuple[Path, set[str]]:
    """TotalsegmentatorMRI_dataset_v200/s0001/{mri.nii.gz, segmentations/<structure>.nii.gz} + meta.csv."""
    folder = root / "TotalsegmentatorMRI_dataset_v200"
    case = folder / "s0001"
    save_nifti(case / "mri.nii.gz", np.random.default_rng(5).uniform(0, 900, SHAPE).astype(np.float32), RAS)
    shapes = {"liver": ((2, 2, 1), (10, 12, 5)), "kidney_left": ((13, 3, 1), (18, 9, 5))}
    for name in TSMRI_STRUCTURES:
        lo, hi = shapes.get(name, ((0, 0, 0), (0, 0, 0)))
        save_nifti(case / "segmentations" / f"{name}.nii.gz", cuboid(SHAPE, lo, hi), RAS)
    (folder / "meta.csv").write_text("image_id;split\ns0001;train\n")
    return folder, {"liver", "left kidney"}


def acdc(root: Path) -> tuple[Path, set[str]]:
    """database/training/patient001/{patient001_frame01.nii.gz, patient001_frame01_gt.nii.gz, the same for the
    ES frame 12, patient001_4d.nii.gz, Info.cfg} (nnU-Net Dataset027: '_gt' beside each frame, '_4d' not a frame;
    labels 1 RV, 2 myocardium, 3 LV cavity)."""
    folder = root / "database"
    patient = folder / "training" / "patient001"
    rng = np.random.default_rng(6)
    heart = organs((1, (2, 4, 1), (8, 14, 5)), (2, (10, 3, 1), (18, 15, 5)), (3, (12, 6, 1), (16, 12, 5)))
    for frame in ("01", "12"):
        save_nifti(patient / f"patient001_frame{frame}.nii.gz", rng.uniform(0, 300, SHAPE).astype(np.float32), RAS)
        save_nifti(patient / f"patient001_frame{frame}_gt.nii.gz", heart.astype(np.uint8), RAS)
    save_nifti(patient / "patient001_4d.nii.gz", rng.uniform(0, 300, SHAPE + (3,)).astype(np.float32), RAS)
    (patient / "Info.cfg").write_text("ED: 1\nES: 12\nGroup: DCM\nHeight: 184.0\nNbFrame: 30\nWeight: 95.0\n")
    return folder, {"right ventricle", "left ventricular myocardium", "left ventricle"}


def ribfrac(root: Path) -> tuple[Path, set[str]]:
    """RibFracN-image.nii.gz + RibFracN-label.nii.gz, the archives extracted into one folder (nnU-Net Dataset015),
    with two fractures numbered 1 and 2 in the label file."""
    folder = root / "RibFrac"
    label = organs((1, (2, 2, 1), (7, 8, 5)), (2, (12, 9, 1), (18, 16, 5)))
    save_nifti(folder / "RibFrac1-image.nii.gz", ct_volume(SHAPE, np.random.default_rng(7)) + 300, RAS)
    save_nifti(folder / "RibFrac1-label.nii.gz", label, RAS)
    return folder, {"rib fracture"}


def autopet(root: Path) -> tuple[Path, set[str]]:
    """FDG-PET-CT-Lesions/PETCT_<id>/<study>/{CTres,SUV,SEG}.nii.gz (nnU-Net Dataset221). PETCT_0011f3deaf is a
    PatientID of the collection in IDC's index; the study folder name is not one read from the release."""
    folder = root / "FDG-PET-CT-Lesions"
    rng = np.random.default_rng(8)
    for study, box in (("study-1", ((3, 3, 1), (9, 9, 5))), ("study-2", ((10, 8, 1), (17, 15, 5)))):
        case = folder / "PETCT_0011f3deaf" / study
        save_nifti(case / "CTres.nii.gz", ct_volume(SHAPE, rng), RAS)
        save_nifti(case / "SUV.nii.gz", rng.uniform(0, 3, SHAPE).astype(np.float32), RAS)
        save_nifti(case / "SEG.nii.gz", cuboid(SHAPE, *box), RAS)
    return folder, {"FDG-avid lesion"}


def isles22(root: Path) -> tuple[Path, set[str]]:
    """ISLES-2022/sub-strokecase0001/ses-0001/{dwi/..._dwi.nii.gz, dwi/..._adc.nii.gz, anat/..._FLAIR.nii.gz} and
    ISLES-2022/derivatives/sub-strokecase0001/ses-0001/sub-strokecase0001_ses-0001_msk.nii.gz (torch-em's isles.py
    globs and the mask name in public loaders, as cited in the entry)."""
    folder = root / "ISLES-2022"
    rng = np.random.default_rng(9)
    for case, box in (("sub-strokecase0001", ((3, 3, 1), (9, 9, 5))), ("sub-strokecase0002", ((11, 8, 2), (18, 14, 6)))):
        session = folder / case / "ses-0001"
        for kind in ("dwi", "adc"):
            save_nifti(session / "dwi" / f"{case}_ses-0001_{kind}.nii.gz", rng.uniform(0, 800, SHAPE).astype(np.float32), RAS)
        save_nifti(session / "anat" / f"{case}_ses-0001_FLAIR.nii.gz", rng.uniform(0, 800, (24, 20, 8)).astype(np.float32), RAS)
        save_nifti(folder / "derivatives" / case / "ses-0001" / f"{case}_ses-0001_msk.nii.gz", cuboid(SHAPE, *box), RAS)
    return folder, {"ischemic stroke lesion"}


def isles24(root: Path) -> tuple[Path, set[str]]:
    """train/raw_data/<sub>/ses-01/<sub>_ses-01_ncct.nii.gz, train/derivatives/<sub>/ses-01/perfusion-maps/
    <sub>_ses-01_space-ncct_tmax.nii.gz and train/derivatives/<sub>/ses-02/<sub>_ses-02_space-ncct_{dwi,adc,
    lesion-msk}.nii.gz (bids-hub's 'Zenodo v7 Structure', as cited in the entry), with the stray native-space
    sub-stroke0142_ses-02_lesion-msk.nii a Hub copy's card reports, which is not read."""
    folder = root / "train"
    rng = np.random.default_rng(24)
    for case, box in (("sub-stroke0001", ((3, 3, 1), (9, 9, 5))), ("sub-stroke0142", ((11, 8, 2), (18, 14, 6)))):
        save_nifti(folder / "raw_data" / case / "ses-01" / f"{case}_ses-01_ncct.nii.gz", ct_volume(SHAPE, rng), RAS)
        acute, follow_up = folder / "derivatives" / case / "ses-01", folder / "derivatives" / case / "ses-02"
        save_nifti(acute / "perfusion-maps" / f"{case}_ses-01_space-ncct_tmax.nii.gz",
                   rng.uniform(0, 20, SHAPE).astype(np.float32), RAS)
        for kind in ("dwi", "adc"):
            save_nifti(follow_up / f"{case}_ses-02_space-ncct_{kind}.nii.gz",
                       rng.uniform(0, 800, SHAPE).astype(np.float32), RAS)
        save_nifti(follow_up / f"{case}_ses-02_space-ncct_lesion-msk.nii.gz", cuboid(SHAPE, *box), RAS)
    stray = folder / "derivatives" / "sub-stroke0142" / "ses-02" / "sub-stroke0142_ses-02_lesion-msk.nii"
    save_nifti(stray, cuboid((24, 20, 8), (1, 1, 1), (4, 4, 4)), RAS)
    return folder, {"ischemic stroke lesion"}


WRITERS = {"msd-hepatic-vessel": hepatic_vessel, "msd-colon": colon, "amos22-ct": amos_ct, "amos22-mr": amos_mr,
           "abdomenatlas-1.1-mini": abdomenatlas, "totalsegmentator-mri": totalsegmentator_mri, "acdc": acdc,
           "ribfrac": ribfrac, "autopet-fdg": autopet, "isles22": isles22, "isles24": isles24}
