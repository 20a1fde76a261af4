"""DICOM series + DICOM-SEG/RTSTRUCT: slice order, masks against hand-computed goldens (and pydicom's real
liver_1frame.dcm / rtstruct.dcm), bad input, the de-identification key, and PHI-free rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from vgmed_data.builders.readers.dicom import series_geometry
from vgmed_data.builders.readers.dicom_regions import annotation_masks
from vgmed_data.builders.vgmed import BuildOptions, build_vgmed
from tests.builders import miniatures as mini
from vgmed_data.errors import FileFormatError, GeometryError, InvalidInputError
from vgmed_data.folder import iter_rows
from vgmed_data.guards import check_phi
from vgmed_data.pointers import pixel_sha256
from vgmed_data.imaging.deid import replace_uid
from vgmed_data.imaging.render import render_file
from vgmed_data.validate import validate_folder

KEY = "test-key-0123456789abcdef"
SMALL = BuildOptions(min_pixels=1, min_size_mm=None)


def _pairs(series: mini.CtSeries) -> tuple[tuple[str, str], ...]:
    return tuple((str(p), p.name) for p in sorted(series.folder.glob("*.dcm")))


def test_series_sorted_along_the_normal_not_by_file_or_instance_number(tmp_path: Path) -> None:
    series = mini.write_ct_series(tmp_path, patient_id="P1", z=(10.0, -5.0, 2.5, 0.0), seed=3)
    geometry = series_geometry(_pairs(series))
    by_z = [uid for _, uid in sorted(zip(series.z, series.sop_uids))]
    assert list(geometry.sop_uids) == by_z
    assert geometry.plane == "axial" and geometry.radiological and geometry.shape == (16, 16)
    assert geometry.index_at([0.0, 0.0, 2.5]) == 2 and geometry.index_at([0.0, 0.0, 1.0]) is None


def test_inconsistent_geometry_is_a_typed_error_naming_the_file(tmp_path: Path) -> None:
    series = mini.write_ct_series(tmp_path, patient_id="P1", z=(0.0, 2.0, 4.0))
    odd = sorted(series.folder.glob("*.dcm"))[1]
    ds = pydicom.dcmread(odd)
    ds.PixelSpacing = [0.7, 0.7]
    ds.save_as(odd)
    with pytest.raises(FileFormatError, match="inconsistent series geometry") as caught:
        series_geometry(_pairs(series))
    assert odd.name in str(caught.value)


def test_binary_seg_by_sop_reference_and_fractional_seg_by_position(tmp_path: Path) -> None:
    series = mini.write_ct_series(tmp_path, patient_id="P1", z=mini.LIDC_Z)
    a, b = mini.lidc_nodule((5, 5), 2), mini.lidc_nodule((10, 11), 3)
    binary = mini.write_seg(series, patient_id="P1", segments={1: ("a", "Nodule"), 2: ("b", "Mass")},
                            frames=[(1, 0, a), (2, 0, b), (2, 4, a)], name="bin")
    geometry = series_geometry(_pairs(series))
    masks = annotation_masks(str(binary), geometry, [1, 2])
    assert set(masks[1]) == {0} and set(masks[2]) == {0, 4}
    assert np.array_equal(masks[1][0], a.astype(bool)) and np.array_equal(masks[2][4], a.astype(bool))
    assert np.array_equal(masks[2][0], b.astype(bool))
    fractional = mini.write_seg(series, patient_id="P1", fractional=True, reference="position", name="frac",
                                segments={1: ("a", "Nodule")}, frames=[(1, 1, a * 200), (1, 2, b * 100)])
    masks = annotation_masks(str(fractional), geometry, [1])
    assert np.array_equal(masks[1][1], a.astype(bool))  # 200/255 >= 0.5
    assert not masks[1][2].any()  # 100/255 < 0.5


@pytest.mark.parametrize("bits, reference", [(8, "sop"), (16, "position")])
def test_labelmap_seg_gives_each_segment_the_pixels_equal_to_its_number(tmp_path: Path, bits: int,
                                                                         reference: str) -> None:
    series = mini.write_ct_series(tmp_path, patient_id="P1", z=mini.LIDC_Z)
    first = np.zeros((16, 16), np.uint16)
    first[2:6, 3:9] = 7  # segment numbers need not start at 1 (Supplement 243)
    first[10:14, 10:12] = 300 if bits == 16 else 30
    second = np.zeros((16, 16), np.uint16)
    second[8:9, 0:16] = 7
    big = 300 if bits == 16 else 30
    path = mini.write_labelmap_seg(series, patient_id="P1", segments={7: ("liver", "Liver"), big: ("cyst", "Cyst")},
                                   frames=[(1, first), (3, second)], bits=bits, reference=reference)
    assert str(pydicom.dcmread(path).SOPClassUID) == "1.2.840.10008.5.1.4.1.1.66.7"
    masks = annotation_masks(str(path), series_geometry(_pairs(series)), [7, big])
    assert set(masks[7]) == {1, 3} and set(masks[big]) == {1, 3}
    expected = np.zeros((16, 16), bool)
    expected[2:6, 3:9] = True
    assert np.array_equal(masks[7][1], expected)
    expected = np.zeros((16, 16), bool)
    expected[8, :] = True
    assert np.array_equal(masks[7][3], expected)
    assert int(masks[big][1].sum()) == 8 and not masks[big][3].any()


def _labelmap(lidc: Path, *, segmentation_type: str = "LABELMAP") -> None:
    """Replace patient 1's two reader SEGs by one LABELMAP SEG with the same nodule (segment 1)."""
    for path in _seg_of(lidc, "LIDC-IDRI-0001"):
        shutil.rmtree(path.parent)
    ct = sorted((lidc / "LIDC-IDRI-0001").glob("*/CT_*"))[0]
    sample = pydicom.dcmread(sorted(ct.glob("*.dcm"))[0], stop_before_pixels=True)
    geometry = series_geometry(tuple((str(p), p.name) for p in sorted(ct.glob("*.dcm"))))
    series = mini.CtSeries(ct, str(sample.StudyInstanceUID), str(sample.SeriesInstanceUID),
                           str(sample.FrameOfReferenceUID), tuple(geometry.sop_uids), mini.LIDC_Z, (-15.0, -15.0), 2.0)
    mini.write_labelmap_seg(series, patient_id="LIDC-IDRI-0001", segments={1: ("Nodule 1", "Nodule")},
                            frames=[(k, mini.lidc_nodule((6, 9), 3 if k == 2 else 1)) for k in (1, 2, 3)],
                            segmentation_type=segmentation_type)


