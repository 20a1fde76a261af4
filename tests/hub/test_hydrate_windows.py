"""``vgmed hydrate`` re-renders every window kind the builders write, byte for byte (issue 14).

Rows record the window of their image: presets (``lung``), a DICOM file's own window (``file``) and volume
percentiles (``p0.5-p99.5``, MR volumes without a preset), the latter two once refused as ``unknown window``.
Each test builds with the real builders (the demo on files that ship with pydicom/nibabel; ``build vgmed`` on
miniature MSD brain tumour and LIDC-IDRI sources), strips the images as an annotations-only release does, hydrates
from the same files and compares the decoded pixels and the PNG bytes with the built ones.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import nibabel
import numpy as np
import pydicom.data
import pytest
from PIL import Image

from tests.builders import miniatures as mini
from vgmed_data.builders.vgmed import BuildOptions, build_vgmed
from vgmed_data.demo import demo_samples
from vgmed_data.errors import InvalidInputError, VgmedError
from vgmed_data.folder import iter_rows
from vgmed_data.writer import write_config
from vgmed_data.imaging.raster import to_display
from vgmed_data.imaging.windowing import derived_window
from vgmed_data.pointers import hydrate, strip_images


def pixels_by_id(folder: Path) -> dict[str, tuple[np.ndarray, dict]]:
    out = {}
    for row in iter_rows(folder, config="vgmed"):
        with Image.open(io.BytesIO(row["image"]["bytes"])) as image:
            out[row["id"]] = (np.asarray(image).copy(), row)
    return out


def strip_and_hydrate(built: Path, stripped: Path, sources: dict[str, Path]) -> dict[str, tuple[np.ndarray, dict]]:
    strip_images(built, stripped)
    assert all(row["image"] is None for row in iter_rows(stripped, config="vgmed"))
    report = hydrate(stripped, sources=sources)
    assert not report.left_out
    return pixels_by_id(stripped)


def test_demo_rows_with_file_and_percentile_windows_hydrate_to_identical_pixels(tmp_path: Path) -> None:
    built = tmp_path / "built"
    write_config(built, demo_samples(), config="vgmed")
    sources = {"pydicom-testdata": Path(pydicom.data.get_testdata_file("MR_small.dcm")).parent,
               "nibabel-testdata": Path(os.path.dirname(nibabel.__file__)) / "tests" / "data"}
    expected = pixels_by_id(built)
    windows = {row["window"] for _, row in expected.values()}
    assert {"file", "p0.5-p99.5", "soft_tissue", "bone"} <= windows  # MR DICOM, MR NIfTI, CT presets
    hydrated = strip_and_hydrate(built, tmp_path / "release", sources)
    assert hydrated.keys() == expected.keys()
    for sample_id, (pixels, row) in expected.items():
        assert np.array_equal(hydrated[sample_id][0], pixels), sample_id
        assert hydrated[sample_id][1]["image"]["bytes"] == row["image"]["bytes"], sample_id  # the same PNG bytes


def test_built_mr_channels_and_ct_dicom_rows_hydrate_to_identical_pixels(tmp_path: Path) -> None:
    shape = (32, 28, 10)
    tumour = mini.cuboid(shape, (6, 6, 2), (20, 20, 8))
    tumour[10:16, 10:16, 3:7] = 2
    roots = {
        "msd-brain-tumour": mini.write_msd_task(
            tmp_path / "msd", task="Task01_BrainTumour", cases={"BRATS_001": tumour, "BRATS_002": tumour.copy()},
            labels={"1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"},
            modality={"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"}),
        "lidc-idri": mini.write_lidc_idc(tmp_path / "idc"),
    }
    built = tmp_path / "built"
    build_vgmed(list(roots.items()), out=built, options=BuildOptions(seed=0), deid_key="hydrate-test-key")
    expected = pixels_by_id(built)
    rows = [row for _, row in expected.values()]
    assert {row["modality"] for row in rows} == {"MR", "CT"}
    assert {row["window"] for row in rows} == {"p0.5-p99.5", "lung"}
    assert any(json.loads(row["metadata"]).get("channel", 0) > 0 for row in rows)  # not only the first sequence
    hydrated = strip_and_hydrate(built, tmp_path / "release", roots)
    for sample_id, (pixels, row) in expected.items():
        assert np.array_equal(hydrated[sample_id][0], pixels), sample_id
        assert hydrated[sample_id][1]["image"]["bytes"] == row["image"]["bytes"], sample_id  # the same PNG bytes


def test_a_window_that_cannot_be_rendered_names_the_record(tmp_path: Path) -> None:
    built = tmp_path / "built"
    samples = [sample for sample in demo_samples() if sample.window == "file"]
    write_config(built, samples, config="vgmed")
    strip_images(built, tmp_path / "release")
    # a corrupted release: the window label says the file's own window, but the copy given has none
    source = tmp_path / "copy"
    source.mkdir()
    from pydicom import dcmread

    ds = dcmread(pydicom.data.get_testdata_file("MR_small.dcm"))
    del ds.WindowCenter, ds.WindowWidth
    ds.save_as(source / "MR_small.dcm")
    with pytest.raises(VgmedError, match=rf"\[record {samples[0].id}\].*no window of its own"):
        hydrate(tmp_path / "release", sources={"pydicom-testdata": source})


def test_derived_window_labels() -> None:
    assert derived_window("file") == "file" and derived_window("VOI_LUT") == "voi_lut"
    assert derived_window("p0.5-p99.5") == (0.5, 99.5) and derived_window("p0-p100") == (0.0, 100.0)
    assert derived_window("lung") is None and derived_window("40,400") is None and derived_window(None) is None
    assert derived_window("p99.5-p0.5") is None
    # min-max on a 16-bit raster: the full range maps to 0..255 (computed by hand: (x - lo) / (hi - lo) * 255)
    ramp = np.array([[1000, 1250, 1500, 2000]], np.uint16)
    assert np.asarray(to_display(ramp, window="min-max")).tolist() == [[0, 64, 128, 255]]
    with pytest.raises(InvalidInputError, match="only for DICOM"):
        to_display(ramp, window="file")


def test_a_source_key_the_folder_does_not_hold_is_refused_naming_its_keys(tmp_path: Path) -> None:
    """Issue 32: `vgmed hydrate --source KEY=PATH` with a mistyped key exited 0 and restored nothing."""
    from vgmed_data.cli import main

    built = tmp_path / "built"
    write_config(built, demo_samples(), config="vgmed")
    strip_images(built, tmp_path / "release")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "release").rglob("*"))
    nibabel_root = Path(os.path.dirname(nibabel.__file__)) / "tests" / "data"
    with pytest.raises(InvalidInputError) as refused:
        hydrate(tmp_path / "release", sources={"nibabel-testdta": nibabel_root})
    assert "nibabel-testdta" in str(refused.value) and "nibabel-testdata, pydicom-testdata" in str(refused.value)
    assert main(["hydrate", str(tmp_path / "release"), "--source", f"pydicom-testdat={nibabel_root}"]) == 2
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "release").rglob("*")) == before
