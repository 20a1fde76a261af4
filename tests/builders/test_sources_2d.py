"""The 2D sources added for issue 26, each driven through the CLI on a miniature of its published layout:
``vgmed sources verify`` -> ``vgmed build vgmed`` -> ``vgmed validate``, with every row's boxes checked against
the rectangles the miniature drew (tests/builders/miniatures_2d.py); then the bad inputs of the readers and options
these entries brought (box JSON, path fields, grey and RGB label palettes)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.builders import miniatures_2d as mini
from vgmed_data.builders.sources import get_entry
from vgmed_data.cli import main
from vgmed_data.folder import iter_rows


def _build(key: str, root: Path, out: Path, *extra: str) -> int:
    return main(["build", "vgmed", "--source", f"{key}={root}", "--out", str(out), "--seed", "2", "--quiet", *extra])


def _boxes_by_record(out: Path) -> dict[str, dict[str, set[tuple[float, ...]]]]:
    found: dict[str, dict[str, set[tuple[float, ...]]]] = defaultdict(lambda: defaultdict(set))
    for row in iter_rows(out, config="vgmed"):
        found[row["source_id"]][row["target"]] |= {tuple(box) for box in row["boxes"]}
    return {k: dict(v) for k, v in found.items()}


@pytest.mark.parametrize("key", sorted(mini.WRITERS))
def test_miniature_verifies_builds_and_validates(key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, expected = mini.WRITERS[key](tmp_path / "src")
    assert main(["sources", "verify", key, str(root)]) == 0, capsys.readouterr().out
    assert _build(key, root, tmp_path / "out") == 0, capsys.readouterr().err
    assert main(["validate", str(tmp_path / "out")]) == 0, capsys.readouterr().out
    # every record of the layout became rows, each target's boxes are exactly the drawn rectangles
    assert _boxes_by_record(tmp_path / "out") == expected
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    [source] = manifest["sources"]
    entry = get_entry(key)
    assert (source["license_status"], source["split_unit"]) == (entry.license_status, entry.split_unit)
    assert source["redistributable"] is False  # none of these licences is stated at its source
    # verify names what is missing from an empty folder
    (tmp_path / "empty").mkdir()
    assert main(["sources", "verify", key, str(tmp_path / "empty")]) == 1
    assert "missing" in capsys.readouterr().out


def test_polypgen_splits_by_centre_and_chase_keeps_a_childs_eyes_together(tmp_path: Path) -> None:
    root, _ = mini.write_polypgen(tmp_path / "pg")
    assert _build("polypgen", root, tmp_path / "by-centre", "--split-unit", "polypgen=centre") == 0
    splits: dict[str, set[str]] = defaultdict(set)
    for row in iter_rows(tmp_path / "by-centre", config="vgmed"):
        splits[row["source_id"].split("/")[0]].add(row["split"])
    assert set(splits) == {"data_C1", "data_C3"} and all(len(s) == 1 for s in splits.values())
    manifest = json.loads((tmp_path / "by-centre" / "manifest.json").read_text())
    assert manifest["sources"][0]["split_unit"] == "centre"
    chase, _ = mini.write_chase(tmp_path / "chase")
    assert _build("chase-db1", chase, tmp_path / "chase-out") == 0
    by_patient: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in iter_rows(tmp_path / "chase-out", config="vgmed"):
        by_patient[row["patient_id"]].add((row["source_id"], row["split"]))
    left_and_right = [v for v in by_patient.values() if len({s for s, _ in v}) == 2]
    assert len(left_and_right) == 1 and len({split for _, split in left_and_right[0]}) == 1


def _skips(out: Path) -> dict[str, int]:
    return json.loads((out / "build_report.json").read_text())["skip_counts"]


def test_box_json_bad_inputs_are_one_line_or_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = mini.write_hyperkvasir(tmp_path / "hk")
    boxes = json.loads((root / "bounding-boxes.json").read_text())
    good = "cju0qoxqj9q6s0835b43399p4"
    boxes["missing-image"] = boxes[good]  # named in the file, absent on disk
    boxes["cju0qkwl35piu0993l0dewei2"]["bbox"][0]["label"] = "tumour"  # label outside the map
    boxes["inverted"] = {"height": 48, "width": 64, "bbox": [{"label": "polyp", "xmin": 30, "ymin": 5, "xmax": 10,
                                                             "ymax": 20}]}
    boxes["wrong-size"] = {"height": 100, "width": 64, "bbox": [{"label": "polyp", "xmin": 1, "ymin": 1, "xmax": 9,
                                                                "ymax": 9}]}
    boxes["../../escape"] = boxes[good]  # resolves outside the source folder
    for name in ("inverted", "wrong-size"):
        (root / "images" / f"{name}.jpg").write_bytes((root / "images" / f"{good}.jpg").read_bytes())
    (root / "bounding-boxes.json").write_text(json.dumps(boxes))
    assert _build("hyperkvasir-seg", root, tmp_path / "strict") == 2  # default policy: the first bad item stops it
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "escape" in err and "leaves" in err and "bounding-boxes.json" in err
    assert not (tmp_path / "strict").exists()
    assert _build("hyperkvasir-seg", root, tmp_path / "skip", "--on-bad", "skip") == 0
    assert _skips(tmp_path / "skip") == {"hyperkvasir-seg: bad box": 1, "hyperkvasir-seg: PathEscapeError": 1,
                                         "hyperkvasir-seg: label not in map": 1, "hyperkvasir-seg: missing file": 1,
                                         "hyperkvasir-seg: shape mismatch": 1}
    assert set(_boxes_by_record(tmp_path / "skip")) == {good}
    (root / "bounding-boxes.json").write_text('{"cju0": {"bbox": [')  # truncated
    assert _build("hyperkvasir-seg", root, tmp_path / "truncated", "--on-bad", "skip") == 2
    assert "bounding-boxes.json" in capsys.readouterr().err


def test_label_palettes_refuse_unknown_values_and_colours(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wbc, _ = mini.write_wbc(tmp_path / "wbc")
    label = wbc / "Dataset 1" / "002.png"
    values = np.asarray(Image.open(label)).copy()
    values[0:4, 0:4] = 200  # a grey value the entry does not declare
    mini.save(label, values)
    assert _build("wbc-seg", wbc, tmp_path / "wbc-strict") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "002.png" in err and "value(s) 200" in err
    m2cai, _ = mini.write_m2caiseg(tmp_path / "m2cai")
    gt = m2cai / "test" / "groundtruth" / "7_gt.png"
    colours = np.asarray(Image.open(gt)).copy()
    colours[40:44, 40:44] = (1, 2, 3)
    mini.save(gt, colours)
    (m2cai / "trainval" / "groundtruth" / "1_gt.png").unlink()  # missing mask
    assert _build("m2caiseg", m2cai, tmp_path / "m2cai-skip", "--on-bad", "skip") == 0
    assert _skips(tmp_path / "m2cai-skip") == {"m2caiseg: label not in map": 1, "m2caiseg: missing file": 1}
    report = json.loads((tmp_path / "m2cai-skip" / "build_report.json").read_text())
    assert any("#010203" in skip["detail"] for skip in report["skips"])


def test_mask_size_mismatch_truncated_image_and_foreign_path(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = mini.write_tnbc(tmp_path / "tnbc")
    mini.save(root / "GT_01" / "01_2.png", np.zeros((40, 48), np.uint8))  # mask drawn on another size
    data = (root / "Slide_02" / "02_1.png").read_bytes()
    (root / "Slide_02" / "02_1.png").write_bytes(data[: len(data) // 2])  # truncated image
    assert _build("tnbc-nuclei", root, tmp_path / "skip", "--on-bad", "skip") == 0
    assert _skips(tmp_path / "skip") == {"tnbc-nuclei: corrupt file": 1, "tnbc-nuclei: shape mismatch": 1}
    assert set(_boxes_by_record(tmp_path / "skip")) == {"Slide_01/01_1.png"}
    capsys.readouterr()
    # an image outside the declared path pattern is bad layout (WBC names its datasets 'Dataset 1' and 'Dataset 2')
    wbc, _ = mini.write_wbc(tmp_path / "wbc")
    (wbc / "Dataset 1").rename(wbc / "Dataset X")
    assert _build("wbc-seg", wbc, tmp_path / "wbc") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not follow the source's layout" in err


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d[:-100], "holds 12188 bytes of pixels where its header promises 12288"),
    (lambda d: d.replace(b"MET_UCHAR", b"MET_FLOAT"), "ElementType MET_FLOAT is not read"),
    (lambda d: d.replace(b"ElementDataFile = LOCAL", b"ElementDataFile = image.raw"), "keeps its pixels in another file"),
    (lambda d: d.replace(b"DimSize = 64 64 3", b"DimSize = 64 64 5"), "is not a 2D image"),
    (lambda d: d.replace(b"ElementDataFile = LOCAL\n", b""), "is not 'Key = Value'"),
    (lambda d: d[:40], "no 'ElementDataFile = LOCAL' line"),
])
def test_metaimage_bad_inputs_are_one_line(change: object, message: str, tmp_path: Path) -> None:
    from vgmed_data.errors import FileFormatError
    from vgmed_data.imaging.metaimage import read_metaimage

    grey = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)
    path = mini.save_mha(tmp_path / "x.mha", np.stack([grey, grey, grey]))
    assert np.array_equal(read_metaimage(path), np.dstack([grey, grey, grey]))
    path.write_bytes(change(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(FileFormatError, match=message) as caught:
        read_metaimage(path)
    assert "\n" not in str(caught.value) and "x.mha" in str(caught.value)


def test_ultrasound_labels_outside_the_map_and_truncated_files_are_counted(tmp_path: Path) -> None:
    root, _ = mini.write_psfhs(tmp_path / "psfhs")
    mini.save_mha(root / "label_mha" / "03745.mha", np.full((64, 64), 3, np.uint8))  # value 3: not in the map
    data = (root / "image_mha" / "03746.mha").read_bytes()
    (root / "image_mha" / "03746.mha").write_bytes(data[:-10])  # truncated pixels
    assert _build("psfhs", root, tmp_path / "out", "--on-bad", "skip") == 0
    assert _skips(tmp_path / "out") == {"psfhs: corrupt file": 1, "psfhs: label not in map": 1}
    assert set(_boxes_by_record(tmp_path / "out")) == {"image_mha/03744.mha"}


def test_resampled_masks_keep_their_aspect_ratio(tmp_path: Path) -> None:
    root, _ = mini.write_chuac(tmp_path / "chuac")
    mini.save(root / "Photoshop" / "angio1ok.png", np.full((64, 48), 255, np.uint8))  # 3:4, the image is square
    assert _build("chuac", root, tmp_path / "out", "--on-bad", "skip") == 0
    assert _skips(tmp_path / "out") == {"chuac: shape mismatch": 1}
    assert set(_boxes_by_record(tmp_path / "out")) == {"Original/11.png"}


@pytest.mark.parametrize(("key", "step"), [
    ("polypgen", "synapse"), ("m2caiseg", "kaggle datasets download salmanmaq/m2caiseg"),
    ("dsb2018-nuclei", "kaggle competitions download"), ("drive", "drive.grand-challenge.org"),
    ("covid-qu-ex", "kaggle datasets download anasmohammedtahir/covidqu"), ("fh-ps-aop", "zenodo.org/records/7851339"),
])
def test_fetch_prints_the_steps_where_a_login_is_needed(key: str, step: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert not get_entry(key).downloads
    assert main(["sources", "fetch", key, "--dest", str(tmp_path)]) == 0
    assert step in capsys.readouterr().out.lower() and not any(tmp_path.iterdir())


def test_polygon_xml_bad_inputs_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, expected = mini.write_monusac(tmp_path / "monusac")
    tiles = sorted(root.rglob("*.xml"))
    tiles[0].write_text(mini.imagescope_xml({"Description": [(4, 4, 20, 20)]}))  # a class outside the map
    tiles[1].write_text(mini.imagescope_xml({"Epithelial": [(4, 4, 60, 20)]}))  # drawn past the 48x48 tile
    assert _build("monusac", root, tmp_path / "out", "--on-bad", "skip") == 0
    assert _skips(tmp_path / "out") == {"monusac: label not in map": 1, "monusac: shape mismatch": 1}
    kept = {k: v for k, v in expected.items() if k.endswith(tiles[2].stem + ".tif")}
    assert _boxes_by_record(tmp_path / "out") == kept
    for tile in tiles[:2]:
        tile.write_text(mini.imagescope_xml({"Neutrophil": [(4, 4, 20, 20)]}))
    tiles[2].write_text('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><Annotations/>')  # entity declarations
    capsys.readouterr()
    assert _build("monusac", root, tmp_path / "strict") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DOCTYPE" in err[0] and tiles[2].name in err[0]
    tiles[2].write_text(mini.imagescope_xml({"Neutrophil": [(4, 4, 20, 20)]})[:-40])  # truncated
    assert _build("monusac", root, tmp_path / "truncated") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not well-formed XML" in err[0] and tiles[2].name in err[0]