def test_a_labelmap_seg_is_found_and_built_like_a_binary_one(lidc: Path, tmp_path: Path) -> None:
    _labelmap(lidc)
    report = build_vgmed([("lidc-idri", lidc)], out=tmp_path / "out", options=SMALL, deid_key=KEY)
    assert report["records"] == {"lidc-idri": 2} and report["skips"] == []
    rows = list(iter_rows(tmp_path / "out", config="vgmed"))
    assert len({r["patient_id"] for r in rows}) == 2  # patient 1's nodule came from the label map


def test_real_liver_seg_lands_on_its_source_slice(tmp_path: Path) -> None:
    seg_path = get_testdata_file("liver_1frame.dcm")
    seg = pydicom.dcmread(seg_path)
    referenced = [str(i.ReferencedSOPInstanceUID)
                  for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence]
    z_of_frame = float(seg.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient[2])
    source = str(seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0]
                 .SourceImageSequence[0].ReferencedSOPInstanceUID)
    others = [uid for uid in referenced if uid != source]
    series = mini.write_ct_series(tmp_path, patient_id="P1", z=(z_of_frame - 2, z_of_frame - 1, z_of_frame),
                                  size=512, sop_uids=(others[0], others[1], source),
                                  series_uid=str(seg.ReferencedSeriesSequence[0].SeriesInstanceUID))
    geometry = series_geometry(_pairs(series))
    masks = annotation_masks(seg_path, geometry, [1])
    assert list(masks[1]) == [2]
    expected = seg.pixel_array.astype(bool)  # pydicom's own decoding of the real file
    assert expected.sum() == 36233 and np.array_equal(masks[1][2], expected)


