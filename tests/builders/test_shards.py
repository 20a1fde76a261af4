"""A sharded build of sources that are not IDC downloads (every part lists the whole source and keeps its own
patients) merges into the single-machine build's bytes, quotas and record limits included."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from vgmed_data.cli import main
from vgmed_data.facts import verify

FLAGS = ["--min-pixels", "1", "--min-size-mm", "0", "--on-bad", "skip", "--max-per-target", "3",
         "--max-records-per-source", "3", "--num-proc", "1"]


def test_parts_of_nifti_and_2d_sources_merge_into_the_single_build(sources: dict[str, Path], tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    given = [arg for key in ("msd-spleen", "kits23", "kvasir-seg", "busi")
             for arg in ("--source", f"{key}={sources[key]}")]
    assert main(["build", "vgmed", *given, *FLAGS, "--out", str(tmp_path / "single")]) == 0
    for index in range(3):
        assert main(["build", "vgmed", *given, *FLAGS, "--shard", f"{index}/3",
                     "--out", str(tmp_path / f"p{index}")]) == 0
    parts = [str(tmp_path / f"p{i}") for i in range(3)]
    assert main(["build", "merge", *parts, "--out", str(tmp_path / "merged")]) == 0
    single, merged = tmp_path / "single", tmp_path / "merged"
    files = sorted(p.relative_to(single) for p in single.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(merged) for p in merged.rglob("*") if p.is_file())
    assert [str(f) for f in files if not filecmp.cmp(single / f, merged / f, shallow=False)] == []
    assert verify(merged)[0] is not None  # the folder facts recorded while writing hold for the merged files
    assert "over quota" in (single / "build_report.json").read_text()  # the quota and the cut were exercised
    capsys.readouterr()
