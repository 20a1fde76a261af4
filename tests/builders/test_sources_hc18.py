"""HC18 through the CLI on a miniature in its published layout (training_set/NNN_HC.png beside
NNN_HC_Annotation.png, the head ellipse drawn as a 1-pixel outline; a second plane of one examination named
NNN_2HC.png: hc18.grand-challenge.org as cited in the entry), and the outline-filling reader's bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vgmed_data.cli import main
from vgmed_data.folder import iter_rows

SIZE = (80, 54)  # the real planes are 800 x 540
ELLIPSES = {"000_HC": (10, 8, 50, 40), "010_HC": (30, 10, 70, 48), "010_2HC": (20, 12, 60, 44)}


def ring(box: tuple[int, int, int, int], *, closed: bool = True) -> np.ndarray:
    canvas = Image.new("L", SIZE, 0)
    draw = ImageDraw.Draw(canvas)
    if closed:
        draw.ellipse(box, outline=255, width=1)
    else:
        draw.arc(box, start=0, end=300, fill=255, width=1)
    return np.asarray(canvas)


def write_hc18(root: Path) -> Path:
    folder = root / "training_set"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(21)
    for stem, box in ELLIPSES.items():
        Image.fromarray(rng.integers(0, 255, SIZE[::-1], dtype=np.uint8)).save(folder / f"{stem}.png")
        Image.fromarray(ring(box)).save(folder / f"{stem}_Annotation.png")
    (root / "training_set_pixel_size_and_HC.csv").write_text(
        "filename,pixel size(mm),head circumference (mm)\n000_HC.png,0.0691358041432,44.3\n"
        "010_HC.png,0.0783058926463,71.9\n010_2HC.png,0.0783058926463,70.2\n")
    (root / "test_set").mkdir()
    Image.fromarray(rng.integers(0, 255, SIZE[::-1], dtype=np.uint8)).save(root / "test_set" / "000_HC.png")
    return root


def expected_box(box: tuple[int, int, int, int]) -> list[float]:
    """The filled ellipse's box, from the drawn outline's own pixels (the fill adds no pixel outside them)."""
    rows, cols = np.nonzero(ring(box))
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


def build(root: Path, out: Path, *extra: str) -> int:
    return main(["build", "vgmed", "--source", f"hc18={root}", "--out", str(out), "--splits", "train=0.5,test=0.5",
                 "--quiet", *extra])


def test_hc18_verifies_builds_and_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_hc18(tmp_path / "hc18")
    assert main(["sources", "verify", "hc18", str(root)]) == 0
    assert "hc18: layout ok" in capsys.readouterr().out
    assert build(root, tmp_path / "out") == 0
    assert main(["validate", str(tmp_path / "out")]) == 0
    rows = list(iter_rows(tmp_path / "out", config="vgmed"))
    assert {r["source_id"] for r in rows} == {f"training_set/{stem}.png" for stem in ELLIPSES}  # not test_set/
    for stem, box in ELLIPSES.items():
        mine = [r for r in rows if r["source_id"] == f"training_set/{stem}.png"]
        assert {tuple(r["boxes"][0]) for r in mine} == {tuple(expected_box(box))}
        area = json.loads(mine[0]["metadata"])["measurements"]["area_px"]
        assert area > 3 * int((ring(box) > 0).sum())  # the inside, not the 1-pixel ring
    split = {r["source_id"]: r["split"] for r in rows}
    assert split["training_set/010_HC.png"] == split["training_set/010_2HC.png"]  # one examination, one split
    assert {r["patient_id"] for r in rows} == {"000", "010"}


@pytest.mark.parametrize(("breaker", "reason", "message"), [
    (lambda f: Image.fromarray(ring(ELLIPSES["010_HC"], closed=False)).save(f), "empty mask",
     "the outline drawn in this file is not closed"),
    (lambda f: f.unlink(), "missing file", "010_HC_Annotation.png: mask file is missing"),
    (lambda f: Image.fromarray(np.zeros((20, 20), np.uint8)).save(f), "shape mismatch", "differs from its image"),
    (lambda f: f.write_bytes(f.read_bytes()[:40]), "corrupt file", "010_HC_Annotation.png"),
])
def test_hc18_bad_inputs(breaker, reason: str, message: str, tmp_path: Path,  # noqa: ANN001
                         capsys: pytest.CaptureFixture[str]) -> None:
    root = write_hc18(tmp_path / "hc18")
    breaker(root / "training_set" / "010_HC_Annotation.png")
    assert build(root, tmp_path / "strict") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert build(root, tmp_path / "lenient", "--on-bad", "skip") == 0
    report = json.loads((tmp_path / "lenient" / "build_report.json").read_text())
    assert report["skip_counts"] == {f"hc18: {reason}": 1}
    assert report["by_source"]["hc18"] > 0