def _square(x0: float, x1: float, y0: float, y1: float, z: float) -> list[tuple[float, float, float]]:
    return [(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z)]


def test_rtstruct_square_contours_rasterise_as_computed_by_hand(tmp_path: Path) -> None:
    # pixel (r, c) is centred at (-15 + 2c, -15 + 2r) mm: inside -10 < x < 2 <=> c in 3..8, -6 < y < 4 <=> r in 5..9
    series = mini.write_ct_series(tmp_path, patient_id="P1", z=(0.0, 3.0, 6.0, 9.0))
    path = mini.write_rtstruct(series, patient_id="P1", rois={1: "GTV-1", 2: "Heart"}, contours=[
        (1, _square(-10, 2, -6, 4, 3.0), 1),  # referenced by SOP
        (1, _square(-10, 2, -6, 4, 9.0), None),  # placed by z
        (1, _square(-6, -2, -4, 0, 9.0), None),  # a hole (c in 5..6, r in 6..7)
    ])
    geometry = series_geometry(_pairs(series))
    masks = annotation_masks(str(path), geometry, [1])
    expected = np.zeros((16, 16), bool)
    expected[5:10, 3:9] = True
    assert set(masks[1]) == {1, 3}
    assert np.array_equal(masks[1][1], expected)
    expected[6:8, 5:7] = False
    assert np.array_equal(masks[1][3], expected)
    with pytest.raises(GeometryError, match="ROI 2 is empty") as caught:  # Heart has no contours
        annotation_masks(str(path), geometry, [1, 2])
    assert path.name in str(caught.value)


def test_real_rtstruct_contours_placed_by_z(tmp_path: Path) -> None:
    rt = pydicom.dcmread(get_testdata_file("rtstruct.dcm"), force=True)
    series_uid = str(rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
                     .RTReferencedSeriesSequence[0].SeriesInstanceUID)
    series = mini.write_ct_series(tmp_path, patient_id="P1", z=(-200.0, -190.0, -180.0), spacing=32.0,
                                  origin_xy=(-248.0, -248.0), series_uid=series_uid)
    masks = annotation_masks(get_testdata_file("rtstruct.dcm"), series_geometry(_pairs(series)), [1])
    # every contour is the rectangle -200 < x < 200, -150 < y < 150 mm; centres at -248 + 32k
    expected = np.zeros((16, 16), bool)
    expected[4:13, 2:14] = True
    assert set(masks[1]) == {0, 1, 2} and all(np.array_equal(m, expected) for m in masks[1].values())


# ------------------------------------------------------------------------------------------------ the build
@pytest.fixture()
def lidc(tmp_path: Path) -> Path:
    return mini.write_lidc_idc(tmp_path / "idc")


