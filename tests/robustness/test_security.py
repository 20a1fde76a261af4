"""The two security defects of issue 15, each run through the real command line (a ``vgmed`` process):

* ``import vgmed-jsonl`` embedded files outside ``--images`` named by ``../`` or an absolute path;
* ``export vgmed-jsonl --images-dir`` wrote outside its folder for a crafted id (``images/<id>.png``).

Both failed before the fix: the import exited 0 with the outside file's pixels in the dataset, the export wrote
``escape.png`` two folders up. And one of issue 24: the dataset card was written through a link planted as its
temporary name (``README.md.tmp``).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from vgmed_data.demo import demo_samples
from vgmed_data.writer import write_config


def vgmed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vgmed_data.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_import_refuses_images_outside_the_images_folder(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.full((20, 20), 9, np.uint8)).save(images / "inside.png")
    secret = tmp_path / "secret.png"  # outside --images: must never end up in the dataset
    Image.fromarray(np.full((20, 20), 200, np.uint8)).save(secret)
    for name in ("../secret.png", str(secret), "sub/../../secret.png"):
        lines = tmp_path / "in.jsonl"
        lines.write_text(json.dumps({"image": name, "question": "Where?", "bbox": [[1, 1, 5, 5]]}) + "\n")
        result = vgmed("import", "vgmed-jsonl", str(lines), "--images", str(images), "--out", str(tmp_path / "ds"))
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.count("\n") == 1 and name in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "ds").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "in.jsonl", "secret.png"]


def test_export_keeps_crafted_ids_inside_images_dir(tmp_path: Path) -> None:
    crafted = ["../../escape", "/abs/escape", "a/../../../escape2", "..", "CON"]
    samples = [dataclasses.replace(sample, id=new_id) for sample, new_id in zip(demo_samples(), crafted)]
    write_config(tmp_path / "ds", samples, config="vgmed")
    work = tmp_path / "work"
    exported = work / "exp"
    result = vgmed("export", "vgmed-jsonl", str(tmp_path / "ds"), "--out", str(work / "out.jsonl"),
                   "--images-dir", str(exported))
    assert result.returncode == 0, result.stderr
    written = sorted(p for p in work.rglob("*") if p.is_file())
    assert all(p == work / "out.jsonl" or p.is_relative_to(exported) for p in written), written
    assert not list(tmp_path.glob("escape*")) and not list(Path("/abs").glob("escape*"))
    items = [json.loads(line) for line in (work / "out.jsonl").read_text().splitlines()]
    assert len(items) == len(crafted) == len({item["image"] for item in items})
    for item in items:
        path = (exported / item["image"]).resolve()
        assert path.is_relative_to(exported.resolve()) and path.is_file()
        with Image.open(path) as image:
            assert image.size[0] > 0


def test_card_is_never_written_through_a_planted_temporary_link(tmp_path: Path) -> None:
    """``write_card`` used to write ``README.md.tmp`` first: a link planted under that name wrote the card to its
    target. The card is now staged under a fresh name, so the link's target stays as it was."""
    folder = tmp_path / "ds"
    write_config(folder, demo_samples(), config="vgmed")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    (folder / "README.md.tmp").symlink_to(outside)
    (folder / ".image_hashes.json.tmp").symlink_to(outside)  # the name the hashes were once staged under
    result = vgmed("import", "vgmed-jsonl", str(_one_line_release(tmp_path)), "--images", str(tmp_path / "images"),
                   "--out", str(folder))
    assert result.returncode == 0, result.stderr
    assert outside.read_text() == "keep me\n"
    assert (folder / "README.md").read_text().startswith("---\nconfigs:")
    assert sorted(p.name for p in folder.iterdir()) == [".image_hashes.json.tmp", "README.md", "README.md.tmp", "data",
                                                        "image_hashes.json", "import_report_vgmed.json",
                                                        "manifest.json"]


def _one_line_release(tmp_path: Path) -> Path:
    (tmp_path / "images").mkdir()
    Image.fromarray(np.full((20, 20), 9, np.uint8)).save(tmp_path / "images" / "a.png")
    lines = tmp_path / "in.jsonl"
    lines.write_text(json.dumps({"image": "a.png", "question": "Where?", "bbox": [[1, 1, 5, 5]]}) + "\n")
    return lines
