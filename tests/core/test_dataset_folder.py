"""Schema validation at construction, Parquet round trip through load_dataset, `vgmed validate`, the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset
from PIL import Image

from vgmed_data.cli import main
from vgmed_data.errors import GeometryError, SchemaError
from vgmed_data.writer import write_config
from vgmed_data.schema import (SEQUENCES_FEATURES, VGMED_FEATURES, GroundingSample, Provenance, Review,
                               SequenceImage, SequenceSample, encode_png, make_sample_id)
from vgmed_data.validate import validate_folder


def provenance(patient: str = "p1", split: str = "test", **changes: object) -> Provenance:
    values = dict(modality="CT", body_part="chest", source="toy", source_id=f"{patient}/1", license="CC-BY-4.0",
                  redistributable=True, patient_id=patient, split=split, metadata={"source_path": "a/b.png"})
    values.update(changes)
    return Provenance(**values)  # type: ignore[arg-type]


def picture(width: int = 48, height: int = 32, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return encode_png(rng.integers(0, 255, (height, width), dtype=np.uint8))


def grounding(index: int, *, patient: str = "p1", split: str = "test", **changes: object) -> GroundingSample:
    mask = np.zeros((32, 48), bool)
    mask[4:10, 6:20] = True
    values: dict[str, object] = dict(
        id=make_sample_id("toy", f"{patient}/{index}", 0, "localization"), image=picture(seed=index),
        question="Where is the nodule?", question_type="localization", answer="upper left",
        options=("upper left", "lower right"), target="nodule", boxes=[[6, 4, 20, 10]], box_labels=["nodule"],
        mask=encode_png(mask), provenance=provenance(patient, split), pixel_spacing_mm=(0.7, 0.8), plane="axial",
        slice_index=12, window="lung", image_origin="dicom-deidentified")
    values.update(changes)
    return GroundingSample(**values)  # type: ignore[arg-type]


def sequence(index: int) -> SequenceSample:
    images = [SequenceImage(image=picture(40, 40, seed=s), source="toy", source_id=f"p1/{s}", plane="axial",
                            slice_index=s, transform='{"src_size":[40,40],"steps":[]}') for s in range(3)]
    return SequenceSample(id=f"seq-{index}", images=images, task="object_tracking", question="Find it in image 3.",
                          answer="image 3: [1, 2, 10, 12]", target="lesion", answer_image_index=2,
                          answer_box=[1, 2, 10, 12], reference_image_index=0, reference_box=[3, 3, 9, 9],
                          provenance=provenance(review=Review(status="accepted", annotators=("a", "b"),
                                                              agreement=0.91)))


def load(folder: Path, config: str, split: str):  # noqa: ANN201
    return load_dataset(str(folder), config, split=split, cache_dir=tempfile.mkdtemp())


def test_both_configurations_round_trip_through_load_dataset(tmp_path: Path) -> None:
    vgmed = [grounding(i) for i in range(5)] + [grounding(9, patient="p2", split="train", mask=None,
                                                          pixel_spacing_mm=None, slice_index=None, plane="")]
    sequences = [sequence(i) for i in range(3)]
    write_config(tmp_path, vgmed, config="vgmed", shard_rows=2)
    write_config(tmp_path, sequences, config="sequences")
    assert sorted(p.name for p in (tmp_path / "data" / "vgmed").iterdir()) == [
        "test-00000-of-00003.parquet", "test-00001-of-00003.parquet", "test-00002-of-00003.parquet",
        "train-00000-of-00001.parquet"]
    loaded = load(tmp_path, "vgmed", "test")
    assert loaded.features == VGMED_FEATURES
    assert [row["id"] for row in loaded] == [s.id for s in vgmed[:5]]
    for row, sample in zip(loaded, vgmed):
        expected = sample.to_row()
        for key, value in expected.items():
            if key in ("image", "mask"):
                got = row[key]
                assert np.array_equal(np.asarray(got), np.asarray(Image.open(io.BytesIO(value["bytes"]))))
            else:
                assert row[key] == value, key
    train = load(tmp_path, "vgmed", "train")
    assert train[0]["mask"] is None and train[0]["pixel_spacing_mm"] is None and train[0]["slice_index"] is None
    seq = load(tmp_path, "sequences", "test")
    assert seq.features == SEQUENCES_FEATURES
    assert seq[1]["answer_box"] == [1, 2, 10, 12] and seq[1]["reference_image_index"] == 0
    assert seq[1]["review"]["agreement"] == pytest.approx(0.91) and len(seq[1]["images"]) == 3
    assert seq[1]["image_provenance"][2]["slice_index"] == 2
    for path in (tmp_path / "data").rglob("*.parquet"):  # images embedded as bytes, never paths
        for cell in pq.read_table(path).column("image" if "vgmed" in str(path) else "images").to_pylist():
            cells = cell if isinstance(cell, list) else [cell]
            assert all(c["bytes"] and c["path"] is None for c in cells)
    assert validate_folder(tmp_path) == []


def test_rebuilding_gives_identical_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_config(tmp_path / name, [grounding(i) for i in range(3)], config="vgmed")
    first = (tmp_path / "a" / "data" / "vgmed" / "test-00000-of-00001.parquet").read_bytes()
    assert first == (tmp_path / "b" / "data" / "vgmed" / "test-00000-of-00001.parquet").read_bytes()
    assert make_sample_id("toy", "x", 1, "attribute") == make_sample_id("toy", "x", 1, "attribute")


def test_samples_are_validated_at_construction() -> None:
    with pytest.raises(GeometryError, match="outside the 48x32 image"):
        grounding(0, boxes=[[40, 0, 60, 10]])
    with pytest.raises(GeometryError, match="x2 <= x1"):
        grounding(0, boxes=[[20, 0, 10, 10]])
    with pytest.raises(SchemaError, match="2 boxes but 1 box labels"):
        grounding(0, boxes=[[0, 0, 4, 4], [5, 5, 9, 9]])
    with pytest.raises(SchemaError, match="not among the options"):
        grounding(0, answer="center")
    with pytest.raises(SchemaError, match="modality 'XRAY'"):
        grounding(0, provenance=provenance(modality="XRAY"))
    with pytest.raises(SchemaError, match="mask size"):
        grounding(0, mask=encode_png(np.zeros((5, 5), bool)))
    with pytest.raises(SchemaError, match="answer_image_index 3 is out of range"):
        SequenceSample(id="s", images=[SequenceImage(image=picture(), source="t", source_id="1")], task="referring",
                       question="q", answer="a", target="t", answer_image_index=3, answer_box=[0, 0, 1, 1],
                       provenance=provenance())


def test_write_refuses_duplicate_ids_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="duplicate sample id"):
        write_config(tmp_path, [grounding(1), grounding(1)], config="vgmed")
    assert not (tmp_path / "data").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_validate_lists_problems(tmp_path: Path) -> None:
    # p1 in test and train: a patient in two splits
    write_config(tmp_path, [grounding(1), grounding(2, split="train")], config="vgmed")
    problems = [str(p) for p in validate_folder(tmp_path)]
    assert any("patient toy/p1 appears in several splits: test, train" in p for p in problems)
    # a shard written by something else, with an out-of-image box and a wrong size
    row = grounding(3, patient="p3").to_row()
    row.update(boxes=[[0, 0, 120, 5]], width=99)
    bad = tmp_path / "bad"
    write_config(bad, [row], config="vgmed")
    problems = [str(p) for p in validate_folder(bad)]
    assert any("image is 48x32 but width/height say 99x32" in p for p in problems)
    assert any("outside" in p for p in problems)


def test_cli_validate_and_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(tmp_path, [grounding(1)], config="vgmed")
    assert main(["validate", str(tmp_path)]) == 0
    assert "valid (1 rows" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dataset folder not found" in err and "Traceback" not in err
    assert main(["render", str(tmp_path / "x.nii.gz"), "--out", str(tmp_path / "o.png")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_help_does_not_import_heavy_stacks() -> None:
    code = ("import sys; from vgmed_data.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'label_studio_sdk') if m in sys.modules]\n"
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "COMMAND" in result.stdout


def test_demo_builds_a_dataset_that_load_dataset_reads(tmp_path: Path) -> None:
    from vgmed_data.demo import run_demo

    result = run_demo(tmp_path, with_eval=False)
    folder = Path(str(result["dataset"]))
    assert validate_folder(folder) == []
    rows = [row for split in ("train", "validation", "test") for row in load(folder, "vgmed", split)]
    assert len(rows) == result["rows"] == 12
    vertebra = next(r for r in rows if r["target"] == "vertebra" and r["question_type"] == "localization")
    assert vertebra["modality"] == "CT" and vertebra["image_origin"] == "dicom-deidentified"
    assert "PatientName" not in json.loads(vertebra["metadata"])
    assert len(list((tmp_path / "previews").glob("*.png"))) == 6
