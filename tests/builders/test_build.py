"""End-to-end ``vgmed build vgmed`` on a mix of miniatures: validity, reproducibility, splits, quotas, dedup,
and every kind of bad input under each policy."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from vgmed_data.builders.vgmed import BuildOptions, build_vgmed
from tests.builders import miniatures as mini
from tests.builders.conftest import VOL_SHAPE, spleen_cases
from tests.builders.golden import axial_display_slices, box_of
from vgmed_data.cli import main
from vgmed_data.errors import FileFormatError, GeometryError, InvalidInputError, SourceNotFoundError
from vgmed_data.folder import iter_rows
from vgmed_data.guards import check_phi
from vgmed_data.validate import validate_folder

MIX = ("msd-spleen", "msd-brain-tumour", "kits23", "kvasir-seg", "busi", "montgomery", "nih-cxr14-bbox", "slake",
       "idrid-seg", "isic2018-task1", "totalsegmentator", "lidc-idri")
DEID_KEY = "end-to-end-test-key"


def parquet_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted((folder / "data").rglob("*.parquet"))}


@pytest.fixture(scope="module")
def built(sources: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("built") / "vgmed"
    report = build_vgmed([(k, sources[k]) for k in MIX], out=out, options=BuildOptions(seed=3), deid_key=DEID_KEY)
    return out, report


def test_build_is_valid_and_loads(built: tuple[Path, dict]) -> None:
    out, report = built
    assert validate_folder(out) == []
    check_phi(out, images_published=True)  # the publishing guard accepts the de-identified DICOM rows
    from datasets import load_dataset

    dataset = load_dataset(str(out), "vgmed")
    total = sum(len(split) for split in dataset.values())
    assert total == report["samples"] > 0
    assert set(report["by_modality"]) == {"CT", "MR", "XR", "US", "ENDOSCOPY", "FUNDUS", "DERMOSCOPY"}
    assert set(report["by_question_type"]) == {"localization", "attribute"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and {s["key"] for s in manifest["sources"]} == set(MIX)
    assert all(s["files"] > 0 and len(s["inputs_sha256"]) == 64 for s in manifest["sources"])
    assert (out / "inputs.sha256").read_text().count("\n") == sum(s["files"] for s in manifest["sources"])


def test_rows_name_their_target_and_answers_follow_geometry(built: tuple[Path, dict], sources: dict[str, Path]) -> None:
    out, _ = built
    rows = list(iter_rows(out, config="vgmed"))
    patients = defaultdict(set)
    for row in rows:
        assert row["target"] in row["question"]
        assert row["answer"] in row["options"]
        meta = json.loads(row["metadata"])
        assert meta["source_path"]
        patients[(row["source"], row["patient_id"])].add(row["split"])
        assert row["boxes"] and row["box_labels"] == [row["target"]] * len(row["boxes"])
    assert all(len(splits) == 1 for splits in patients.values())  # no patient in two splits
    # golden: the spleen box of spleen_2, from the label file
    index, expected = axial_display_slices(sources["msd-spleen"] / "labelsTr" / "spleen_2.nii.gz", 1)
    spleen = [r for r in rows if r["source"] == "msd-spleen" and r["source_id"] == "spleen_2"]
    assert spleen and all(r["slice_index"] == index and r["boxes"] == [box_of(expected)] for r in spleen)
    counts = [r for r in spleen if json.loads(r["metadata"])["question_kind"] == "count"]
    assert counts[0]["answer"] == "1"
    # the NIH box, converted from x,y,w,h
    # LIDC-IDRI (DICOM series + SEG): the two readers' nodules united on the middle slice, de-identified rows
    lidc = [r for r in rows if r["source"] == "lidc-idri"]
    assert lidc and {r["image_origin"] for r in lidc} == {"dicom-deidentified"}
    assert {tuple(map(tuple, r["boxes"])) for r in lidc} == {((6.0, 3.0, 12.0, 9.0),), ((1.0, 7.0, 7.0, 13.0),)}
    nih = [r for r in rows if r["source_id"] == "00013118_008.png"]
    x, y, w, h = 225.084745762712, 547.019216763771, 86.7796610169491, 79.1864406779661
    assert nih[0]["boxes"] == [pytest.approx([x, y, x + w, y + h])]
    # Montgomery: the left lung is on the image's right; laterality is not asked for targets named by side
    lung = [r for r in rows if r["target"] == "left lung"]
    assert lung and not any(json.loads(r["metadata"])["question_kind"] == "laterality" for r in lung)
    location = [r for r in lung if json.loads(r["metadata"])["question_kind"] == "location"]
    assert all("right" in r["answer"] for r in location)


def test_rebuilds_are_byte_identical_and_independent_of_workers(sources: dict[str, Path], tmp_path: Path) -> None:
    keys = [(k, sources[k]) for k in ("msd-spleen", "kvasir-seg", "busi", "nih-cxr14-bbox", "kits23", "lidc-idri")]
    build_vgmed(keys, out=tmp_path / "a", options=BuildOptions(seed=7), deid_key=DEID_KEY)
    build_vgmed(keys, out=tmp_path / "b", options=BuildOptions(seed=7), deid_key=DEID_KEY)
    build_vgmed(keys, out=tmp_path / "c", options=BuildOptions(seed=7, num_proc=2), deid_key=DEID_KEY)
    first = parquet_bytes(tmp_path / "a")
    assert first and first == parquet_bytes(tmp_path / "b") == parquet_bytes(tmp_path / "c")
    assert (tmp_path / "a" / "build_report.json").read_bytes() == (tmp_path / "c" / "build_report.json").read_bytes()
    build_vgmed(keys, out=tmp_path / "d", options=BuildOptions(seed=8), deid_key=DEID_KEY)
    assert parquet_bytes(tmp_path / "d") != first


def test_quotas_and_duplicate_images(sources: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "kvasir"
    shutil.copytree(sources["kvasir-seg"], root)
    shutil.copy(root / "images" / "cju0qkwl35piu0993l0dewei2.jpg", root / "images" / "zzcopy.jpg")
    shutil.copy(root / "masks" / "cju0qkwl35piu0993l0dewei2.jpg", root / "masks" / "zzcopy.jpg")
    report = build_vgmed([("kvasir-seg", root), ("montgomery", sources["montgomery"])], out=tmp_path / "out",
                         options=BuildOptions(max_per_target=3))
    assert report["filtered"]["kvasir-seg: duplicate image (same pixels as kvasir-seg)"] == 1
    assert max(report["by_target"].values()) == 3
    assert report["filtered"]["montgomery: over quota"] > 0


# ------------------------------------------------------------------------------------------------- bad inputs
def _spleen(tmp_path: Path) -> Path:
    return mini.write_msd_task(tmp_path, task="Task09_Spleen", labels={"1": "spleen"}, cases=spleen_cases(),
                               modality={"0": "CT"})


def _break_shape(root: Path) -> None:
    mini.save_nifti(root / "labelsTr" / "spleen_3.nii.gz", np.zeros((8, 8, 4), np.uint8))


def _break_label(root: Path) -> None:
    label = mini.cuboid(VOL_SHAPE, (18, 4, 2), (28, 12, 5))
    label[0:2, 0:2, 0:2] = 5
    mini.save_nifti(root / "labelsTr" / "spleen_3.nii.gz", label)


def _break_empty(root: Path) -> None:
    mini.save_nifti(root / "labelsTr" / "spleen_3.nii.gz", np.zeros(VOL_SHAPE, np.uint8))


def _break_missing(root: Path) -> None:
    (root / "imagesTr" / "spleen_3.nii.gz").unlink()


def _break_corrupt(root: Path) -> None:
    path = root / "imagesTr" / "spleen_3.nii.gz"
    path.write_bytes(path.read_bytes()[:200])


@pytest.mark.parametrize("breaker, error, reason", [
    (_break_shape, FileFormatError, "shape mismatch"),
    (_break_label, InvalidInputError, "label not in map"),
    (_break_empty, GeometryError, "empty mask"),
    (_break_missing, SourceNotFoundError, "missing file"),
    (_break_corrupt, FileFormatError, "corrupt file"),
])
def test_bad_volume_input_errors_or_is_counted(tmp_path: Path, breaker, error: type, reason: str) -> None:  # noqa: ANN001
    root = _spleen(tmp_path)
    breaker(root)
    with pytest.raises(error) as caught:
        build_vgmed([("msd-spleen", root)], out=tmp_path / "strict", options=BuildOptions())
    assert "spleen_3" in str(caught.value)
    report = build_vgmed([("msd-spleen", root)], out=tmp_path / "lenient", options=BuildOptions(on_bad="skip"))
    assert report["skip_counts"] == {f"msd-spleen: {reason}": 1}
    assert report["skips"][0]["record"] == "spleen_3"
    assert report["by_source"]["msd-spleen"] > 0  # spleen_2 still built
    assert not (tmp_path / "strict" / "data").exists()  # a failed build leaves no folder that looks complete


def test_bad_2d_inputs(sources: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "isic"
    shutil.copytree(sources["isic2018-task1"], root)
    truth = root / "ISIC2018_Task1_Training_GroundTruth"
    mini.save_png(truth / "ISIC_0000001_segmentation.png", np.zeros((60, 80), np.uint8))  # empty mask
    mini.save_jpeg(root / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000002.jpg", mini.rgb_image((60, 80), 1))
    mini.save_png(truth / "ISIC_0000002_segmentation.png", np.zeros((30, 80), np.uint8))  # wrong size
    (root / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000003.jpg").write_bytes(b"<html>not found</html>")
    mini.save_png(truth / "ISIC_0000003_segmentation.png", np.zeros((60, 80), np.uint8))
    mini.save_jpeg(root / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000004.jpg", mini.rgb_image((60, 80), 2))
    with pytest.raises(SourceNotFoundError, match="mask file is missing"):  # found while listing records
        build_vgmed([("isic2018-task1", root)], out=tmp_path / "strict")
    (root / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000004.jpg").unlink()
    with pytest.raises((GeometryError, FileFormatError)):  # the first bad record met stops the build
        build_vgmed([("isic2018-task1", root)], out=tmp_path / "strict")
    mini.save_jpeg(root / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000004.jpg", mini.rgb_image((60, 80), 2))
    report = build_vgmed([("isic2018-task1", root)], out=tmp_path / "warn", options=BuildOptions(on_bad="warn"))
    assert report["skip_counts"] == {"isic2018-task1: corrupt file": 1, "isic2018-task1: empty mask": 1,
                                     "isic2018-task1: missing file": 1, "isic2018-task1: shape mismatch": 1}
    assert "warning: skipped isic2018-task1" in capsys.readouterr().err
    assert report["by_source"] == {"isic2018-task1": report["samples"]} and report["samples"] > 0


def test_label_not_in_map_in_a_table(sources: dict[str, Path], tmp_path: Path) -> None:
    root = mini.write_nih(tmp_path / "cxr", [("00000001_000.png", "Atelectasis", (10.0, 10.0, 50.0, 50.0)),
                                             ("00000002_000.png", "Hernia", (10.0, 10.0, 50.0, 50.0))])
    with pytest.raises(InvalidInputError, match="'Hernia' is not in the nih-cxr14-bbox label map"):
        build_vgmed([("nih-cxr14-bbox", root)], out=tmp_path / "a")
    report = build_vgmed([("nih-cxr14-bbox", root)], out=tmp_path / "b", options=BuildOptions(on_bad="skip"))
    assert report["skip_counts"] == {"nih-cxr14-bbox: label not in map": 1}


def test_build_cli(sources: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", "vgmed", "--source", f"msd-spleen={sources['msd-spleen']}", "--source",
                 f"kvasir-seg={sources['kvasir-seg']}", "--out", str(tmp_path / "out"), "--seed", "1",
                 "--splits", "test=1", "--question-kinds", "location,size"])
    assert code == 0 and "samples" in capsys.readouterr().out
    rows = list(iter_rows(tmp_path / "out", config="vgmed"))
    assert {r["split"] for r in rows} == {"test"}
    assert {json.loads(r["metadata"])["question_kind"] for r in rows} <= {"location", "size"}
    assert main(["build", "vgmed", "--source", "nope=/x", "--out", str(tmp_path / "o2")]) == 2
    assert "unknown source 'nope'" in capsys.readouterr().err
    # the manifest and the card record each source's licence status, where it was read, and its split unit
    manifest = {s["key"]: s for s in json.loads((tmp_path / "out" / "manifest.json").read_text())["sources"]}
    assert (manifest["msd-spleen"]["license_status"], manifest["msd-spleen"]["split_unit"]) == ("stated", "volume")
    assert manifest["kvasir-seg"]["license_read_at"].startswith("https://github.com/DebeshJha/Kvasir-SEG")
    assert manifest["kvasir-seg"]["split_unit"] == "image" and manifest["kvasir-seg"]["redistributable"] is False
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| CC-BY-SA-4.0 (stated) | yes | volume |" in card
    # a split unit the source does not record is refused with one line naming the units it has
    assert main(["build", "vgmed", "--source", f"msd-spleen={sources['msd-spleen']}", "--out",
                 str(tmp_path / "o3"), "--split-unit", "msd-spleen=centre"]) == 2
    err = capsys.readouterr().err
    assert "msd-spleen cannot be split by 'centre'" in err and "volume" in err and not (tmp_path / "o3").exists()


def test_a_build_that_fails_after_its_rows_leaves_no_folder(sources: dict[str, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A new build folder appears with its rows, build report and manifest together, or not at all: the
    manifest step fails here (the standard library's version lookup raises, as a full disk would on writing),
    after every Parquet shard and the report are written."""
    import platform

    def failing() -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(platform, "python_version", failing)
    out = tmp_path / "vgmed"
    with pytest.raises(OSError):
        build_vgmed([("msd-spleen", sources["msd-spleen"])], out=out, options=BuildOptions(seed=3))
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither the folder nor a staging sibling
    monkeypatch.undo()
    build_vgmed([("msd-spleen", sources["msd-spleen"])], out=out, options=BuildOptions(seed=3))
    assert {"README.md", "manifest.json", "build_report.json", "inputs.sha256", "data"} <= {
        p.name for p in out.iterdir()}
