"""Miniatures of each source's real on-disk layout, written into a temporary folder.

Folder and file names, index files (dataset.json keys, CSV headers, JSON keys), NIfTI affines (MSD and KiTS store
non-RAS orientations) and label encodings follow the real sources (see each entry's ``layout_confirmed_at``).
Pixel content is synthetic: cuboids and discs at known places, so tests can compute expected boxes directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from PIL import Image

# LPS-like storage (x and y flipped), as many MSD/KiTS files are; readers reorient to RAS+.
MSD_AFFINE = np.array([[-0.8, 0, 0, 200.0], [0, -0.8, 0, 180.0], [0, 0, 2.5, -300.0], [0, 0, 0, 1]])


def save_nifti(path: Path, data: np.ndarray, affine: np.ndarray = MSD_AFFINE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def ct_volume(shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    return (rng.normal(40, 20, size=shape) - 0).astype(np.int16)


def cuboid(shape: tuple[int, ...], lo: tuple[int, ...], hi: tuple[int, ...], value: int = 1,
           dtype: type = np.uint8) -> np.ndarray:
    out = np.zeros(shape, dtype=dtype)
    out[tuple(slice(a, b) for a, b in zip(lo, hi))] = value
    return out


def write_msd_task(root: Path, *, task: str, labels: dict[str, str], cases: dict[str, np.ndarray],
                   modality: dict[str, str], shape: tuple[int, ...] | None = None, seed: int = 0) -> Path:
    """``root/<task>/`` with dataset.json, imagesTr/, labelsTr/, imagesTs/ and the archive's ``._*`` files."""
    rng = np.random.default_rng(seed)
    folder = root / task
    training = []
    for case, label in cases.items():
        image_shape = label.shape + ((len(modality),) if len(modality) > 1 else ())
        save_nifti(folder / "imagesTr" / f"{case}.nii.gz", ct_volume(image_shape, rng))
        save_nifti(folder / "labelsTr" / f"{case}.nii.gz", label.astype(np.uint8))
        (folder / "imagesTr" / f"._{case}.nii.gz").write_bytes(b"\x00\x05\x16\x07AppleDouble")
        training.append({"image": f"./imagesTr/{case}.nii.gz", "label": f"./labelsTr/{case}.nii.gz"})
    save_nifti(folder / "imagesTs" / "test_1.nii.gz", ct_volume(next(iter(cases.values())).shape
                                                                 + ((len(modality),) if len(modality) > 1 else ()), rng))
    (folder / "dataset.json").write_text(json.dumps({
        "name": task.split("_", 1)[1], "description": "miniature", "reference": "", "licence": "CC-BY-SA 4.0",
        "release": "1.0 04/05/2018", "tensorImageSize": "4D" if len(modality) > 1 else "3D",
        "modality": modality, "labels": {"0": "background", **labels}, "numTraining": len(training), "numTest": 1,
        "training": training, "test": ["./imagesTs/test_1.nii.gz"]}, indent=4))
    return folder


