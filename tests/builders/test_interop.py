"""VGMED release JSONL: import (xywh for Slake* images, xyxy otherwise), export, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vgmed_data.builders.interop import export_jsonl, import_jsonl
from tests.builders.miniatures import save_png
from vgmed_data.cli import main
from vgmed_data.folder import iter_rows
from vgmed_data.validate import validate_folder

LINES = [
    {"image": "Slake/Slake_xmlab12_source.jpg".replace(".jpg", ".png"), "question": "Where is the liver?",
     "bbox": [[20, 30, 40, 50]]},
    {"image": "MSD/spleen_2_slice40.png", "question": "How large is the spleen?", "bbox": [[10, 12, 60, 70], [5, 5, 9, 9]]},
    {"image": "Slake/Slake_xmlab3_source.png", "question": "Is the heart enlarged?", "bbox": [12.5, 20, 30.25, 10]},
]


@pytest.fixture()
def release(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "images"
    for item in LINES:
        save_png(images / item["image"], np.full((100, 120), 90, np.uint8))
    jsonl = tmp_path / "vgmed.jsonl"
    jsonl.write_text("".join(json.dumps(item) + "\n" for item in LINES))
    return jsonl, images


def test_import_converts_boxes_by_file_name(release: tuple[Path, Path], tmp_path: Path) -> None:
    jsonl, images = release
    assert import_jsonl(jsonl, images=images, out=tmp_path / "ds") == 3
    assert validate_folder(tmp_path / "ds") == []
    rows = {json.loads(r["metadata"])["line"]: r for r in iter_rows(tmp_path / "ds", config="vgmed")}
    assert rows[1]["boxes"] == [[20.0, 30.0, 60.0, 80.0]]  # Slake: x, y, w, h
    assert rows[2]["boxes"] == [[10.0, 12.0, 60.0, 70.0], [5.0, 5.0, 9.0, 9.0]]  # others: x1, y1, x2, y2
    assert rows[3]["boxes"] == [[12.5, 20.0, 42.75, 30.0]]


def test_round_trip(release: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl, images = release
    assert main(["import", "vgmed-jsonl", str(jsonl), "--images", str(images), "--out", str(tmp_path / "ds")]) == 0
    assert main(["export", "vgmed-jsonl", str(tmp_path / "ds"), "--out", str(tmp_path / "back.jsonl")]) == 0
    back = [json.loads(line) for line in (tmp_path / "back.jsonl").read_text().splitlines()]
    assert sorted(back, key=lambda i: i["image"]) == sorted(LINES, key=lambda i: i["image"])


def test_export_of_a_built_folder_writes_images(sources: dict[str, Path], tmp_path: Path) -> None:
    from vgmed_data.builders.vgmed import build_vgmed

    build_vgmed([("kvasir-seg", sources["kvasir-seg"])], out=tmp_path / "built")
    count = export_jsonl(tmp_path / "built", out=tmp_path / "out.jsonl", images_dir=tmp_path / "exp")
    items = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(items) == count > 0
    rows = {r["question"]: r for r in iter_rows(tmp_path / "built", config="vgmed")}
    for item in items:
        assert (tmp_path / "exp" / item["image"]).exists()
        assert item["bbox"] == [[int(v) for v in b] for b in rows[item["question"]]["boxes"]]
