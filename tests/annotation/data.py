"""Tiny dataset folders for the annotation tests: non-square images, boxes and masks with known pixels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from vgmed_data.writer import write_config
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


# -- window views: a CT and an MR slice as DICOM sources, and the independent renders the tests compare with ------

CT_FILE, MR_FILE = "ct/slice.dcm", "mr/slice.dcm"
STORED_CT_WINDOW = "abdomen"  # (C 50, W 400): the window the dataset image was built with


def ct_values() -> np.ndarray:
    """Hounsfield units from -1000 to 1550 whose neighbours differ strongly, so every preset shows structure and
    a drawing one pixel off shows in the canvas checks."""
    x, y = np.meshgrid(np.arange(WIDTH), np.arange(HEIGHT))
    return ((x * 97 + y * 57) % 256) * 10 - 1000


def mr_values() -> np.ndarray:
    x, y = np.meshgrid(np.arange(WIDTH), np.arange(HEIGHT))
    values = (x * 31 + y * 17) % 400 + 100
    values[0, :4] = 4000  # a few bright outliers the robust range clips
    return values


def linear_window(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 (VOI LUT Function LINEAR) to 0-255, written out here independently."""
    x = values.astype(np.float64)
    out = ((x - (centre - 0.5)) / (width - 1) + 0.5) * 255
    out = np.where(x <= centre - 0.5 - (width - 1) / 2, 0, np.where(x > centre - 0.5 + (width - 1) / 2, 255, out))
    return np.rint(out).astype(np.uint8)


def robust_range(values: np.ndarray) -> np.ndarray:
    """The 0.5th-99.5th percentile range mapped linearly to 0-255."""
    low, high = np.percentile(values.astype(np.float64), [0.5, 99.5])
    return np.rint(np.clip((values - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def write_dicom(path: Path, values: np.ndarray, *, modality: str, intercept: int) -> Path:
    """A single-frame MONOCHROME2 DICOM holding ``values`` (stored as ``values - intercept``, slope 1)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, modality
    ds.Rows, ds.Columns = values.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = intercept, 1
    ds.PixelData = (values - intercept).astype(np.int16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_view_dataset(folder: Path, source_root: Path) -> tuple[Path, list[GroundingSample]]:
    """A CT row (stored with the abdomen window) and an MR row (stored with its full min-max range), both pointing
    at DICOM files under ``source_root`` (source key ``tiny``), with the builder's boxes and masks."""
    write_dicom(source_root / CT_FILE, ct_values(), modality="CT", intercept=-1024)
    write_dicom(source_root / MR_FILE, mr_values(), modality="MR", intercept=0)
    ct, mr = make_samples(2)
    values = mr_values()
    span = float(values.max() - values.min())  # min-max: the window (min + span/2 + 0.5, span + 1)
    stored_mr = linear_window(values, values.min() + span / 2 + 0.5, span + 1)
    samples = [
        dataclasses.replace(ct, image=Image.fromarray(linear_window(ct_values(), 50, 400), mode="L"),
                            window=STORED_CT_WINDOW,
                            provenance=dataclasses.replace(ct.provenance, metadata={"source_path": CT_FILE})),
        dataclasses.replace(mr, image=Image.fromarray(stored_mr, mode="L"), window="min-max",
                            provenance=dataclasses.replace(mr.provenance, modality="MR", body_part="brain",
                                                           metadata={"source_path": MR_FILE})),
    ]
    write_config(folder, samples, config="vgmed")
    return folder, samples
