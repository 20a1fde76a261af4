"""The volume sources added for issue 26, each driven through the CLI on a miniature in its published layout:
``sources verify`` -> ``build vgmed`` -> ``validate``; and the bad inputs of the readers they brought."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.builders import miniatures_volumes as mv
from tests.builders.miniatures import save_nifti
from vgmed_data.builders.sources import get_entry
from vgmed_data.cli import main
from vgmed_data.folder import iter_rows


def build(key: str, root: Path, out: Path, *extra: str) -> int:
    return main(["build", "vgmed", "--source", f"{key}={root}", "--out", str(out), "--splits", "test=1",
                 "--quiet", *extra])


@pytest.mark.parametrize("key", sorted(mv.WRITERS))
def test_miniature_verifies_builds_and_validates(key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, targets = mv.WRITERS[key](tmp_path / "src")
    assert main(["sources", "verify", key, str(root)]) == 0
    assert f"{key}: layout ok" in capsys.readouterr().out
    assert build(key, root, tmp_path / "out") == 0
    assert main(["validate", str(tmp_path / "out")]) == 0
    rows = list(iter_rows(tmp_path / "out", config="vgmed"))
    assert {r["target"] for r in rows} == targets
    entry = get_entry(key)
    assert {r["modality"] for r in rows} == {entry.modality}
    assert {r["redistributable"] for r in rows} == {entry.redistributable}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())["sources"][0]
    assert (manifest["license_status"], manifest["split_unit"]) == (entry.license_status, entry.split_unit)


def test_verify_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    for key, expected in (("amos22-ct", "dataset.json, imagesTr, labelsTr"),
                          ("acdc", "*/patient*/patient[0-9][0-9][0-9]_frame[0-9][0-9].nii.gz"),
                          ("autopet-fdg", "PETCT_*/*/SUV.nii.gz, PETCT_*/*/SEG.nii.gz")):
        assert main(["sources", "verify", key, str(tmp_path / "empty")]) == 1
        assert f"missing {expected}" in capsys.readouterr().out


def test_amos_ct_and_mr_entries_split_one_folder_by_case_number(tmp_path: Path) -> None:
    root, _ = mv.amos_ct(tmp_path / "src")
    for key, cases in (("amos22-ct", {"amos_0001", "amos_0008"}), ("amos22-mr", {"amos_0507"})):
        assert build(key, root, tmp_path / key) == 0
        rows = list(iter_rows(tmp_path / key, config="vgmed"))
        assert {r["source_id"] for r in rows} == cases  # the validation list is read too; the test list is not


def test_label_only_cases_are_counted_not_fatal(tmp_path: Path) -> None:
    root, _ = mv.abdomenatlas(tmp_path / "src")
    assert build("abdomenatlas-1.1-mini", root, tmp_path / "out") == 0  # default policy: error
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["skip_counts"] == {"abdomenatlas-1.1-mini: no image in the release": 1}
    assert report["skips"][0]["record"] == "BDMAP_00005196"


def test_nested_case_folders_split_by_patient(tmp_path: Path) -> None:
    root, _ = mv.autopet(tmp_path / "src")
    assert build("autopet-fdg", root, tmp_path / "out", "--splits", "train=0.5,test=0.5") == 0
    rows = list(iter_rows(tmp_path / "out", config="vgmed"))
    assert {r["source_id"] for r in rows} == {"PETCT_0011f3deaf/study-1", "PETCT_0011f3deaf/study-2"}
    assert {r["patient_id"] for r in rows} == {"PETCT_0011f3deaf"} and len({r["split"] for r in rows}) == 1


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:60])


@pytest.mark.parametrize(("breaker", "reason", "message"), [
    (lambda p: p.unlink(), "missing file", "has no label file patient001_frame12_gt.nii.gz beside it"),
    (_truncate, "corrupt file", "patient001_frame12_gt.nii.gz"),
    (lambda p: save_nifti(p, np.ones((8, 8, 3), np.uint8), mv.RAS), "shape mismatch", "differs from its image"),
    (lambda p: save_nifti(p, mv.organs((4, (2, 2, 1), (8, 8, 4))).astype(np.uint8), mv.RAS), "label not in map",
     "label value(s) [4] are not in the acdc label map"),
])
def test_paired_file_reader_bad_inputs(breaker, reason: str, message: str, tmp_path: Path,  # noqa: ANN001
                                       capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = mv.acdc(tmp_path / "src")
    breaker(root / "training" / "patient001" / "patient001_frame12_gt.nii.gz")
    assert build("acdc", root, tmp_path / "strict") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "strict").exists()
    assert build("acdc", root, tmp_path / "lenient", "--on-bad", "skip") == 0
    report = json.loads((tmp_path / "lenient" / "build_report.json").read_text())
    assert report["skip_counts"] == {f"acdc: {reason}": 1}
    assert report["by_source"]["acdc"] > 0  # the ED frame still builds