def test_dicom_build_needs_a_key_and_never_writes_it(lidc: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VGMED_DEID_KEY", raising=False)
    with pytest.raises(InvalidInputError, match="VGMED_DEID_KEY") as caught:
        build_vgmed([("lidc-idri", lidc)], out=tmp_path / "none", options=SMALL)
    assert "never generates or stores" in str(caught.value) and not (tmp_path / "none").exists()
    monkeypatch.setenv("VGMED_DEID_KEY", KEY)
    report = build_vgmed([("lidc-idri", lidc)], out=tmp_path / "out", options=SMALL)
    assert report["records"] == {"lidc-idri": 2} and report["samples"] > 0
    for name in ("manifest.json", "build_report.json", "inputs.sha256"):
        assert KEY not in (tmp_path / "out" / name).read_text()
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["deidentification"]["sources"] == ["lidc-idri"]


def test_dicom_rows_are_pseudonymous_phi_free_and_hydratable(lidc: Path, tmp_path: Path) -> None:
    from vgmed_data.imaging.deid import pseudonym
    from vgmed_data.imaging.sop_pointer import resolve_sop_pointer

    out = tmp_path / "out"
    build_vgmed([("lidc-idri", lidc)], out=out, options=SMALL, deid_key=KEY)
    assert validate_folder(out) == []
    check_phi(out, images_published=True)  # raises when a row would leak
    rows = list(iter_rows(out, config="vgmed"))
    assert {r["patient_id"] for r in rows} == {pseudonym("LIDC-IDRI-0001", key=KEY), pseudonym("LIDC-IDRI-0002", key=KEY)}
    for row in rows:
        assert row["image_origin"] == "dicom-deidentified" and row["window"] == "lung"
        assert row["source_id"].startswith("2.25.") and "LIDC-IDRI" not in row["source_id"]
        meta = json.loads(row["metadata"])
        assert meta["dicom"]["PatientIdentityRemoved"] == "YES" and "PatientID" not in meta["dicom"]
        assert "Doe" not in row["metadata"] and "General Hospital" not in row["metadata"]
        # the pointer names no path (the IDC layout's folders are PatientID and UIDs) and re-renders the pixels
        assert meta["source_path"].startswith("dicom-sop:") and "LIDC" not in row["metadata"]
        rendered = render_file(resolve_sop_pointer(lidc, meta["source_path"]), window=row["window"])
        assert pixel_sha256(row["image"]["bytes"]) == pixel_sha256(_png(rendered.image))
    first = [r for r in rows if r["patient_id"] == pseudonym("LIDC-IDRI-0001", key=KEY)]
    # two readers: 6x6 and 4x4 squares at rows 3..8 / cols 6..11 on slice 2 (z order); their union is the 6x6
    assert {r["slice_index"] for r in first} == {2} and all(r["boxes"] == [[6.0, 3.0, 12.0, 9.0]] for r in first)
    second = [r for r in rows if r["patient_id"] == pseudonym("LIDC-IDRI-0002", key=KEY)]
    assert all(r["boxes"] == [[1.0, 7.0, 7.0, 13.0]] for r in second)  # FRACTIONAL 200/255 only


def _png(image) -> bytes:  # noqa: ANN001
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _seg_of(lidc: Path, patient: str) -> list[Path]:
    return sorted((lidc / patient).glob("*/SEG_*/*.dcm"))


def _drop_referenced_slice(lidc: Path) -> None:
    seg = pydicom.dcmread(_seg_of(lidc, "LIDC-IDRI-0001")[0])
    uid = str(seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0]
              .SourceImageSequence[0].ReferencedSOPInstanceUID)
    for path in (lidc / "LIDC-IDRI-0001").glob("*/CT_*/*.dcm"):
        if str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID) == uid:
            path.unlink()


def _break_geometry(lidc: Path) -> None:
    path = sorted((lidc / "LIDC-IDRI-0001").glob("*/CT_*/*.dcm"))[0]
    ds = pydicom.dcmread(path)
    ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    ds.save_as(path)


def _burn_in(lidc: Path) -> None:
    for path in (lidc / "LIDC-IDRI-0001").glob("*/CT_*/*.dcm"):
        ds = pydicom.dcmread(path)
        ds.BurnedInAnnotation = "YES"
        ds.save_as(path)


def _unknown_label(lidc: Path) -> None:
    path = _seg_of(lidc, "LIDC-IDRI-0001")[0]
    ds = pydicom.dcmread(path)
    ds.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeMeaning = "Mass"
    ds.save_as(path)


