"""Spine sources through the CLI on miniatures in their published layouts: VerSe's BIDS + centroid reader,
vertebra-level questions ("where is the L3 vertebra") and vertebra counts answered from the label volume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.builders import miniatures_spine as ms
from tests.builders.miniatures import save_nifti
from vgmed_data.cli import main
from vgmed_data.folder import iter_rows


def build(key: str, root: Path, out: Path, *extra: str) -> int:
    return main(["build", "vgmed", "--source", f"{key}={root}", "--out", str(out), "--splits", "test=1",
                 "--quiet", *extra])


def test_verse_miniature_verifies_builds_and_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = ms.write_verse(tmp_path / "verse")
    ms.write_verse(root, release="dataset-verse20training", subject="sub-gl003", stem="sub-gl003_dir-ax",
                   bodies={20: (4, 12, 6, 14), 19: (4, 12, 16, 24), 18: (4, 12, 26, 34)})
    assert main(["sources", "verify", "verse", str(root)]) == 0
    assert "verse: layout ok" in capsys.readouterr().out
    assert build("verse", root, tmp_path / "out") == 0
    assert main(["validate", str(tmp_path / "out")]) == 0
    rows = list(iter_rows(tmp_path / "out", config="vgmed"))
    assert {r["plane"] for r in rows} == {"sagittal"}
    assert {r["target"] for r in rows} == {"L3 vertebra", "L2 vertebra", "L1 vertebra", "T12 vertebra",
                                           "T11 vertebra", "vertebrae"}
    assert {r["patient_id"] for r in rows} == {"sub-verse004", "sub-gl003"}
    first = [r for r in rows if r["source_id"].endswith("sub-verse004")]
    for value, target in ((22, "L3 vertebra"), (21, "L2 vertebra")):
        boxes = {tuple(r["boxes"][0]) for r in first if r["target"] == target}
        assert boxes == {tuple(ms.sagittal_box(*ms.VERSE_BODIES[value]))}
    # "where is the L3 vertebra": the lowest of the column, so in the lower third of the image
    l3 = [r for r in first if r["target"] == "L3 vertebra" and json.loads(r["metadata"])["question_kind"] == "location"]
    assert l3 and all(r["answer"].startswith("lower") and "L3 vertebra" in r["question"] for r in l3)
    # counts: the distinct vertebra labels on the slice, one box per vertebra
    counts = {r["source_id"]: r for r in rows if r["target"] == "vertebrae"}
    assert {k.rsplit("/", 1)[-1]: (r["answer"], len(r["boxes"])) for k, r in counts.items()} == {
        "sub-verse004": ("4", 4), "sub-gl003_dir-ax": ("3", 3)}
    assert all(r["answer"] in r["options"] and r["question_type"] == "attribute" for r in counts.values())
    meta = json.loads(first[0]["metadata"])
    assert meta["labels_in_scan"] == ["T12 vertebra", "L1 vertebra", "L2 vertebra", "L3 vertebra"]


def test_a_grazed_vertebra_makes_the_count_ambiguous(tmp_path: Path) -> None:
    bodies = dict(ms.VERSE_BODIES)
    bodies[19] = (4, 12, 26, 28)  # T12 only 2 slices high: 16 pixels next to the others' 48
    root = ms.write_verse(tmp_path / "verse", bodies=bodies)
    assert build("verse", root, tmp_path / "out") == 0
    rows = list(iter_rows(tmp_path / "out", config="vgmed"))
    assert "T12 vertebra" in {r["target"] for r in rows} and "vertebrae" not in {r["target"] for r in rows}


def _centroids(root: Path) -> Path:
    return root / "dataset-verse19training" / "derivatives" / "sub-verse004" / "sub-verse004_seg-subreg_ctd.json"


def _mask(root: Path) -> Path:
    return root / "dataset-verse19training" / "derivatives" / "sub-verse004" / "sub-verse004_seg-vert_msk.nii.gz"


@pytest.mark.parametrize(("breaker", "reason", "message"), [
    (lambda root: _mask(root).unlink(), "missing file", "sub-verse004_seg-vert_msk.nii.gz: is missing"),
    (lambda root: _centroids(root).write_text('[{"direction": ["P", "I", "R"]}, {"label": 2'), "corrupt file",
     "is not a JSON centroid list"),
    (lambda root: _centroids(root).write_text('[{"direction": ["P"]}, {"label": 27, "X": 1, "Y": 1, "Z": 1}]'),
     "label not in map", "label '27' is not in the verse label map"),
    (lambda root: save_nifti(_mask(root), np.zeros((4, 4, 4), np.uint8), ms.VERSE_AFFINE), "shape mismatch",
     "differs from its image"),
    (lambda root: save_nifti(_mask(root), ms.verse_volume({**ms.VERSE_BODIES, 23: (4, 12, 33, 35)}),
                             ms.VERSE_AFFINE), "label not in map", "label value(s) [23] are not in the verse label map"),
])
def test_verse_bad_inputs(breaker, reason: str, message: str, tmp_path: Path,  # noqa: ANN001
                          capsys: pytest.CaptureFixture[str]) -> None:
    root = ms.write_verse(tmp_path / "verse")
    ms.write_verse(root, subject="sub-verse005")
    breaker(root)
    assert build("verse", root, tmp_path / "strict") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "strict").exists()
    assert build("verse", root, tmp_path / "lenient", "--on-bad", "skip") == 0
    report = json.loads((tmp_path / "lenient" / "build_report.json").read_text())
    assert report["skip_counts"] == {f"verse: {reason}": 1}
    assert report["by_source"]["verse"] > 0  # sub-verse005 still builds


def test_spider_verifies_builds_and_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = ms.write_spider(tmp_path / "spider")
    assert main(["sources", "verify", "spider", str(root)]) == 0
    assert "spider: layout ok" in capsys.readouterr().out
    assert build("spider", root, tmp_path / "out") == 0
    assert main(["validate", str(tmp_path / "out")]) == 0
    rows = list(iter_rows(tmp_path / "out", config="vgmed"))
    assert {r["patient_id"] for r in rows} == {"1", "2"}
    first = [r for r in rows if r["source_id"] == "images/1_t2"]
    lowest = {tuple(r["boxes"][0]) for r in first if r["target"] == "lowest vertebra"}
    assert lowest == {tuple(ms.spider_box(4, 14, 2, 10))}
    disc = {tuple(r["boxes"][0]) for r in first if r["target"] == "lowest intervertebral disc"}
    assert disc == {tuple(ms.spider_box(4, 14, 10, 14))}
    counts = {(r["source_id"], r["target"]): r["answer"] for r in rows
              if json.loads(r["metadata"])["question_kind"] == "group_count"}
    assert counts[("images/1_t2", "vertebrae")] == "3" and counts[("images/1_t2", "intervertebral discs")] == "2"
    assert counts[("images/2_t2", "vertebrae")] == "2"
    # the source's own gradings, asked on T2 series only, answered from radiological_gradings.csv
    graded = {(r["source_id"], r["target"], json.loads(r["metadata"])["reference"]): r["answer"] for r in rows
              if json.loads(r["metadata"])["question_kind"] == "source_attribute"}
    assert graded[("images/1_t2", "lowest intervertebral disc", "Pfirrmann grade")] == "4"
    assert graded[("images/1_t2", "lowest intervertebral disc", "Modic change")] == "type II"
    assert graded[("images/1_t2", "lowest intervertebral disc", "disc herniation")] == "present"
    assert graded[("images/1_t2", "2nd from the bottom intervertebral disc", "disc bulging")] == "present"
    assert graded[("images/2_t2", "lowest intervertebral disc", "spondylolisthesis")] == "present"
    assert not [k for k in graded if k[0] == "images/1_t1"]
    assert all(r["answer"] in r["options"] for r in rows)


def _spider_bad_value(root: Path) -> None:
    path = root / "radiological_gradings.csv"
    path.write_text(path.read_text().replace(",4\n", ",7\n"))


@pytest.mark.parametrize(("breaker", "reason", "message"), [
    (lambda root: (root / "masks" / "1_t1.mha").unlink(), "missing file", "has no label file"),
    (lambda root: (root / "masks" / "1_t1.mha").write_bytes((root / "masks" / "1_t1.mha").read_bytes()[:-20]),
     "corrupt file", "compressed pixels cannot be read"),
    (lambda root: ms.save_mha(root / "masks" / "1_t1.mha", np.zeros((4, 4, 4), np.int16)), "shape mismatch",
     "differs from its image"),
    (lambda root: ms.save_mha(root / "masks" / "1_t1.mha", np.where(ms.spider_label() == 100, 150, ms.spider_label())),
     "label not in map", "label value(s) [150] are not in the spider label map"),
])
def test_spider_bad_inputs(breaker, reason: str, message: str, tmp_path: Path,  # noqa: ANN001
                           capsys: pytest.CaptureFixture[str]) -> None:
    root = ms.write_spider(tmp_path / "spider")
    breaker(root)
    assert build("spider", root, tmp_path / "strict") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert build("spider", root, tmp_path / "lenient", "--on-bad", "skip") == 0
    report = json.loads((tmp_path / "lenient" / "build_report.json").read_text())
    assert report["skip_counts"] == {f"spider: {reason}": 1}


def test_spider_grading_value_the_entry_does_not_know_is_one_line(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    root = ms.write_spider(tmp_path / "spider")
    _spider_bad_value(root)
    assert build("spider", root, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "radiological_gradings.csv" in err[0] and "Pfirrman grade value '7'" in err[0]