def write_kits(root: Path, cases: dict[str, np.ndarray], seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    folder = root / "dataset"
    for case, label in cases.items():
        save_nifti(folder / case / "imaging.nii.gz", ct_volume(label.shape, rng))
        save_nifti(folder / case / "segmentation.nii.gz", label.astype(np.uint8))
        # per-annotator instance masks beside it (neheller/kits23 dataset/case_*/instances/); the reader ignores them
        for value, name in ((1, "kidney"), (2, "tumor"), (3, "cyst")):
            if (label == value).any():
                save_nifti(folder / case / "instances" / f"{name}_instance-1_annotation-1.nii.gz",
                           (label == value).astype(np.uint8))
    (root / "dataset" / "kits23.json").write_text("[]")
    return folder


TOTALSEG_ALL = ("liver", "spleen", "pancreas", "kidney_left", "kidney_right", "stomach", "gallbladder",
                "urinary_bladder", "aorta", "esophagus", "trachea", "heart", "vertebrae_L1", "rib_left_1")


def write_totalsegmentator(root: Path, cases: dict[str, dict[str, np.ndarray]], shape: tuple[int, int, int],
                           seed: int = 2) -> Path:
    """``sXXXX/ct.nii.gz`` + ``sXXXX/segmentations/<structure>.nii.gz`` for every structure (empty when absent,
    as in the real dataset) + ``meta.csv`` (semicolon separated)."""
    rng = np.random.default_rng(seed)
    affine = np.diag([1.5, 1.5, 1.5, 1.0])
    lines = ["image_id;age;gender;institute;study_type;split"]
    for case, structures in cases.items():
        save_nifti(root / case / "ct.nii.gz", ct_volume(shape, rng), affine)
        for name in TOTALSEG_ALL:
            save_nifti(root / case / "segmentations" / f"{name}.nii.gz",
                       structures.get(name, np.zeros(shape, np.uint8)).astype(np.uint8), affine)
        lines.append(f"{case};60;m;A;ct abdomen;train")
    (root / "meta.csv").write_text("\n".join(lines) + "\n")
    return root


def disc(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius ** 2


def rgb_image(shape: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=(*shape, 3), dtype=np.uint8)


def save_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def save_jpeg(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=90)
    return path


def write_kvasir(root: Path, masks: dict[str, np.ndarray]) -> Path:
    folder = root / "Kvasir-SEG"
    boxes = {}
    for index, (name, mask) in enumerate(masks.items()):
        save_jpeg(folder / "images" / f"{name}.jpg", rgb_image(mask.shape, index))
        save_jpeg(folder / "masks" / f"{name}.jpg", (mask * 255).astype(np.uint8))
        rows, cols = np.nonzero(mask)
        boxes[name] = {"height": mask.shape[0], "width": mask.shape[1], "bbox": [
            {"label": "polyp", "xmin": int(cols.min()), "ymin": int(rows.min()), "xmax": int(cols.max()),
             "ymax": int(rows.max())}]}
    (folder / "kavsir_bboxes.json").write_text(json.dumps(boxes))
    return folder


def write_isic(root: Path, masks: dict[str, np.ndarray]) -> Path:
    inputs, truth = root / "ISIC2018_Task1-2_Training_Input", root / "ISIC2018_Task1_Training_GroundTruth"
    for index, (name, mask) in enumerate(masks.items()):
        save_jpeg(inputs / f"{name}.jpg", rgb_image(mask.shape, 10 + index))
        save_png(truth / f"{name}_segmentation.png", (mask * 255).astype(np.uint8))
    for folder in (inputs, truth):
        (folder / "ATTRIBUTION.txt").write_text("miniature\n")
        (folder / "LICENSE.txt").write_text("CC-BY-NC\n")
    return root


def write_busi(root: Path, cases: dict[tuple[str, int], list[np.ndarray]]) -> Path:
    """``Dataset_BUSI_with_GT/<class>/<class> (N).png`` + ``_mask.png`` (+ ``_mask_1.png``...)."""
    folder = root / "Dataset_BUSI_with_GT"
    for (category, number), masks in cases.items():
        stem = f"{category} ({number})"
        shape = masks[0].shape
        save_png(folder / category / f"{stem}.png", np.random.default_rng([number, len(category)]).integers(0, 255, shape, dtype=np.uint8))
        for index, mask in enumerate(masks):
            suffix = "_mask.png" if index == 0 else f"_mask_{index}.png"
            save_png(folder / category / f"{stem}{suffix}", (mask * 255).astype(np.uint8))
    return folder


IDRID_FOLDERS = {"MA": "1. Microaneurysms", "HE": "2. Haemorrhages", "EX": "3. Hard Exudates",
                 "SE": "4. Soft Exudates", "OD": "5. Optic Disc"}


def write_idrid(root: Path, cases: dict[str, dict[str, np.ndarray]], *, set_name: str = "a. Training Set") -> Path:
    folder = root / "A. Segmentation"
    for index, (name, lesions) in enumerate(cases.items()):
        shape = next(iter(lesions.values())).shape
        save_jpeg(folder / "1. Original Images" / set_name / f"{name}.jpg", rgb_image(shape, 20 + index))
        for code, mask in lesions.items():
            # the real ground truths are TIFFs with the lesion in the red channel (value 255)
            rgb = np.zeros((*shape, 3), np.uint8)
            rgb[..., 0] = mask * 255
            path = folder / "2. All Segmentation Groundtruths" / set_name / IDRID_FOLDERS[code] / f"{name}_{code}.tif"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(path)
    return folder


def write_montgomery(root: Path, cases: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """``MontgomerySet/CXR_png/<name>.png`` + ``ManualMask/{leftMask,rightMask}/<name>.png`` (patient's left lung
    appears on the image's right)."""
    folder = root / "MontgomerySet"
    for index, (name, (left, right)) in enumerate(cases.items()):
        save_png(folder / "CXR_png" / f"{name}.png",
                 np.random.default_rng(30 + index).integers(0, 4095, left.shape).astype(np.uint16))
        save_png(folder / "ManualMask" / "leftMask" / f"{name}.png", (left * 255).astype(np.uint8))
        save_png(folder / "ManualMask" / "rightMask" / f"{name}.png", (right * 255).astype(np.uint8))
        (folder / "ClinicalReadings").mkdir(parents=True, exist_ok=True)
        (folder / "ClinicalReadings" / f"{name}.txt").write_text("Patient's Sex: M\nPatient's Age: 040Y\nnormal\n")
    return folder


NIH_HEADER = "Image Index,Finding Label,Bbox [x,y,w,h],,,"


def write_nih(root: Path, rows: list[tuple[str, str, tuple[float, float, float, float]]], *,
              size: int = 1024, missing: tuple[str, ...] = ()) -> Path:
    lines = [NIH_HEADER]
    for name, label, (x, y, w, h) in rows:
        lines.append(f"{name},{label},{x!r},{y!r},{w!r},{h!r},,,")
    (root / "BBox_List_2017.csv").parent.mkdir(parents=True, exist_ok=True)
    (root / "BBox_List_2017.csv").write_text("\n".join(lines) + "\n")
    for index, name in enumerate(sorted({r[0] for r in rows})):
        if name not in missing:
            save_png(root / "images" / name, np.full((size, size), 40 + index, np.uint8))
    return root


# SLAKE's mask.txt (BoKelvin/SLAKE@644f170): '<grey value>:<structure>' per line; mask.png carries these values.
SLAKE_MASK_VALUES = {
    30: "Left Humerus Head", 35: "Right Humerus Head", 40: "Larynx", 45: "Right Femoral Head", 50: "Left Femoral Head",
    55: "Brain Stem", 60: "Duodenum", 65: "Tooth", 70: "Liver", 75: "Trachea", 80: "Left Eye", 90: "Right Eye",
    95: "Brain Edema", 105: "Rectum", 110: "Esophagus", 120: "Left Ear", 125: "Bladder", 130: "Right Ear",
    135: "Left Kidney", 140: "Brain Non-enhancing Tumor", 145: "Spinal Cord", 150: "Kidney Cancer", 155: "Right Kidney",
    160: "Left Temporal Lobe", 165: "Stomach", 170: "Right Temporal Lobe", 175: "Liver Cancer", 180: "Heart",
    185: "Brain Enhancing Tumor", 200: "Left Mandible", 205: "Small Bowel", 210: "Right Mandible", 215: "Left Lung",
    225: "Right Lung", 230: "Spleen", 235: "Colon", 240: "Left Parotid", 245: "Lung Cancer", 250: "Right Parotid"}


def write_slake(root: Path, images: dict[str, dict], *, size: tuple[int, int] = (256, 256),
                validate_name: str = "validate.json") -> Path:
    """``imgs/xmlabN/{source.jpg, mask.png, detection.json, question.json}`` + train/validate/test.json + mask.txt.
    ``images``: folder -> {"modality", "location", "boxes": [(name, [x, y, w, h])]}. Boxes are written as floats
    (as in the release); mask.png paints each box with the structure's mask.txt grey value where it has one."""
    folder = root / "Slake1.0"
    value_of = {name: value for value, name in SLAKE_MASK_VALUES.items()}
    items = []
    for index, (name, info) in enumerate(images.items()):
        save_jpeg(folder / "imgs" / name / "source.jpg", rgb_image((size[1], size[0]), 40 + index))
        mask = np.zeros((size[1], size[0]), np.uint8)
        for label, (x, y, w, h) in info["boxes"]:
            if label in value_of:
                mask[int(y):int(y + h), int(x):int(x + w)] = value_of[label]
        save_png(folder / "imgs" / name / "mask.png", mask)
        (folder / "imgs" / name / "detection.json").write_text(
            json.dumps([{label: [float(v) for v in box]} for label, box in info["boxes"]]))
        image_items = []
        for qid, lang in ((index * 2, "en"), (index * 2 + 1, "zh")):
            image_items.append({"img_id": index, "img_name": f"{name}/source.jpg", "question": "Which organ is shown?",
                                "answer": "Liver", "q_lang": lang, "location": info["location"],
                                "modality": info["modality"], "answer_type": "OPEN", "base_type": "vqa",
                                "content_type": "Organ", "triple": ["vhead", "_", "_"], "qid": qid})
        (folder / "imgs" / name / "question.json").write_text(json.dumps(image_items))
        items.extend(image_items)
    half = max(1, len(items) // 2)
    (folder / "train.json").write_text(json.dumps(items[:half]))
    (folder / validate_name).write_text(json.dumps(items[half:]))
    (folder / "test.json").write_text("[]")
    (folder / "mask.txt").write_text("\n".join(f"{value}:{name}" for value, name in SLAKE_MASK_VALUES.items()))
    return folder


# ------------------------------------------------------------------------------------------------------- DICOM
# IDC downloads (idc-index, default dirTemplate): <collection_id>/<PatientID>/<StudyInstanceUID>/
# <Modality>_<SeriesInstanceUID>/<crdc_instance_uuid>.dcm (see the lidc-idri entry's layout_confirmed_at).
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"


def _uid(*parts: object) -> str:
    import hashlib

    return "1.2.826.0.1.3680043.9.7777." + str(int(hashlib.sha256(repr(parts).encode()).hexdigest()[:20], 16))


def _file_name(uid: str) -> str:
    import uuid

    return f"{uuid.uuid5(uuid.NAMESPACE_OID, uid)}.dcm"


def _base(sop_class: str, sop_uid: str, modality: str, *, patient_id: str, study_uid: str, series_uid: str,
          frame_of_reference: str):  # noqa: ANN202 - a pydicom FileDataset
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop_class, sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = sop_class, sop_uid, modality
    ds.PatientID, ds.PatientName, ds.PatientBirthDate = patient_id, f"Doe^{patient_id}", "19500101"
    ds.InstitutionName, ds.StudyDate = "General Hospital", "20100101"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_of_reference
    return ds


@dataclass(frozen=True)
class CtSeries:
    folder: Path
    study_uid: str
    series_uid: str
    frame_of_reference: str
    sop_uids: tuple[str, ...]  # in slice (z) order
    z: tuple[float, ...]
    origin_xy: tuple[float, float]
    spacing: float


def write_ct_series(study_folder: Path, *, patient_id: str, z: tuple[float, ...], size: int = 16,
                    spacing: float = 2.0, origin_xy: tuple[float, float] = (-15.0, -15.0), seed: int = 0,
                    series_uid: str | None = None, sop_uids: tuple[str, ...] | None = None,
                    shuffle_files: bool = True) -> CtSeries:
    """An axial CT series (identity orientation): slice k at z[k], pixel (r, c) centred at
    (origin_x + c*spacing, origin_y + r*spacing). Instance numbers and file names are deliberately not in z order."""
    rng = np.random.default_rng(seed)
    study_uid = _uid("study", patient_id)
    series_uid = series_uid or _uid("series", patient_id, seed)
    frame_of_reference = _uid("for", patient_id, seed)
    sop_uids = sop_uids or tuple(_uid("ct", patient_id, seed, k) for k in range(len(z)))
    folder = study_folder / f"CT_{series_uid}"
    folder.mkdir(parents=True, exist_ok=True)
    numbers = list(range(1, len(z) + 1))
    if shuffle_files:
        rng.shuffle(numbers)
    for k, (height, sop) in enumerate(zip(z, sop_uids)):
        ds = _base(CT_IMAGE_STORAGE, sop, "CT", patient_id=patient_id, study_uid=study_uid, series_uid=series_uid,
                   frame_of_reference=frame_of_reference)
        ds.InstanceNumber = numbers[k]
        ds.ImagePositionPatient = [origin_xy[0], origin_xy[1], height]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [spacing, spacing]
        ds.SliceThickness = abs(z[1] - z[0]) if len(z) > 1 else 1.0
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = (rng.integers(0, 1400, (size, size)) + 100 * k).astype(np.int16).tobytes()
        ds.save_as(folder / _file_name(sop), enforce_file_format=True)
    return CtSeries(folder, study_uid, series_uid, frame_of_reference, tuple(sop_uids), tuple(z), origin_xy, spacing)


def _seg_header(series: CtSeries, *, patient_id: str, segments: dict[int, tuple[str, str]], name: str,
                sop_class: str) -> tuple[Any, str, str]:
    """The Segmentation IOD attributes a BINARY, FRACTIONAL and LABELMAP SEG share: (dataset, series UID, SOP UID)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    seg_series = _uid("segseries", series.series_uid, name)
    sop = _uid("seg", series.series_uid, name)
    ds = _base(sop_class, sop, "SEG", patient_id=patient_id, study_uid=series.study_uid, series_uid=seg_series,
               frame_of_reference=series.frame_of_reference)
    items = []
    for number, (label, meaning) in segments.items():
        item = Dataset()
        item.SegmentNumber, item.SegmentLabel, item.SegmentAlgorithmType = number, label, "MANUAL"
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "M-03010", "SRT", meaning
        item.SegmentedPropertyTypeCodeSequence = Sequence([code])
        items.append(item)
    ds.SegmentSequence = Sequence(items)
    referenced = Dataset()
    referenced.SeriesInstanceUID = series.series_uid
    referenced.ReferencedInstanceSequence = Sequence()
    ds.ReferencedSeriesSequence = Sequence([referenced])
    return ds, seg_series, sop


def _seg_frame_group(series: CtSeries, index: int, *, reference: str, segment: int | None) -> Any:
    """One PerFrameFunctionalGroupsSequence item: the segment (not in LABELMAP frames) and the slice."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    group = Dataset()
    if segment is not None:
        identification = Dataset()
        identification.ReferencedSegmentNumber = segment
        group.SegmentIdentificationSequence = Sequence([identification])
    position = Dataset()
    position.ImagePositionPatient = [series.origin_xy[0], series.origin_xy[1], series.z[index]]
    group.PlanePositionSequence = Sequence([position])
    if reference == "sop":
        source = Dataset()
        source.ReferencedSOPClassUID, source.ReferencedSOPInstanceUID = CT_IMAGE_STORAGE, series.sop_uids[index]
        derivation = Dataset()
        derivation.SourceImageSequence = Sequence([source])
        group.DerivationImageSequence = Sequence([derivation])
    return group


def _save_seg(ds: Any, series: CtSeries, seg_series: str, sop: str) -> Path:
    folder = series.folder.parent / f"SEG_{seg_series}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _file_name(sop)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_seg(series: CtSeries, *, patient_id: str, segments: dict[int, tuple[str, str]],
              frames: list[tuple[int, int, np.ndarray]], fractional: bool = False, reference: str = "sop",
              size: int = 16, name: str = "seg") -> Path:
    """A DICOM-SEG on ``series``: ``segments`` number -> (SegmentLabel, property CodeMeaning); ``frames``:
    (segment number, slice index, mask). ``reference``: "sop" (DerivationImageSequence) or "position"
    (PlanePositionSequence only). BINARY frames are bit-packed; FRACTIONAL frames are 8-bit with max 255."""
    from pydicom.pixels import pack_bits
    from pydicom.sequence import Sequence

    ds, seg_series, sop = _seg_header(series, patient_id=patient_id, segments=segments, name=name,
                                      sop_class=SEG_STORAGE)
    ds.SegmentationType = "FRACTIONAL" if fractional else "BINARY"
    if fractional:
        ds.SegmentationFractionalType, ds.MaximumFractionalValue = "PROBABILITY", 255
    ds.PerFrameFunctionalGroupsSequence = Sequence(
        [_seg_frame_group(series, index, reference=reference, segment=number) for number, index, _ in frames])
    ds.NumberOfFrames, ds.Rows, ds.Columns = len(frames), size, size
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, "MONOCHROME2", 0
    stack = np.stack([mask for _, _, mask in frames])
    if fractional:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = stack.astype(np.uint8).tobytes()
    else:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 1, 0
        ds.PixelData = pack_bits(stack.astype(np.uint8))
    return _save_seg(ds, series, seg_series, sop)


def write_labelmap_seg(series: CtSeries, *, patient_id: str, segments: dict[int, tuple[str, str]],
                       frames: list[tuple[int, np.ndarray]], reference: str = "sop", size: int = 16,
                       bits: int = 8, segmentation_type: str = "LABELMAP", name: str = "labelmap") -> Path:
    """A Label Map Segmentation (SOP Class 1.2.840.10008.5.1.4.1.1.66.7, DICOM Supplement 243) on ``series``:
    ``frames``: (slice index, label array whose values are segment numbers, 0 = background); 8- or 16-bit
    MONOCHROME2, PixelPaddingValue 0, no SegmentIdentificationSequence in the frames."""
    from pydicom.sequence import Sequence

    ds, seg_series, sop = _seg_header(series, patient_id=patient_id, segments=segments, name=name,
                                      sop_class=LABELMAP_SEG_STORAGE)
    ds.SegmentationType, ds.SegmentsOverlap, ds.PixelPaddingValue = segmentation_type, "NO", 0
    ds.PerFrameFunctionalGroupsSequence = Sequence(
        [_seg_frame_group(series, index, reference=reference, segment=None) for index, _ in frames])
    ds.NumberOfFrames, ds.Rows, ds.Columns = len(frames), size, size
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, "MONOCHROME2", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.PixelData = np.stack([labels for _, labels in frames]).astype(np.uint8 if bits == 8 else np.uint16).tobytes()
    return _save_seg(ds, series, seg_series, sop)


def write_rtstruct(series: CtSeries, *, patient_id: str, rois: dict[int, str],
                   contours: list[tuple[int, list[tuple[float, float, float]], int | None]],
                   name: str = "rt") -> Path:
    """An RTSTRUCT on ``series``: ``rois`` number -> ROIName; ``contours``: (ROI number, points in mm, slice index
    to reference by SOP UID or None to leave ContourImageSequence out)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    rt_series = _uid("rtseries", series.series_uid, name)
    sop = _uid("rt", series.series_uid, name)
    ds = _base(RTSTRUCT_STORAGE, sop, "RTSTRUCT", patient_id=patient_id, study_uid=series.study_uid,
               series_uid=rt_series, frame_of_reference=series.frame_of_reference)
    rt_series_item = Dataset()
    rt_series_item.SeriesInstanceUID = series.series_uid
    study = Dataset()
    study.ReferencedSOPInstanceUID = series.study_uid
    study.RTReferencedSeriesSequence = Sequence([rt_series_item])
    frame = Dataset()
    frame.FrameOfReferenceUID = series.frame_of_reference
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    roi_items, contour_items = [], []
    for number, roi_name in rois.items():
        roi = Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = number, roi_name, series.frame_of_reference
        roi_items.append(roi)
        holder = Dataset()
        holder.ReferencedROINumber = number
        own = [c for c in contours if c[0] == number]
        if own:
            items = []
            for _, points, index in own:
                contour = Dataset()
                contour.ContourGeometricType, contour.NumberOfContourPoints = "CLOSED_PLANAR", len(points)
                contour.ContourData = [round(v, 4) for point in points for v in point]
                if index is not None:
                    image = Dataset()
                    image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = CT_IMAGE_STORAGE, series.sop_uids[index]
                    contour.ContourImageSequence = Sequence([image])
                items.append(contour)
            holder.ContourSequence = Sequence(items)
        contour_items.append(holder)
    ds.StructureSetROISequence = Sequence(roi_items)
    ds.ROIContourSequence = Sequence(contour_items)
    folder = series.folder.parent / f"RTSTRUCT_{rt_series}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _file_name(sop)
    ds.save_as(path, enforce_file_format=True)
    return path


LIDC_Z = (-120.0, -117.5, -115.0, -112.5, -110.0)


def lidc_nodule(centre: tuple[int, int], half: int, size: int = 16) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[centre[0] - half: centre[0] + half, centre[1] - half: centre[1] + half] = 1
    return mask


def write_lidc_idc(root: Path) -> Path:
    """``lidc_idri/LIDC-IDRI-000N/<study>/CT_<series>/`` + one ``SEG_<series>/`` per reader annotation (as the
    IDC conversion of the LIDC XML: one segment per SEG, property type "Nodule"). Patient 1: a nodule on slices
    1-3 annotated by two readers; patient 2: one nodule on slice 2 (FRACTIONAL SEG, position references only)."""
    collection = root / "lidc_idri"
    first = write_ct_series(collection / "LIDC-IDRI-0001" / _uid("study", "LIDC-IDRI-0001"),
                            patient_id="LIDC-IDRI-0001", z=LIDC_Z, seed=1)
    for reader, half in (("1", 3), ("2", 2)):
        write_seg(first, patient_id="LIDC-IDRI-0001", name=f"reader{reader}",
                  segments={1: (f"Nodule 1 - Annotation {reader}", "Nodule")},
                  frames=[(1, k, lidc_nodule((6, 9), half if k == 2 else 1)) for k in (1, 2, 3)])
    second = write_ct_series(collection / "LIDC-IDRI-0002" / _uid("study", "LIDC-IDRI-0002"),
                             patient_id="LIDC-IDRI-0002", z=LIDC_Z, seed=2)
    write_seg(second, patient_id="LIDC-IDRI-0002", fractional=True, reference="position", name="reader1",
              segments={1: ("Nodule 1 - Annotation 1", "Nodule")},
              frames=[(1, 2, lidc_nodule((10, 4), 3) * 200), (1, 3, lidc_nodule((10, 4), 2) * 100)])
    return collection
