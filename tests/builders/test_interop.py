"""VGMED release JSONL read and written as the official reader reads it: the ``original_bboxes`` fallback, the
``[x, y, w, h]`` rule decided on the image path as written, ``--on-bad``, and an export the official reader
(transcribed below) reads to the same boxes as the original lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.builders.miniatures import save_png
from vgmed_data.builders.interop import export_jsonl, import_jsonl
from vgmed_data.cli import main
from vgmed_data.errors import VgmedError
from vgmed_data.folder import iter_rows
from vgmed_data.validate import validate_folder

LINES = [
    # path starts with "Slake" (its base name does not): [x, y, w, h]
    {"image": "Slake/xmlab12_source.png", "question": "Where is the liver?", "bbox": [[20, 30, 40, 50]]},
    {"image": "MSD/spleen_2_slice40.png", "question": "How large is the spleen?",
     "bbox": [[10, 12, 60, 70], [5, 5, 9, 9]]},
    # base name starts with "Slake", the path does not: the official rule reads [x1, y1, x2, y2]
    {"image": "images/Slake_3.png", "question": "Is the heart enlarged?", "bbox": [[12.5, 20, 30.25, 40]]},
    # only the official fallback key, keys in another order
    {"question": "Which organ is this?", "image": "Slake/Slake_xmlab5.png", "original_bboxes": [[5, 6, 10, 12]]},
]
EXPECTED_XYXY = {1: [[20.0, 30.0, 60.0, 80.0]], 2: [[10.0, 12.0, 60.0, 70.0], [5.0, 5.0, 9.0, 9.0]],
                 3: [[12.5, 20.0, 30.25, 40.0]], 4: [[5.0, 6.0, 15.0, 18.0]]}


def official_boxes(sample: dict, dataset: str = "VGMED") -> list[tuple[float, ...]]:
    """Transcription of Medical-MLLMs-Fail measure_attention.py (commit c7263dd): get_sample_attention's box
    key, uses_xyxy_bbox's rule on sample["image"], get_tokens_covering_bbox's reading of each box."""
    image_name = sample["image"]
    original_bboxes = sample.get("bbox", sample.get("original_bboxes"))
    if original_bboxes is None:
        raise KeyError(f"Sample has no bbox or original_bboxes field: {sample}")
    xyxy_format = dataset == "VGMED" and not image_name.startswith("Slake")
    boxes = []
    for bbox in original_bboxes:
        if xyxy_format:
            x_min, y_min, x_max, y_max = bbox
        else:
            x_min, y_min, width, height = bbox
            x_max, y_max = x_min + width, y_min + height
        boxes.append((x_min, y_min, x_max, y_max))
    return boxes


def write_release(root: Path, lines: list, *, raw: list[str] = ()) -> tuple[Path, Path]:
    images = root / "images_root"
    for item in lines:
        if isinstance(item, dict):
            save_png(images / item["image"], np.full((100, 120), 90, np.uint8))
    jsonl = root / "VGMED_localization.jsonl"
    jsonl.write_text("".join((json.dumps(item) if isinstance(item, dict) else item) + "\n" for item in lines))
    return jsonl, images


@pytest.fixture()
def release(tmp_path: Path) -> tuple[Path, Path]:
    return write_release(tmp_path, LINES)


def test_import_reads_boxes_as_the_official_reader(release: tuple[Path, Path], tmp_path: Path) -> None:
    jsonl, images = release
    report = import_jsonl(jsonl, images=images, out=tmp_path / "ds")
    assert report.imported == 4 and report.skips == []
    assert validate_folder(tmp_path / "ds") == []
    rows = {json.loads(r["metadata"])["line"]: r for r in iter_rows(tmp_path / "ds", config="vgmed")}
    for number, expected in EXPECTED_XYXY.items():
        assert rows[number]["boxes"] == expected
        assert [list(b) for b in official_boxes(LINES[number - 1])] == expected  # the transcription agrees


def test_export_gives_the_official_reader_identical_boxes(release: tuple[Path, Path], tmp_path: Path) -> None:
    jsonl, images = release
    assert main(["import", "vgmed-jsonl", str(jsonl), "--images", str(images), "--out", str(tmp_path / "ds")]) == 0
    assert main(["export", "vgmed-jsonl", str(tmp_path / "ds"), "--out", str(tmp_path / "back.jsonl")]) == 0
    back = [json.loads(line) for line in (tmp_path / "back.jsonl").read_text().splitlines()]
    by_image = {item["image"]: item for item in back}
    for original in LINES:
        exported = by_image[original["image"]]
        assert exported == original and list(exported) == list(original)  # same values, keys in the same order
        assert official_boxes(exported) == official_boxes(original)


def test_a_single_flat_box_is_written_back_as_a_list_of_boxes(tmp_path: Path) -> None:
    line = {"image": "MSD/a.png", "question": "Where is it?", "bbox": [10, 20, 30, 40]}
    jsonl, images = write_release(tmp_path, [line])
    import_jsonl(jsonl, images=images, out=tmp_path / "ds")
    export_jsonl(tmp_path / "ds", out=tmp_path / "back.jsonl")
    (exported,) = [json.loads(x) for x in (tmp_path / "back.jsonl").read_text().splitlines()]
    assert exported["bbox"] == [[10, 20, 30, 40]]  # the official reader iterates over boxes
    assert official_boxes(exported) == [(10, 20, 30, 40)]


BAD = [LINES[1], "{not json", {"image": "MSD/spleen_2_slice40.png", "question": "No box here?"},
       {"image": "MSD/gone.png", "question": "Missing image?", "bbox": [[1, 1, 5, 5]]}, LINES[0]]


def test_on_bad_error_stops_at_the_first_bad_line(tmp_path: Path) -> None:
    jsonl, images = write_release(tmp_path, BAD)
    (images / "MSD/gone.png").unlink()
    with pytest.raises(VgmedError, match="line 2"):
        import_jsonl(jsonl, images=images, out=tmp_path / "ds")


@pytest.mark.parametrize("policy", ["skip", "warn"])
def test_on_bad_skip_and_warn_count_each_bad_line(tmp_path: Path, policy: str, capsys) -> None:
    jsonl, images = write_release(tmp_path, BAD)
    (images / "MSD/gone.png").unlink()
    out = tmp_path / "ds"
    assert main(["import", "vgmed-jsonl", str(jsonl), "--images", str(images), "--out", str(out),
                 "--on-bad", policy]) == 0
    report = json.loads((out / "import_report_vgmed.json").read_text())
    assert report["imported"] == 2 and report["skipped"] == 3
    assert report["skip_counts"] == {"bad line": 1, "image not found": 1, "line is not JSON": 1}
    assert sorted(s["record"] for s in report["skips"]) == ["line 2", "line 3", "line 4"]
    assert len(list(iter_rows(out, config="vgmed"))) == 2
    err = capsys.readouterr().err
    assert "skipped 3 line(s)" in err
    assert ("warning: skipped" in err) == (policy == "warn")


def test_export_of_a_built_folder_writes_images(sources: dict[str, Path], tmp_path: Path) -> None:
    from vgmed_data.builders.vgmed import build_vgmed

    build_vgmed([("kvasir-seg", sources["kvasir-seg"])], out=tmp_path / "built")
    count = export_jsonl(tmp_path / "built", out=tmp_path / "out.jsonl", images_dir=tmp_path / "exp")
    items = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(items) == count > 0
    rows = {r["question"]: r for r in iter_rows(tmp_path / "built", config="vgmed")}
    for item in items:
        assert list(item) == ["image", "question", "bbox"]
        assert (tmp_path / "exp" / item["image"]).exists()
        assert item["bbox"] == [[int(v) for v in b] for b in rows[item["question"]]["boxes"]]
