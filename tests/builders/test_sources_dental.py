"""Pandental through the CLI on a miniature in its published layout (DentalPanoramicXrays.zip: Images/<n>.png,
Segmentation1/<n>.png and Segmentation2/<n>.png, each mask the radiograph masked to the mandible: torch-em's
pandental loader as cited in the entry)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vgmed_data.cli import main
from vgmed_data.folder import iter_rows

SHAPE = (48, 96)  # rows, columns: panoramic radiographs are wide
MANDIBLES = {"1": (30, 16, 44, 80), "2": (28, 20, 46, 76)}  # (top, left, bottom, right)


def write_pandental(root: Path) -> Path:
    rng = np.random.default_rng(31)
    for name, (top, left, bottom, right) in MANDIBLES.items():
        radiograph = rng.integers(1, 255, SHAPE, dtype=np.uint8)  # 1..254: no black pixel inside the mandible
        mask = np.zeros(SHAPE, bool)
        mask[top:bottom, left:right] = True
        for folder, image in (("Images", radiograph), ("Segmentation1", np.where(mask, radiograph, 0)),
                              ("Segmentation2", np.where(mask, radiograph, 0))):
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.astype(np.uint8)).save(root / folder / f"{name}.png")
    return root


def test_pandental_verifies_builds_and_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_pandental(tmp_path / "pandental")
    assert main(["sources", "verify", "pandental", str(root)]) == 0
    assert "pandental: layout ok" in capsys.readouterr().out
    assert main(["build", "vgmed", "--source", f"pandental={root}", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert main(["validate", str(tmp_path / "out")]) == 0
    rows = list(iter_rows(tmp_path / "out", config="vgmed"))
    for name, (top, left, bottom, right) in MANDIBLES.items():
        boxes = {tuple(r["boxes"][0]) for r in rows if r["source_id"] == f"Images/{name}.png"}
        assert boxes == {(float(left), float(top), float(right), float(bottom))}
    assert {r["target"] for r in rows} == {"mandible"} and {r["redistributable"] for r in rows} == {False}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "CC-BY-NC-3.0 (conflicting)" in card


def test_pandental_missing_mask_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_pandental(tmp_path / "pandental")
    (root / "Segmentation1" / "2.png").unlink()
    assert main(["build", "vgmed", "--source", f"pandental={root}", "--out", str(tmp_path / "a"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Segmentation1/2.png: mask file is missing" in err[0]
    assert main(["build", "vgmed", "--source", f"pandental={root}", "--out", str(tmp_path / "b"), "--quiet",
                 "--on-bad", "skip"]) == 0
    report = json.loads((tmp_path / "b" / "build_report.json").read_text())
    assert report["skip_counts"] == {"pandental: missing file": 1}
