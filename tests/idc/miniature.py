"""IDC downloads in miniature: ``<collection>/<PatientID>/<StudyInstanceUID>/<Modality>_<SeriesInstanceUID>/``
with the selection manifest ``vgmed sources fetch idc:...`` writes beside them.

Three kinds of case, on the DICOM writers of tests/builders/miniatures.py: ``ct-seg`` (CT + a BINARY SEG whose
segment is coded SCT 10200004 liver), ``mr-labelmap`` (MR + a LABELMAP SEG with prostate and a lesion) and
``ct-rtstruct`` (CT + an RTSTRUCT with GTV-1, Heart and an unmapped couch structure). ``identifiers`` plants
values in every header; the PatientID also names the patient's folder, as in IDC's hierarchy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from tests.builders import miniatures as mini
from vgmed_data.builders import idc

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
KINDS = ("ct-seg", "mr-labelmap", "ct-rtstruct")
SOURCE_DOI = "10.0000/vgmed-mini"  # each collection's source: SOURCE_DOI-<collection>


def _square(size: int, lo: int, hi: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[lo:hi, lo:hi] = 1
    return mask


def _code(path: Path, codes: dict[int, tuple[str, str, str]]) -> None:
    """Set segment n's SegmentedPropertyTypeCodeSequence to (scheme, value, meaning)."""
    ds = pydicom.dcmread(path)
    for segment in ds.SegmentSequence:
        scheme, value, meaning = codes[int(segment.SegmentNumber)]
        code = segment.SegmentedPropertyTypeCodeSequence[0]
        code.CodingSchemeDesignator, code.CodeValue, code.CodeMeaning = scheme, value, meaning
    ds.save_as(path)


def _to_mr(series: mini.CtSeries) -> Path:
    folder = series.folder.parent / series.folder.name.replace("CT_", "MR_", 1)
    for path in sorted(series.folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        ds.Modality, ds.SOPClassUID = "MR", MR_IMAGE_STORAGE
        ds.file_meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
        del ds.RescaleIntercept, ds.RescaleSlope
        ds.save_as(path)
    series.folder.rename(folder)
    return folder


def write_case(root: Path, *, collection: str, patient_id: str, kind: str, seed: int, size: int = 16,
               slices: int = 3, identifiers: dict[str, str] | None = None) -> dict[str, str]:
    """One patient's study; returns series UID -> modality of every series written."""
    z = tuple(2.5 * k for k in range(slices))
    study = root / collection / patient_id / mini._uid("study", patient_id)
    series = mini.write_ct_series(study, patient_id=patient_id, z=z, size=size, seed=seed)
    middle, half = slices // 2, size // 4
    if kind == "ct-seg":
        path = mini.write_seg(series, patient_id=patient_id, segments={1: ("organ", "Liver")}, size=size,
                              frames=[(1, k, _square(size, half, size - half)) for k in range(slices)])
        _code(path, {1: ("SCT", "10200004", "Liver")})
    elif kind == "mr-labelmap":
        labels = _square(size, half - 1, size - half + 1)
        labels[half: half + 3, half: half + 3] = 2
        path = mini.write_labelmap_seg(series, patient_id=patient_id, size=size,
                                       segments={1: ("gland", "Prostate"), 2: ("focus", "Lesion")},
                                       frames=[(k, labels) for k in range(slices)])
        _code(path, {1: ("SCT", "41216001", "Prostate"), 2: ("SCT", "52988006", "Lesion")})
        _to_mr(series)
    elif kind == "ct-rtstruct":
        x0, y0 = series.origin_xy
        step = series.spacing

        def ring(lo: int, hi: int, height: float) -> list[tuple[float, float, float]]:
            return [(x0 + lo * step, y0 + lo * step, height), (x0 + hi * step, y0 + lo * step, height),
                    (x0 + hi * step, y0 + hi * step, height), (x0 + lo * step, y0 + hi * step, height)]

        path = mini.write_rtstruct(series, patient_id=patient_id, rois={1: "GTV-1", 2: "Heart", 3: "CouchSurface"},
                                   contours=[(1, ring(half, half + 4, z[middle]), middle),
                                             (2, ring(2, size - 3, z[middle]), middle),
                                             (3, ring(0, size - 1, z[0]), 0)])
    else:
        raise ValueError(f"kind must be one of {KINDS}")
    written = {}
    for dcm in sorted((root / collection / patient_id).rglob("*.dcm")):
        ds = pydicom.dcmread(dcm)
        for keyword, value in (identifiers or {}).items():
            setattr(ds, keyword, value)
        if identifiers:
            ds.save_as(dcm)
        written[str(ds.SeriesInstanceUID)] = str(ds.Modality)
    return written


def write_manifest(root: Path, *, collection: str, series: dict[str, str], patients: dict[str, str],
                   licenses: dict[str, str]) -> Path:
    """The selection manifest for the series written: ``patients`` series UID -> PatientID, ``licenses`` series
    UID -> IDC licence short name (default CC BY 4.0)."""
    selected = tuple(idc.SelectedSeries(
        series_uid=uid, study_uid="", patient_id=patients[uid], modality=modality,
        role="annotation" if modality in idc.ANNOTATION_MODALITIES else "image",
        license=licenses.get(uid, "CC BY 4.0"), size_mb=0.01, source_doi=f"{SOURCE_DOI}-{collection}",
        analysis_result_id="")
        for uid, modality in sorted(series.items()))
    source = {"title": f"Miniature {collection}", "license": "CC BY 4.0",
              "license_url": "https://creativecommons.org/licenses/by/4.0/",
              "citation": f"Miniature {collection} (2026) vgmed-data tests"}
    selection = idc.Selection(collection_id=collection, series=selected, image_rule="test miniature",
                              sources={f"{SOURCE_DOI}-{collection}": source})
    return idc.write_manifest(selection, root)


def write_collection(root: Path, *, collection: str, kinds: dict[str, str], seed: int = 0, size: int = 16,
                     slices: int = 3, identifiers: dict[str, dict[str, str]] | None = None,
                     licenses: dict[str, str] | None = None) -> dict[str, str]:
    """Patients ``kinds`` (PatientID -> kind) and their manifest; ``licenses``: PatientID -> the licence of all
    of that patient's series. Returns series UID -> PatientID."""
    owners: dict[str, str] = {}
    modalities: dict[str, str] = {}
    for number, (patient, kind) in enumerate(sorted(kinds.items())):
        written = write_case(root, collection=collection, patient_id=patient, kind=kind, seed=seed + number,
                             size=size, slices=slices, identifiers=(identifiers or {}).get(patient))
        modalities.update(written)
        owners.update({uid: patient for uid in written})
    write_manifest(root, collection=collection, series=modalities, patients=owners,
                   licenses={uid: (licenses or {})[p] for uid, p in owners.items() if p in (licenses or {})})
    return owners
