"""Each reader on its source's miniature: records and geometry checked against values computed from the files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vgmed_data.builders.sources import get_entry
from vgmed_data.builders.loading import raster_view, volume_views
from vgmed_data.builders.records import SourceRecord
from tests.builders.golden import axial_display_slices, box_of
from vgmed_data.geometry import mask_to_boxes
from vgmed_data.imaging.raster import read_raster


def records(key: str, root: Path) -> list[SourceRecord]:
    entry = get_entry(key)
    return list(entry.reader.records(entry, root, on_bad="error", skips=[]))


def views(record: SourceRecord) -> list:
    entry = get_entry(record.source)
    if record.is_volume:
        return list(volume_views(record, window=entry.window, planes=entry.planes, slices_per_target=1, min_pixels=1))
    return [raster_view(record)]


def test_decathlon_reader_follows_dataset_json(sources: dict[str, Path]) -> None:
    found = records("msd-spleen", sources["msd-spleen"])
    assert [r.record_id for r in found] == ["spleen_2", "spleen_3"]  # ._spleen_2.nii.gz ignored
    record = found[0]
    assert record.image.source_path == "imagesTr/spleen_2.nii.gz"
    [view] = views(record)
    index, expected = axial_display_slices(sources["msd-spleen"] / "labelsTr" / "spleen_2.nii.gz", 1)
    assert (view.plane, view.slice_index) == ("axial", index)
    assert np.array_equal(view.targets["spleen"].mask, expected)
    assert view.spacing_mm == pytest.approx((0.8, 0.8))
    assert view.size == (expected.shape[1], expected.shape[0])


def test_decathlon_multisequence_yields_one_record_per_chosen_sequence(sources: dict[str, Path]) -> None:
    found = records("msd-brain-tumour", sources["msd-brain-tumour"])
    assert [(r.record_id, r.image.channel, r.metadata["sequence"]) for r in found] == [
        ("BRATS_001:FLAIR", 0, "FLAIR"), ("BRATS_001:t1gd", 2, "t1gd")]
    assert {r.patient_id for r in found} == {"BRATS_001"}
    targets = {t for v in views(found[0]) for t in v.targets}
    assert {"peritumoral edema", "non-enhancing tumour", "enhancing tumour"} <= targets


def test_kits_case_folders(sources: dict[str, Path]) -> None:
    found = records("kits23", sources["kits23"])
    assert [r.record_id for r in found] == ["case_00000", "case_00001"]
    by_target = {}
    for view in views(found[0]):
        for target, geometry in view.targets.items():
            if target in view.focus:
                by_target[target] = (view.slice_index, geometry.mask)
    index, expected = axial_display_slices(sources["kits23"] / "case_00000" / "segmentation.nii.gz", 2)
    assert by_target["kidney tumour"][0] == index
    assert box_of(by_target["kidney tumour"][1]) == box_of(expected)


def test_totalsegmentator_structure_folders(sources: dict[str, Path]) -> None:
    [record] = records("totalsegmentator", sources["totalsegmentator"])
    assert len(record.regions) == 12 and all(r.mask_value is None for r in record.regions)
    found = {t: v for v in views(record) for t in v.focus}
    assert set(found) == {"liver", "spleen"}  # other structure files are empty
    index, expected = axial_display_slices(sources["totalsegmentator"] / "s0000" / "segmentations" / "liver.nii.gz",
                                           None)
    assert box_of(found["liver"].targets["liver"].mask) == box_of(expected)


def test_kvasir_jpeg_masks(sources: dict[str, Path]) -> None:
    found = records("kvasir-seg", sources["kvasir-seg"])
    assert [r.record_id for r in found] == ["images/cju0qkwl35piu0993l0dewei2.jpg",
                                            "images/cju0qoxqj9q6s0835b43399p4.jpg"]
    view = raster_view(found[0])
    assert box_of(view.targets["polyp"].mask) == [16.0, 8.0, 40.0, 32.0]


def test_isic_busi_idrid(sources: dict[str, Path]) -> None:
    isic = records("isic2018-task1", sources["isic2018-task1"])
    assert [r.case_id for r in isic] == ["ISIC_0000000", "ISIC_0000001"]
    gt = read_raster(sources["isic2018-task1"] / "ISIC2018_Task1_Training_GroundTruth" / "ISIC_0000000_segmentation.png")
    assert box_of(raster_view(isic[0]).targets["skin lesion"].mask) == box_of(gt > 127)

    busi = records("busi", sources["busi"])
    assert [r.record_id for r in busi] == ["benign/benign (1).png", "benign/benign (2).png",
                                           "malignant/malignant (1).png"]  # normal/ is not read
    assert [len(r.regions) for r in busi] == [1, 2, 1]
    assert busi[1].metadata == {"category": "benign"}
    boxes, _ = mask_to_boxes(raster_view(busi[1]).targets["breast lesion"].mask)
    assert len(boxes) == 2

    idrid = records("idrid-seg", sources["idrid-seg"])
    assert [sorted(r.label for r in rec.regions) for rec in idrid] == [["EX", "OD"], ["OD"]]
    od = read_raster(next(sources["idrid-seg"].rglob("IDRiD_01_OD.tif")))[..., 0] > 0
    assert box_of(raster_view(idrid[0]).targets["optic disc"].mask) == box_of(od)


def test_montgomery_lungs_keep_patient_sides(sources: dict[str, Path]) -> None:
    found = records("montgomery", sources["montgomery"])
    assert [r.patient_id for r in found] == ["MCUCXR_0001", "MCUCXR_0002"]
    view = raster_view(found[0])
    assert box_of(view.targets["left lung"].mask) == [36.0, 10.0, 58.0, 70.0]  # patient's left: image right
    assert view.spacing_mm == (0.0875, 0.0875) and view.laterality_known


def test_nih_box_table(sources: dict[str, Path]) -> None:
    found = records("nih-cxr14-bbox", sources["nih-cxr14-bbox"])
    assert [(r.record_id, r.patient_id) for r in found] == [("00013118_008.png", "00013118"),
                                                            ("00014716_007.png", "00014716")]
    x, y, w, h = 225.084745762712, 547.019216763771, 86.7796610169491, 79.1864406779661
    assert found[0].regions[0].box == pytest.approx((x, y, x + w, y + h))
    assert [r.target for r in found[1].regions] == ["atelectasis", "effusion"]


def test_slake_boxes_are_xywh_and_modalities_mapped(sources: dict[str, Path]) -> None:
    found = records("slake", sources["slake"])
    assert [(r.record_id, r.modality, r.body_part) for r in found] == [
        ("xmlab0/source.jpg", "CT", "abdomen"), ("xmlab1/source.jpg", "XR", "chest")]
    assert found[0].regions[0].box == (20.0, 60.0, 110.0, 160.0)
    assert found[0].image.source_path == "imgs/xmlab0/source.jpg"


def test_slake_authors_hub_copy_validation_json_and_mask_txt_names(tmp_path: Path) -> None:
    from tests.builders import miniatures as mini

    root = mini.write_slake(tmp_path, {
        "xmlab5": {"modality": "MRI", "location": "Head", "boxes": [("Left Temporal Lobe", [10.5, 20, 30, 40])]},
        "xmlab169": {"modality": "X-Ray", "location": "Chest", "boxes": [("Atelectasis", [212.0, 87.0, 24.0, 20.0])]}},
        validate_name="validation.json")
    found = records("slake", root)
    assert [(r.record_id, r.modality) for r in found] == [("xmlab169/source.jpg", "XR"), ("xmlab5/source.jpg", "MR")]
    assert [r.target for r in found[1].regions] == ["left temporal lobe"]
    assert found[1].regions[0].box == (10.5, 20.0, 40.5, 60.0)
    # every name in mask.txt is in the label map; the miniature's mask.png carries the mask.txt grey value
    names = [line.split(":", 1)[1] for line in (root / "mask.txt").read_text().splitlines()]
    assert len(names) == 39 and all(name in get_entry("slake").labels for name in names)
    mask = np.asarray(Image.open(root / "imgs" / "xmlab5" / "mask.png"))
    assert set(np.unique(mask)) == {0, 160} and int(mask[20:60, 10:40].min()) == 160
