"""CBIS-DDSM through the CLI on a miniature in its published layout, and the CSV-described ROI DICOM reader's bad
inputs.

The layout is the one cited in the entry: the four description tables beside ``CBIS-DDSM/`` (headers verbatim from
TCIA's tables; ROI mask paths quoted with their trailing newline; the tables' own ``000000.dcm``/``000001.dcm``
names), and the NBIA Data Retriever's folders: ``<Subject ID>/<study UID>/<series UID>/1-1.dcm`` (classic) or
``<Subject ID>/<date>-<study>/<n>-<series description>-<nnnnn>/1-1.dcm`` (descriptive), each ROI series holding the
cropped image and the mask as ``1-1.dcm``/``1-2.dcm`` in either order. Pixels are tiny; masks are squares whose
boxes are computed here from the arrays written."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vgmed_data.cli import main
from vgmed_data.folder import iter_rows
from vgmed_data.guards import check_phi
from vgmed_data.imaging.deid import pseudonym
from vgmed_data.imaging.render import render_file
from vgmed_data.imaging.sop_pointer import resolve_sop_pointer
from vgmed_data.pointers import pixel_sha256

KEY = "a-team-secret-for-tests"
SIZE = (48, 32)  # rows, columns of every full mammogram (the real ones are ~5000 x 3000)
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
MAMMOGRAPHY_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"  # Digital Mammography X-Ray Image Storage
MASS_HEADER = ("patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,mass shape,"
               "mass margins,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path")
CALC_HEADER = ("patient_id,breast density,left or right breast,image view,abnormality id,abnormality type,calc type,"
               "calc distribution,assessment,pathology,subtlety,image file path,cropped image file path,"
               "ROI mask file path")
# (table, subject, abnormality id, descriptive folders?, mask first in the ROI series?, square (r0, c0, side), cells)
ABNORMALITIES = [
    ("mass_case_description_train_set.csv", "Mass-Training_P_00001_LEFT_CC", 1, False, True, (4, 4, 6),
     ["P_00001", "3", "LEFT", "CC", "1", "mass", "IRREGULAR-ARCHITECTURAL_DISTORTION", "SPICULATED", "4",
      "MALIGNANT", "4"]),
    ("mass_case_description_train_set.csv", "Mass-Training_P_00001_LEFT_CC", 2, False, False, (30, 20, 8),
     ["P_00001", "3", "LEFT", "CC", "2", "mass", "OVAL", "SPICULATED", "4", "MALIGNANT", "3"]),
    ("mass_case_description_train_set.csv", "Mass-Training_P_00004_RIGHT_MLO", 1, False, True, (10, 12, 9),
     ["P_00004", "3", "RIGHT", "MLO", "1", "mass", "OVAL", "CIRCUMSCRIBED", "4", "BENIGN", "5"]),
    ("calc_case_description_test_set.csv", "Calc-Test_P_00038_LEFT_CC", 1, True, False, (20, 8, 7),
     ["P_00038", "2", "LEFT", "CC", "1", "calcification", "PUNCTATE-PLEOMORPHIC", "CLUSTERED", "4", "BENIGN", "2"]),
]


def uid(*parts: object) -> str:
    import hashlib

    return "1.3.6.1.4.1.9590.100.1.2." + str(int(hashlib.sha256(repr(parts).encode()).hexdigest()[:24], 16))


def write_dicom(path: Path, pixels: np.ndarray, *, subject: str, study: str, series: str, description: str,
                sop_class: str = SECONDARY_CAPTURE) -> str:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    sop = uid("sop", path.as_posix())
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop_class, sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = sop_class, sop, "MG"
    ds.PatientID = ds.PatientName = subject  # TCIA's subject id, as in the collection
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SeriesDescription = study, series, description
    ds.BodyPartExamined = "BREAST"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, "MONOCHROME2", 0
    bits = 8 if pixels.dtype == np.uint8 else 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.PixelData = pixels.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return sop


def square(r0: int, c0: int, side: int) -> np.ndarray:
    mask = np.zeros(SIZE, np.uint8)
    mask[r0:r0 + side, c0:c0 + side] = 255
    return mask


def series_folder(subject_dir: Path, study: str, series: str, *, descriptive: bool, description: str) -> Path:
    if descriptive:  # the retriever's descriptive names: <date>-<study>/<n>-<series description>-<last digits>
        return subject_dir / f"07-20-2016-DDSM-{study[-5:]}" / f"1.000000-{description}-{series[-5:]}"
    return subject_dir / study / series


def write_cbis(root: Path) -> Path:
    rng = np.random.default_rng(3)
    images = root / "CBIS-DDSM"
    tables: dict[str, list[list[str]]] = {}
    written: set[str] = set()
    for table, subject, number, descriptive, mask_first, box, cells in ABNORMALITIES:
        study, series = uid("study", subject), uid("series", subject)
        if subject not in written:
            folder = series_folder(images / subject, study, series, descriptive=descriptive,
                                   description="full mammogram images")
            write_dicom(folder / "1-1.dcm", rng.integers(0, 4000, SIZE, dtype=np.uint16), subject=subject,
                        study=study, series=series, description="full mammogram images",
                        sop_class=MAMMOGRAPHY_FOR_PRESENTATION if "P_00004" in subject else SECONDARY_CAPTURE)
            written.add(subject)
        roi = f"{subject}_{number}"
        roi_study, roi_series = uid("study", roi), uid("series", roi)
        folder = series_folder(images / roi, roi_study, roi_series, descriptive=descriptive,
                               description="ROI mask images")
        names = ("1-1.dcm", "1-2.dcm") if mask_first else ("1-2.dcm", "1-1.dcm")
        write_dicom(folder / names[0], square(*box), subject=roi, study=roi_study, series=roi_series,
                    description="ROI mask images")
        r0, c0, side = box
        write_dicom(folder / names[1], rng.integers(0, 4000, (side, side), dtype=np.uint16), subject=roi,
                    study=roi_study, series=roi_series, description="ROI mask images")
        image_path = f"{subject}/{study}/{series}/000000.dcm"
        roi_path = f"{roi}/{roi_study}/{roi_series}"
        tables.setdefault(table, []).append([*cells, image_path, f"{roi_path}/000000.dcm", f"{roi_path}/000001.dcm\n"])
    for table, rows in tables.items():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(rows)
        header = MASS_HEADER if table.startswith("mass") else CALC_HEADER
        (root / table).write_text(header + "\n" + out.getvalue())
    return root


def expected_box(r0: int, c0: int, side: int) -> list[float]:
    rows, cols = np.nonzero(square(r0, c0, side))
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


def png_bytes(image) -> bytes:  # noqa: ANN001 - a PIL image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def build(root: Path, out: Path, *extra: str) -> int:
    return main(["build", "vgmed", "--source", f"cbis-ddsm={root}", "--out", str(out), "--deid-key", KEY,
                 "--splits", "train=0.5,test=0.5", "--quiet", *extra])


@pytest.fixture()
def cbis(tmp_path: Path) -> Path:
    return write_cbis(tmp_path / "cbis")


def test_cbis_ddsm_verifies_builds_and_validates(cbis: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "verify", "cbis-ddsm", str(cbis)]) == 0
    assert "cbis-ddsm: layout ok" in capsys.readouterr().out
    assert build(cbis, tmp_path / "out", "--burned-in-check", "off") == 0
    assert main(["validate", str(tmp_path / "out")]) == 0
    rows = list(iter_rows(tmp_path / "out", config="vgmed"))
    assert {r["modality"] for r in rows} == {"MG"}
    assert {r["image_origin"] for r in rows} == {"dicom-deidentified"}
    by_image: dict[str, list[dict]] = {}
    for row in rows:
        by_image.setdefault(json.loads(row["metadata"])["view"] + row["target"], []).append(row)
    boxes = {key: {tuple(b) for r in found for b in r["boxes"]} for key, found in by_image.items()}
    # P_00001 LEFT CC: two masses, one target; P_00004 RIGHT MLO one mass; P_00038 LEFT CC one calcification
    assert boxes["CCmass"] == {tuple(expected_box(*ABNORMALITIES[0][5])), tuple(expected_box(*ABNORMALITIES[1][5]))}
    assert boxes["MLOmass"] == {tuple(expected_box(*ABNORMALITIES[2][5]))}
    assert boxes["CCcalcification"] == {tuple(expected_box(*ABNORMALITIES[3][5]))}
    answers = {(row["target"], json.loads(row["metadata"])["view"], json.loads(row["metadata"])["reference"]):
               row["answer"] for row in rows if json.loads(row["metadata"])["question_kind"] == "source_attribute"}
    assert answers == {
        ("mass", "CC", "pathology"): "malignant", ("mass", "CC", "BI-RADS assessment"): "BI-RADS 4",
        ("mass", "CC", "mass margins"): "spiculated",  # both masses agree; their shapes differ: not asked
        ("mass", "MLO", "pathology"): "benign", ("mass", "MLO", "BI-RADS assessment"): "BI-RADS 4",
        ("mass", "MLO", "mass shape"): "oval", ("mass", "MLO", "mass margins"): "circumscribed",
        ("calcification", "CC", "pathology"): "benign", ("calcification", "CC", "BI-RADS assessment"): "BI-RADS 4",
        ("calcification", "CC", "calcification distribution"): "clustered",  # PUNCTATE-PLEOMORPHIC: two types
    }
    text = (tmp_path / "out").joinpath("build_report.json").read_text() + "".join(r["metadata"] for r in rows)
    assert "P_000" not in text and "Mass-Training" not in text and "Calc-Test" not in text  # no subject id leaks
    metadata = {(json.loads(r["metadata"])["breast"], json.loads(r["metadata"])["breast_density"]) for r in rows}
    assert metadata == {("LEFT", "3"), ("RIGHT", "3"), ("LEFT", "2")}  # both spellings of the density column
    assert {r["patient_id"] for r in rows} == {pseudonym(p, key=KEY) for p in ("P_00001", "P_00004", "P_00038")}
    check_phi(tmp_path / "out", images_published=True)  # raises when a row would leak
    for row in rows:  # the pointer names no path and re-renders the published pixels from the source folder
        meta = json.loads(row["metadata"])
        assert meta["dicom"]["PatientIdentityRemoved"] == "YES" and "PatientID" not in meta["dicom"]
        rendered = render_file(resolve_sop_pointer(cbis, meta["source_path"]), window=row["window"])
        assert pixel_sha256(row["image"]["bytes"]) == pixel_sha256(png_bytes(rendered.image))
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["skip_counts"] == {}


def test_secondary_capture_mammograms_are_withheld_for_review_by_default(cbis: Path, tmp_path: Path) -> None:
    """The SOP Class of the real files was not read: the miniature has both kinds, and only the Secondary Capture
    images (which may carry burned-in text) wait for a person under the default check."""
    assert build(cbis, tmp_path / "out") == 0
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert len(report["review"]) == 2
    assert {tuple(r["reasons"]) for r in report["review"]} == {("Secondary Capture image",)}
    views = {json.loads(r["metadata"])["view"] for r in iter_rows(tmp_path / "out", config="vgmed")}
    assert views == {"MLO"}  # P_00004's mammogram, stored as Digital Mammography X-Ray Image Storage


def _edit_cell(column: str, value: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        table = root / "mass_case_description_train_set.csv"
        rows = list(csv.reader(io.StringIO(table.read_text(), newline="")))
        index = rows[0].index(column)
        rows[3][index] = value  # P_00004's mass (data row 3)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        table.write_text(out.getvalue())
    return edit


def _roi_files(root: Path) -> list[Path]:
    return sorted((root / "CBIS-DDSM" / "Mass-Training_P_00004_RIGHT_MLO_1").rglob("*.dcm"))


def _remove_roi(root: Path) -> None:
    for path in _roi_files(root):
        path.unlink()


def _resize_mask(root: Path) -> None:
    import pydicom

    for path in _roi_files(root):
        ds = pydicom.dcmread(path)
        if (ds.Rows, ds.Columns) == SIZE:
            ds.Rows, ds.Columns = 24, 64  # same pixel count, another shape
            ds.save_as(path)


def _second_mask(root: Path) -> None:
    import shutil

    import pydicom

    mask = next(path for path in _roi_files(root) if (pydicom.dcmread(path).Rows, pydicom.dcmread(path).Columns) == SIZE)
    copy = mask.with_name("1-3.dcm")
    shutil.copy(mask, copy)
    ds = pydicom.dcmread(copy)
    ds.SOPInstanceUID = uid("third instance")
    ds.save_as(copy)


def _truncate_image(root: Path) -> None:
    path = next((root / "CBIS-DDSM" / "Mass-Training_P_00004_RIGHT_MLO").rglob("1-1.dcm"))
    path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize(("breaker", "reason", "message"), [
    (_remove_roi, "missing file", "row 3: ROI mask file path names a subject folder with no DICOM file"),
    (_resize_mask, "shape mismatch", "row 3: the ROI mask file path folder has no DICOM of the full image's size"),
    (_edit_cell("pathology", "PROBABLY_BENIGN"), "label not in map",
     "row 3: pathology value 'PROBABLY_BENIGN' is not one the entry knows"),
    (_edit_cell("abnormality type", "architectural distortion"), "label not in map",
     "label 'architectural distortion' is not in the cbis-ddsm label map"),
    (_edit_cell("image file path", "../../outside/x/y/000000.dcm"), "path outside the source folder",
     "leaves"),
    (_second_mask, "ambiguous mask", "row 3: the ROI mask file path folder has 2 DICOMs of the full image's size"),
    (_truncate_image, "corrupt file", "row 3: a DICOM file of the image file path folder cannot be read"),
])
def test_cbis_ddsm_bad_inputs(breaker: Callable[[Path], None], reason: str, message: str, cbis: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    breaker(cbis)
    assert build(cbis, tmp_path / "strict", "--burned-in-check", "off") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "strict").exists()
    assert build(cbis, tmp_path / "lenient", "--burned-in-check", "off", "--on-bad", "skip") == 0
    report = json.loads((tmp_path / "lenient" / "build_report.json").read_text())
    assert report["skip_counts"] == {f"cbis-ddsm: {reason}": 1}
    assert report["by_source"]["cbis-ddsm"] > 0  # the other images still build
    assert "MLO" not in {json.loads(r["metadata"])["view"] for r in iter_rows(tmp_path / "lenient", config="vgmed")}
