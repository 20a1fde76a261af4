"""Window views without a server: ``vgmed annotate dry-run --source`` writes what ``push --source`` sends.

Each view's pixels are compared with an independent render of the DICOM source's values (the linear window or the
percentile range written out in tests/annotation/data.py), never with the stored 8-bit image.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.annotation.data import (CT_FILE, HEIGHT, WIDTH, ct_values, linear_window, make_view_dataset, mr_values,
                                   robust_range)
from vgmed_data.annotation import config
from vgmed_data.cli import main
from vgmed_data.writer import write_config
from vgmed_data.imaging.windowing import PRESETS
from vgmed_data.pointers import strip_images

CT_VIEWS = ("soft_tissue", "lung", "bone", "brain", "liver")


def dry_run(dataset: Path, out: Path, *sources: str) -> tuple[str, list[dict[str, Any]]]:
    assert main(["annotate", "dry-run", str(dataset), "--out", str(out), *sources]) == 0
    return (out / "label_config.xml").read_text(), json.loads((out / "tasks.json").read_text())


def pixels(out: Path, url: str) -> np.ndarray:
    path = out / "files" / url.split("?d=", 1)[1]
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("L")).astype(int)


def test_dry_run_writes_a_view_per_preset_from_the_source_pixels(tmp_path: Path) -> None:
    dataset, samples = make_view_dataset(tmp_path / "ds", tmp_path / "src")
    xml, tasks = dry_run(dataset, tmp_path / "out", "--source", f"tiny={tmp_path / 'src'}")
    assert f'valueList="${config.IMAGES}"' in xml
    ct, mr = sorted(tasks, key=lambda t: t["data"]["modality"])
    # CT: the stored image, then one page per preset, each the source's Hounsfield units through that window.
    assert len(ct["data"][config.IMAGES]) == 1 + len(CT_VIEWS)
    assert ct["data"][config.IMAGES][0] == ct["data"][config.IMAGE]
    assert np.array_equal(pixels(tmp_path / "out", ct["data"][config.IMAGE]), np.asarray(samples[0].image))
    for url, name in zip(ct["data"][config.IMAGES][1:], CT_VIEWS):
        preset = PRESETS[name]
        assert np.array_equal(pixels(tmp_path / "out", url), linear_window(ct_values(), preset.center, preset.width))
    assert ct["data"][config.VIEWS].splitlines()[2] == "3. lung (C -600, W 1500)"
    # MR: the stored window and the robust full range (the bright outliers clipped).
    assert len(mr["data"][config.IMAGES]) == 2
    assert np.array_equal(pixels(tmp_path / "out", mr["data"][config.IMAGES][1]), robust_range(mr_values()))
    # The builder's regions are drawn on the first page (the stored image).
    for task in (ct, mr):
        (prediction,) = task["predictions"]
        assert {r["item_index"] for r in prediction["result"]} == {0}
        assert {(r["original_width"], r["original_height"]) for r in prediction["result"]} == {(WIDTH, HEIGHT)}


def test_annotations_only_rows_get_their_image_and_views_from_the_source(tmp_path: Path) -> None:
    dataset, samples = make_view_dataset(tmp_path / "ds", tmp_path / "src")
    stripped = strip_images(dataset, tmp_path / "stripped")
    assert main(["annotate", "dry-run", str(stripped), "--out", str(tmp_path / "none")]) == 2  # no image, no source
    _, tasks = dry_run(stripped, tmp_path / "out", "--source", f"tiny={tmp_path / 'src'}")
    by_modality = {t["data"]["modality"]: t for t in tasks}
    for sample in samples:
        task = by_modality[sample.provenance.modality]
        assert np.array_equal(pixels(tmp_path / "out", task["data"][config.IMAGE]), np.asarray(sample.image))
    assert len(by_modality["CT"]["data"][config.IMAGES]) == 1 + len(CT_VIEWS)


def test_a_raster_source_and_no_source_give_one_view(tmp_path: Path) -> None:
    dataset, samples = make_view_dataset(tmp_path / "ds", tmp_path / "src")
    xml, tasks = dry_run(dataset, tmp_path / "plain")
    assert f'value="${config.IMAGE}"' in xml and "valueList" not in xml
    assert all(config.IMAGES not in t["data"] for t in tasks)
    # A CT row whose source file is the 8-bit raster it was stored as: nothing to re-window.
    Image.fromarray(np.asarray(samples[0].image)).save(tmp_path / "src" / "ct.png")
    raster = samples[0].__class__(**{**samples[0].__dict__})
    raster.provenance.metadata["source_path"] = "ct.png"
    write_config(tmp_path / "raster", [raster], config="vgmed")
    _, (task,) = dry_run(tmp_path / "raster", tmp_path / "out", "--source", f"tiny={tmp_path / 'src'}")
    assert task["data"][config.IMAGES] == [task["data"][config.IMAGE]]


@pytest.mark.parametrize("source, message", [("other={root}", "no row of this folder comes from source other"),
                                             ("tiny={root}/missing", "is not a folder"),
                                             ("tiny", "--source expects KEY=PATH")])
def test_bad_sources_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str,
                                         message: str) -> None:
    dataset, _ = make_view_dataset(tmp_path / "ds", tmp_path / "src")
    code = main(["annotate", "dry-run", str(dataset), "--out", str(tmp_path / "out"), "--source",
                 source.format(root=tmp_path / "src")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and message in error and len(error.splitlines()) == 1, error
    assert not (tmp_path / "out" / "tasks.json").exists()


def test_a_moved_source_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset, _ = make_view_dataset(tmp_path / "ds", tmp_path / "src")
    (tmp_path / "src" / CT_FILE).unlink()
    code = main(["annotate", "dry-run", str(dataset), "--out", str(tmp_path / "out"), "--source",
                 f"tiny={tmp_path / 'src'}"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and CT_FILE in error and len(error.splitlines()) == 1, error
