"""MedSG-Bench items in the benchmark's exact format: task keys, answer image per task, export read back by a
transcription of the benchmark's own task filter and answer parsing.

The items follow the public examples (MedSG-Bench's Hub viewer rows and the items transcribed in
saitejalekkala33/MedSG-Agent ``examples_all_tasks.py``): same keys, same question wording, same path shapes.
Only ``object_tracking`` has no public example; its item is written in the multi-view wording. The expected
answer images are read off each question by hand (not computed by the code under test).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vgmed_data.builders.sequences.medsg import export_medsg, import_medsg
from vgmed_data.errors import SchemaError
from vgmed_data.eval.boxes.report import score_predictions
from vgmed_data.folder import iter_rows
from vgmed_data.writer import write_config

DIFF_Q = "Compare these two images carefully and give me the coordinates of their difference."
MV_Q = ("These images share one object in common(the object marked with red bounding box in the first "
        "image(<|box_start|>(155,120),(204,173)<|box_end|>). Recognize and locate this object in the {} image.")
CM_Q = ("The following are {} images for you to consider. For the area marked by the red bounding box in the first "
        "image, identify and locate the corresponding area in the {} image that serves a similar function or "
        "shares a similar meaning.")
PATCH_Q = ("You are given a source image followed by its several regions. Please locate the {} region picture in "
           "the source image.")
REF_Q = "Please find the bounding box coordinates for the area described by: <|object_ref_start|>Spleen<|object_ref_end|>."

# (item, expected 1-based answer image, expected rule); the expectation comes from reading the question.
ITEMS: list[tuple[dict, int, str]] = [
    ({"task": "Registered_Diff", "images": ["Task1/LUNA16_ori_casenum_1_sliceid_83.png",
                                            "Task1/LUNA16_casenum_1_sliceid_83.png"],
      "question": DIFF_Q, "answer": [87, 140, 103, 162]}, 2, "unstated"),
    ({"task": "Non_Registered_Diff", "images": ["Task2/LUNA16_ori_casenum_2_sliceid_113.png",
                                                "Task2/LUNA16_casenum_2_sliceid_113.png"],
      "question": DIFF_Q, "answer": [103, 188, 124, 202]}, 2, "unstated"),
    ({"task": "multi_view", "images": ["Task3/LUNA16_front.png", "Task3/LUNA16_top.png", "Task3/LUNA16_side.png"],
      "question": MV_Q.format("second"), "answer": [119, 0, 173, 55], "size": [336, 336]}, 2, "question"),
    ({"task": "multi_view", "images": ["Task3/MyoPS_front.png", "Task3/MyoPS_top.png", "Task3/MyoPS_side.png"],
      "question": MV_Q.format("third"), "answer": [186, 4, 299, 54], "size": [512, 512]}, 3, "question"),
    ({"task": "object_tracking", "images": [f"Task4/KiTS_slice_{k}.png" for k in range(5)],
      "question": ("The object marked with red bounding box in the first image(<|box_start|>(40,50),(90,110)"
                   "<|box_end|>) also appears in the following images. Locate it in the fourth image."),
      "answer": [44, 52, 96, 113]}, 4, "question"),
    ({"task": "concept", "images": ["Task5/AbdomenCT1K_RightKidney_casenum_00709.png",
                                    "Task5/AbdomenCT1K_RightKidney_ori_casenum_00709.png"],
      "question": "The first image shows a concept. Find it in the second image.", "answer": [192, 113, 232, 157]},
     2, "question"),
    ({"task": "concept", "images": ["Task5/Liver_casenum_00919.png", "Task5/Liver_ori_casenum_00919.png"],
      "question": "Locate the masked structure.", "answer": [69, 167, 94, 236]}, 2, "task"),
    ({"task": "patch", "images": ["Task6/LUNA16_Bronchus_349.png"] + [f"Task6/LUNA16_Bronchus_349_{k}.png"
                                                                      for k in range(4)],
      "question": PATCH_Q.format("second"), "answer": [102, 190, 267, 303]}, 1, "task"),
    ({"task": "crossmodal", "images": ["Task7/BraTS_T2.png", "Task7/BraTS_T1ce.png", "Task7/BraTS_T1.png",
                                       "Task7/BraTS_FLAIR.png"],
      "question": CM_Q.format("four", "third"), "answer": [191, 132, 258, 238]}, 3, "question"),
    ({"task": "crossmodal", "images": ["Task7/AbdomenCT1K_Spleen_470.png", "Task7/AMOS22_MRI_Spleen_41.png"],
      "question": CM_Q.format("two", "second"), "answer": [92, 111, 141, 144]}, 2, "question"),
    ({"task": "referring", "images": ["Task8/AbdomenCT1K_Spleen_1.png"], "question": REF_Q,
      "answer": [73, 107, 133, 144]}, 1, "task"),
    ({"task": "referring", "images": ["Task8/a.png", "Task8/b.png", "Task8/c.png"], "question": REF_Q,
      "answer": [31, 116, 49, 182]}, 3, "unstated"),
]
KEYS = ["Registered_Diff", "Non_Registered_Diff", "multi_view", "object_tracking", "concept", "patch",
        "crossmodal", "referring"]  # MedSG_Bench.py --task choices


# ---- transcription of MedSG-Bench's evaluation (eval/MedSG_Bench.py 506-536, eval/utils.py 139-193) ----------
def medsg_task_filter(test_data: list[dict], key: str) -> list[dict]:
    return [item for item in test_data if item["task"] == key]


_STRONG = re.compile(r"[\w\W]*?\(?\s*(\d+\.?\d*)\s*[,，]\s*(\d+\.?\d*)\s*\)?\s*[,，]?\s*\(?\s*(\d+\.?\d*)\s*[,，]"
                     r"\s*(\d+\.?\d*)\s*\)?")
_FALLBACK = re.compile(r"(-?\d+\.?\d*)[ ,，]+(-?\d+\.?\d*)[ ,，]+(-?\d+\.?\d*)[ ,，]+(-?\d+\.?\d*)")


def medsg_extract_bbox_strong(text: str) -> list:
    for pattern in (_STRONG, _FALLBACK):
        results = [[float(v) for v in match] for match in pattern.findall(text)]
        if results:
            return results[0] if len(results) == 1 else results
    return [0.0, 0.0, 0.0, 0.0]


def medsg_calculate_iou(box1: list, box2: list) -> float:
    if box2 == []:
        return 0.0
    if isinstance(box2[0], list):
        box2 = box2[0]
    x_left, y_top = max(box1[0], box2[0]), max(box1[1], box2[1])
    x_right, y_bottom = min(box1[2], box2[2]), min(box1[3], box2[3])
    if x_right < x_left or y_bottom < y_top:
        return 0.0
    inter = (x_right - x_left) * (y_bottom - y_top)
    union = (box1[2] - box1[0]) * (box1[3] - box1[1]) + (box2[2] - box2[0]) * (box2[3] - box2[1]) - inter
    return inter / union
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def medsg_file(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("medsg")
    rng = np.random.default_rng(0)
    for item, _, _ in ITEMS:
        for relative in item["images"]:
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (336, 336), dtype=np.uint8)).save(path)
    file = root / "MedSG-Bench.json"
    file.write_text(json.dumps([item for item, _, _ in ITEMS], indent=1))
    return file


def test_real_items_import_with_the_benchmark_answer_image(medsg_file: Path) -> None:
    samples = list(import_medsg(medsg_file))
    assert len(samples) == len(ITEMS)
    internal = {"Registered_Diff": "registered_difference", "Non_Registered_Diff": "non_registered_difference",
                "concept": "visual_concept", "patch": "visual_patch", "crossmodal": "cross_modal"}
    for sample, (item, expected, rule) in zip(samples, ITEMS):
        assert sample.task == internal.get(item["task"], item["task"])
        assert sample.answer_image_index + 1 == expected, item["question"]
        assert sample.provenance.metadata["answer_image_rule"] == rule
        assert sample.provenance.metadata["medsg_task"] == item["task"]
        assert list(sample.answer_box) == [float(v) for v in item["answer"]]
        if rule == "unstated":
            assert "does not say" in sample.provenance.metadata["answer_image_note"]
    multi_view = samples[2]
    assert multi_view.reference_box == [155.0, 120.0, 204.0, 173.0] and multi_view.reference_image_index == 0
    assert multi_view.provenance.metadata["medsg_size"] == [336, 336]


def test_export_is_selected_and_parsed_by_the_benchmark_code(medsg_file: Path, tmp_path: Path) -> None:
    samples = sorted(import_medsg(medsg_file), key=lambda s: s.id)
    write_config(tmp_path / "ds", samples, config="sequences")
    exported = export_medsg(tmp_path / "ds", tmp_path / "out")
    test_data = json.loads(exported.path.read_text())
    assert exported.items == len(ITEMS) == len(test_data) and exported.not_exported == {}
    selected = [item for key in KEYS for item in medsg_task_filter(test_data, key)]
    assert len(selected) == len(test_data)  # every item is selected by exactly one --task filter
    originals = {json.dumps(item["answer"]): item for item, _, _ in ITEMS}
    for item in test_data:
        original = originals[json.dumps([int(v) for v in item["answer"]])]
        assert item["task"] == original["task"] and item["question"] == original["question"]
        assert item.get("size") == original.get("size")  # multi_view only, the item's own value kept
        x1, y1, x2, y2 = (int(v) for v in item["answer"])
        reply = f"<|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"  # a perfect Qwen-style reply
        assert medsg_calculate_iou(item["answer"], medsg_extract_bbox_strong(reply)) == pytest.approx(1.0)
        for path in item["images"]:
            assert (tmp_path / "out" / path).resolve().is_relative_to((tmp_path / "out").resolve())
            assert (tmp_path / "out" / path).exists()


def test_a_perfect_model_is_not_scored_on_images_the_benchmark_never_named(medsg_file: Path, tmp_path: Path) -> None:
    samples = sorted(import_medsg(medsg_file), key=lambda s: s.id)
    write_config(tmp_path / "ds", samples, config="sequences")
    # a fitting split for the mean-box baseline: the same items again under other ids
    fit = sorted(import_medsg(medsg_file, split="train"), key=lambda s: s.id)
    for sample in fit:
        object.__setattr__(sample, "id", sample.id + "-fit")
    write_config(tmp_path / "ds2", samples + fit, config="sequences")
    predictions = tmp_path / "p.jsonl"
    with open(predictions, "w") as handle:
        for row in iter_rows(tmp_path / "ds2", config="sequences", split="test"):
            handle.write(json.dumps({"id": row["id"], "output": row["answer"]}) + "\n")
    report = score_predictions(tmp_path / "ds2", predictions, fmt="pixel_xyxy", config="sequences", split="test")
    model = report.summary["model"]
    assert model["all"]["miou"] == pytest.approx(1.0)
    assert model["all"]["image_acc"] == 1.0
    assert model["visual_patch"]["image_acc"] == 1.0 and model["cross_modal"]["image_acc"] == 1.0
    assert model["registered_difference"]["image_acc"] is None  # unstated: not scored


def test_ids_with_slashes_and_dot_dot_stay_inside_the_export(medsg_file: Path, tmp_path: Path) -> None:
    samples = list(import_medsg(medsg_file))[:2]
    object.__setattr__(samples[0], "id", "referring/AbdomenCT1K/CT_RightKidney/npy_imgs/casenum_00798_sliceid_13")
    object.__setattr__(samples[1], "id", "x/..y/../../evil")  # a '..' hidden in an id that reached the folder
    write_config(tmp_path / "ds", samples, config="sequences")
    out = tmp_path / "deep" / "out"
    exported = export_medsg(tmp_path / "ds", out)
    names = [path for item in json.loads(exported.path.read_text()) for path in item["images"]]
    assert len(names) == 4 and all(name.startswith("images/") and name.count("/") == 1 for name in names)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == sorted(names)
    assert not list((tmp_path / "deep").glob("*.png")) and not list(tmp_path.glob("evil*"))


def test_unknown_task_key_and_out_of_range_image_are_refused(tmp_path: Path, medsg_file: Path) -> None:
    item = dict(ITEMS[9][0])
    for change, message in (({"task": "cross_modal"}, "not a MedSG-Bench task key"),
                            ({"question": CM_Q.format("two", "fifth")}, "names image 5")):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps([{**item, **change}]))
        with pytest.raises(SchemaError, match=message):
            list(import_medsg(bad, images_root=medsg_file.parent))


def test_absolute_author_paths_import_with_strip_prefix_and_are_refused_without(medsg_file: Path,
                                                                                  tmp_path: Path) -> None:
    """The published JSON holds the authors' absolute paths; they are read under --images-root once the stated
    prefix is dropped, and refused (naming --strip-prefix) without it, through the real CLI."""
    prefix = "/root/autodl-tmp/MedSG-Bench/"
    items = [dict(item, images=[prefix + p for p in item["images"]]) for item, _, _ in ITEMS[:3]]
    absolute = tmp_path / "absolute.json"
    absolute.write_text(json.dumps(items))
    vgmed = [sys.executable, "-c", "import sys; from vgmed_data.cli import main; sys.exit(main())"]
    refused = subprocess.run([*vgmed, "build", "sequences", "--from-medsg", str(absolute), "--images-root",
                              str(medsg_file.parent), "--out", str(tmp_path / "refused")],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "--strip-prefix" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "refused").exists()
    done = subprocess.run([*vgmed, "build", "sequences", "--from-medsg", str(absolute), "--images-root",
                           str(medsg_file.parent), "--strip-prefix", prefix, "--out", str(tmp_path / "ok")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = list(iter_rows(tmp_path / "ok", config="sequences"))
    expected = {item["images"][0] for item, _, _ in ITEMS[:3]}
    assert len(rows) == 3
    first_images = {Image.open(io.BytesIO(r["images"][0]["bytes"])).tobytes() for r in rows}
    assert first_images == {Image.open(medsg_file.parent / p).tobytes() for p in expected}
