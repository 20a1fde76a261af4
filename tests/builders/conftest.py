"""Miniature sources shared by the builder tests (written once per session; tests never modify them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.builders import miniatures as mini

VOL_SHAPE = (32, 28, 10)


def spleen_cases() -> dict[str, np.ndarray]:
    return {
        "spleen_2": mini.cuboid(VOL_SHAPE, (4, 6, 3), (14, 18, 7)),
        "spleen_3": mini.cuboid(VOL_SHAPE, (18, 4, 2), (28, 12, 5)),
    }


def kits_cases() -> dict[str, np.ndarray]:
    label = mini.cuboid(VOL_SHAPE, (2, 4, 2), (12, 20, 8))  # kidney
    label[5:9, 8:12, 4:6] = 2  # tumour inside the kidney
    other = mini.cuboid(VOL_SHAPE, (20, 6, 1), (30, 22, 9))
    other[22:26, 10:14, 3:7] = 3  # cyst
    return {"case_00000": label, "case_00001": other}


def busi_cases() -> dict[tuple[str, int], list[np.ndarray]]:
    return {("benign", 1): [mini.disc((64, 80), (20, 24), 8)],
            ("benign", 2): [mini.disc((64, 80), (16, 16), 5), mini.disc((64, 80), (44, 60), 6)],
            ("malignant", 1): [mini.cuboid((64, 80), (30, 40), (50, 72)).astype(bool)],
            ("normal", 1): [np.zeros((64, 80), bool)]}


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sources")
    paths: dict[str, Path] = {}
    paths["msd-spleen"] = mini.write_msd_task(root / "msd", task="Task09_Spleen", labels={"1": "spleen"},
                                              cases=spleen_cases(), modality={"0": "CT"})
    brain = mini.cuboid(VOL_SHAPE, (6, 6, 2), (20, 20, 8))
    brain[10:16, 10:16, 3:7] = 2
    brain[12:14, 12:14, 4:6] = 3
    paths["msd-brain-tumour"] = mini.write_msd_task(
        root / "msd", task="Task01_BrainTumour", cases={"BRATS_001": brain},
        labels={"1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"},
        modality={"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"})
    paths["kits23"] = mini.write_kits(root / "kits23", kits_cases())
    liver = mini.cuboid(VOL_SHAPE, (2, 2, 2), (16, 20, 8))
    spleen = mini.cuboid(VOL_SHAPE, (22, 8, 3), (28, 16, 7))
    paths["totalsegmentator"] = mini.write_totalsegmentator(
        root / "Totalsegmentator_dataset_v201", {"s0000": {"liver": liver, "spleen": spleen}}, VOL_SHAPE)
    kvasir_mask = np.zeros((48, 64), np.uint8)
    kvasir_mask[8:32, 16:40] = 1  # 8-pixel aligned, so the JPEG mask thresholds back exactly
    second = np.zeros((48, 64), np.uint8)
    second[16:40, 40:56] = 1
    paths["kvasir-seg"] = mini.write_kvasir(root, {"cju0qkwl35piu0993l0dewei2": kvasir_mask,
                                                   "cju0qoxqj9q6s0835b43399p4": second})
    paths["isic2018-task1"] = mini.write_isic(root / "isic2018", {
        "ISIC_0000000": mini.disc((60, 80), (30, 40), 15).astype(np.uint8),
        "ISIC_0000001": mini.disc((60, 80), (20, 20), 10).astype(np.uint8)})
    paths["busi"] = mini.write_busi(root, busi_cases())
    paths["idrid-seg"] = mini.write_idrid(root, {
        "IDRiD_01": {"OD": mini.disc((72, 96), (30, 70), 10).astype(np.uint8),
                     "EX": mini.disc((72, 96), (50, 20), 4).astype(np.uint8)},
        "IDRiD_02": {"OD": mini.disc((72, 96), (36, 24), 9).astype(np.uint8)}})
    left = mini.cuboid((80, 64), (10, 36), (70, 58)).astype(bool)  # patient's left lung: image right
    right = mini.cuboid((80, 64), (10, 6), (70, 28)).astype(bool)
    paths["montgomery"] = mini.write_montgomery(root, {"MCUCXR_0001_0": (left, right),
                                                       "MCUCXR_0002_1": (left[::-1], right[::-1])})
    paths["nih-cxr14-bbox"] = mini.write_nih(root / "cxr14", [
        ("00013118_008.png", "Atelectasis", (225.084745762712, 547.019216763771, 86.7796610169491, 79.1864406779661)),
        ("00014716_007.png", "Atelectasis", (686.101694915254, 131.543016509152, 185.491525423729, 313.491525423729)),
        ("00014716_007.png", "Effusion", (600.0, 700.0, 200.0, 150.0))])
    paths["slake"] = mini.write_slake(root, {
        "xmlab0": {"modality": "CT", "location": "Abdomen",
                   "boxes": [("Liver", [20, 60, 90, 100]), ("Spleen", [180, 80, 40, 60])]},
        "xmlab1": {"modality": "X-Ray", "location": "Chest",
                   "boxes": [("Heart", [100, 120, 60, 70])]}})
    paths["lidc-idri"] = mini.write_lidc_idc(root / "idc")
    return paths
