"""The builder's containment rule: a file of a record that resolves outside its ``--source`` folder is never read;
under ``--on-bad skip`` it is a counted skip and the rest of the source is built."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.builders import miniatures as mini
from vgmed_data.builders.vgmed import BuildOptions, build_vgmed
from vgmed_data.safepaths import PathEscapeError


def _kvasir_with_a_link_out(tmp_path: Path) -> tuple[Path, str]:
    mask = np.zeros((48, 64), np.uint8)
    mask[8:32, 16:40] = 1
    root = mini.write_kvasir(tmp_path / "src", {"kept": mask, "linked": mask})
    outside = tmp_path / "private_other_study"
    outside.mkdir()
    shutil.move(root / "images" / "linked.jpg", outside / "linked.jpg")
    (root / "images" / "linked.jpg").symlink_to(outside / "linked.jpg")  # found by the reader's glob
    return root, "images/linked.jpg"


def test_a_file_linked_out_of_the_source_is_refused(tmp_path: Path) -> None:
    root, linked = _kvasir_with_a_link_out(tmp_path)
    with pytest.raises(PathEscapeError, match=f"file '{linked}' leaves {root}"):
        build_vgmed([("kvasir-seg", root)], out=tmp_path / "out", options=BuildOptions())
    assert not (tmp_path / "out").exists()


def test_under_skip_it_is_counted_and_the_rest_is_built(tmp_path: Path) -> None:
    root, linked = _kvasir_with_a_link_out(tmp_path)
    report = build_vgmed([("kvasir-seg", root)], out=tmp_path / "out", options=BuildOptions(on_bad="skip"))
    assert report["records"] == {"kvasir-seg": 1}
    assert [(s["record"], s["reason"]) for s in report["skips"]] == [(linked, "path outside the source folder")]
