"""``vgmed validate`` decodes every image by default; ``--quick`` reads headers only (size and format), so it
passes an image whose header is right and whose pixel data is not."""

from __future__ import annotations

from pathlib import Path

from tests.robustness.corpus import cell, corrupt_png
from vgmed_data.demo import demo_samples
from vgmed_data.writer import write_config
from vgmed_data.validate import validate_folder


def test_full_decoding_finds_what_the_header_hides(tmp_path: Path) -> None:
    write_config(tmp_path / "folder", demo_samples(), config="vgmed")
    assert validate_folder(tmp_path / "folder") == []
    cell("image", {"bytes": corrupt_png(), "path": None})(tmp_path)  # the CT slice's header stays 128 x 128
    problems = validate_folder(tmp_path / "folder")
    assert len(problems) == 1 and "cannot be decoded" in problems[0].message
    assert problems[0].file == "data/vgmed/test-00000-of-00001.parquet"
    assert validate_folder(tmp_path / "folder", quick=True) == []