@pytest.mark.parametrize("breaker, error, reason", [
    (_drop_referenced_slice, FileFormatError, "missing slice"),
    (_break_geometry, FileFormatError, "inconsistent geometry"),
    (_burn_in, InvalidInputError, "identifying data"),
    (_unknown_label, InvalidInputError, "label not in map"),
    (lambda lidc: _labelmap(lidc, segmentation_type="HEIGHTMAP"), FileFormatError, "unsupported segmentation"),
])
def test_bad_dicom_input_errors_or_is_counted(lidc: Path, tmp_path: Path, breaker, error: type,  # noqa: ANN001
                                              reason: str) -> None:
    breaker(lidc)
    with pytest.raises(error):
        build_vgmed([("lidc-idri", lidc)], out=tmp_path / "strict", options=SMALL, deid_key=KEY)
    lenient = BuildOptions(min_pixels=1, min_size_mm=None, on_bad="skip")
    report = build_vgmed([("lidc-idri", lidc)], out=tmp_path / "lenient", options=lenient, deid_key=KEY)
    assert report["skip_counts"] == {f"lidc-idri: {reason}": 1}
    # every skip names the pseudonymous record (a skipped series is named like a built one), never a path or UID
    skip = report["skips"][0]
    assert skip["record"].startswith("2.25.") and "LIDC-IDRI" not in json.dumps(skip), skip
    first_series = str(pydicom.dcmread(sorted((lidc / "LIDC-IDRI-0001").glob("*/CT_*/*.dcm"))[0]).SeriesInstanceUID)
    assert skip["record"] == replace_uid(first_series, key=KEY)
    if reason == "missing slice":  # the detail used to name the SEG's reference, an original SOPInstanceUID
        seg = pydicom.dcmread(_seg_of(lidc, "LIDC-IDRI-0001")[0])
        uid = str(seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0]
                  .SourceImageSequence[0].ReferencedSOPInstanceUID)
        text = (tmp_path / "lenient" / "build_report.json").read_text()
        assert uid not in text and replace_uid(uid, key=KEY) not in text
        assert "frame 1 references a slice that is not in the image series" in skip["detail"]
    assert report["samples"] > 0  # the other patient still built


def test_real_rtstruct_is_listed_with_its_series(tmp_path: Path) -> None:
    """The reader finds pydicom's rtstruct.dcm (no DICM preamble), its series, and keeps only mapped ROIs."""
    import dataclasses

    from vgmed_data.builders.entry import Label
    from vgmed_data.builders.sources import get_entry
    from vgmed_data.builders.readers.dicom import DicomSeriesReader

    rt = pydicom.dcmread(get_testdata_file("rtstruct.dcm"), force=True)
    series_uid = str(rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
                     .RTReferencedSeriesSequence[0].SeriesInstanceUID)
    series = mini.write_ct_series(tmp_path / "study", patient_id="P1", z=(-200.0, -190.0, -180.0), spacing=32.0,
                                  origin_xy=(-248.0, -248.0), series_uid=series_uid)
    shutil.copy(get_testdata_file("rtstruct.dcm"), series.folder.parent / "rtstruct.dcm")
    entry = dataclasses.replace(get_entry("lidc-idri"), labels={"patient": Label(target="body", body_part="chest")},
                                reader=DicomSeriesReader(ignore_unmapped=True))
    [record] = list(entry.reader.records(entry, tmp_path, on_bad="error", skips=[]))
    assert record.record_id == series_uid and len(record.image.series) == 3
    assert [(r.label, r.mask_value) for r in record.regions] == [("patient", 1)]


def test_a_source_with_guessable_uids_is_named_in_the_card(lidc: Path, tmp_path: Path) -> None:
    """The unkeyed dicom-sop pointer can be inverted when UIDs come from a root, a date and a counter: the build
    counts such series and the card says so; a source with random UIDs (the miniature's) gets no such line."""
    from vgmed_data.card import CardOptions, render_card
    from vgmed_data.guards import licence_report

    build_vgmed([("lidc-idri", lidc)], out=tmp_path / "random", options=SMALL, deid_key=KEY)
    assert "guessable_dicom_uids" not in json.loads((tmp_path / "random" / "build_report.json").read_text())
    counters: dict[str, str] = {}
    for path in sorted((lidc / "LIDC-IDRI-0002").rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        for element in [*ds.file_meta, *ds.iterall()]:
            if element.VR == "UI" and not str(element.value).startswith("1.2.840.10008"):
                element.value = counters.setdefault(str(element.value), f"1.2.826.0.1.3680043.9.7777.20130511.{len(counters) + 1}")
        ds.save_as(path)
    build_vgmed([("lidc-idri", lidc)], out=tmp_path / "guessable", options=SMALL, deid_key=KEY)
    report = json.loads((tmp_path / "guessable" / "build_report.json").read_text())
    assert report["guessable_dicom_uids"] == {"lidc-idri": 1}
    card = render_card(tmp_path / "guessable", options=CardOptions(repo_id="org/x"),
                       report=licence_report(tmp_path / "guessable"))
    assert "the `dicom-sop:` pointers of `lidc-idri` (1 series) can be inverted" in card
