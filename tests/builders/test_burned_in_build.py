"""The build withholds DICOM slices that may carry burned-in text and lists them for review: a CT series whose
annotated slice has a name drawn into its pixel data (PIL's default font), built with each --burned-in-check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.builders import miniatures as mini
from vgmed_data.builders.vgmed import BuildOptions, build_vgmed
from vgmed_data.errors import InvalidInputError
from vgmed_data.imaging.deid import replace_uid

KEY = "burned-in-test-key"
SIZE = 96


def _body_hu(size: int, seed: int) -> np.ndarray:
    """Air (-1000 HU) around a soft-tissue ellipse (40 +- 15 HU)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    hu = np.full((size, size), -1000.0)
    body = ((rows - size / 2) / (0.36 * size)) ** 2 + ((cols - size / 2) / (0.42 * size)) ** 2 <= 1
    hu[body] = 40 + rng.normal(0, 15, int(body.sum()))
    return hu


def write_series(root: Path, *, text: str | None, modality: str = "CT") -> tuple[Path, str]:
    """A 5-slice series with a nodule SEG on slice 2 (z order); ``text`` burned into slice 2's top-left corner."""
    collection = root / "lidc_idri"
    series = mini.write_ct_series(collection / "P1" / "study", patient_id="P1", z=mini.LIDC_Z, size=SIZE, seed=5)
    for index, sop in enumerate(series.sop_uids):
        path = series.folder / mini._file_name(sop)
        ds = pydicom.dcmread(path)
        hu = _body_hu(SIZE, index)
        if text is not None and index == 2:
            canvas = Image.new("L", (SIZE, SIZE))
            ImageDraw.Draw(canvas).text((3, 3), text, fill=255, font=ImageFont.load_default())
            hu[np.asarray(canvas) >= 128] = 2000  # overlay text is drawn at the top of the stored range
        ds.Modality = modality
        ds.PixelData = (hu + 1024).astype(np.int16).tobytes()
        ds.save_as(path)
    mini.write_seg(series, patient_id="P1", segments={1: ("Nodule 1 - Annotation 1", "Nodule")}, size=SIZE,
                   frames=[(1, 2, mini.lidc_nodule((48, 48), 6, size=SIZE))])
    return collection, series.series_uid


def _build(source: Path, out: Path, check: str) -> dict:
    options = BuildOptions(min_pixels=1, min_size_mm=None, burned_in_check=check)
    return build_vgmed([("lidc-idri", source)], out=out, options=options, deid_key=KEY)


def test_text_in_the_pixels_withholds_the_slice_for_review(tmp_path: Path) -> None:
    source, series_uid = write_series(tmp_path / "src", text="DOE JOHN 0417")
    report = _build(source, tmp_path / "pixels", "pixels")
    assert report["samples"] == 0 and len(report["review"]) == 1
    item = report["review"][0]
    assert (item["source"], item["record"], item["slice_index"]) == ("lidc-idri", replace_uid(series_uid, key=KEY), 2)
    assert item["reasons"][0].startswith("text-like marks in the image border")
    assert _build(source, tmp_path / "header", "header")["review"] == []  # the header alone says nothing


def test_a_clean_slice_is_built_with_the_pixel_check_on(tmp_path: Path) -> None:
    source, _ = write_series(tmp_path / "src", text=None)
    report = _build(source, tmp_path / "pixels", "pixels")
    assert report["review"] == [] and report["samples"] > 0


def test_a_modality_that_usually_carries_text_is_withheld_unless_the_check_is_off(tmp_path: Path) -> None:
    source, _ = write_series(tmp_path / "src", text=None, modality="US")
    assert _build(source, tmp_path / "header", "header")["review"][0]["reasons"] == [
        "modality US usually carries burned-in text"]
    assert _build(source, tmp_path / "off", "off")["samples"] > 0


def test_an_unknown_check_is_a_typed_error() -> None:
    with pytest.raises(InvalidInputError, match="burned-in check"):
        BuildOptions(burned_in_check="ocr")
