"""``vgmed eval run`` start-up: bad inputs end in one line naming the input and the fix, before anything is
written; a folder holding another run is refused, and ``--overwrite`` starts over.

Real CLI (in process), real tiny checkpoint, real dataset folder; the Hub cases go to the Hub-compatible test
server (an unknown dataset) and to a closed loopback port (a Hub that cannot be reached).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.eval.data import write_tiny_dataset
from vgmed_data.cli import main


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Any) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("startup")
    return tiny_checkpoint("qwen2_vl"), write_tiny_dataset(root / "ds", 2)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["eval", "run", "--no-progress", "--limit", "1", "--max-new-tokens", "2", "--overlays", "0", *args])
    err = capsys.readouterr().err.strip()
    return code, err


def _one_line_error(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vgmed: error: "), err
    return lines[0]


def test_mistyped_dataset_path_writes_nothing_and_the_corrected_command_runs(
        inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, dataset = inputs
    out = tmp_path / "run"
    typo = tmp_path / "dataset-typo"
    code, err = _run(capsys, "--model", str(model), "--dataset", str(typo), "--out", str(out))
    line = _one_line_error(err)
    assert code == 2 and str(typo) in line and "does not exist" in line and "org/name" in line
    assert not out.exists()  # no run.json that would refuse the corrected command
    code, err = _run(capsys, "--model", str(model), "--dataset", str(dataset), "--out", str(out))
    assert code == 0, err
    assert json.loads((out / "run.json").read_text())["dataset"] == str(dataset)


def test_mistyped_model_path_is_named(inputs: tuple[Path, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    _, dataset = inputs
    typo = tmp_path / "checkpoint-typo"
    code, err = _run(capsys, "--model", str(typo), "--dataset", str(dataset), "--out", str(tmp_path / "run"))
    line = _one_line_error(err)
    assert code == 2 and str(typo) in line and "does not exist" in line
    assert not (tmp_path / "run").exists()


DEVICES = ["gpu", "cuda:99"] + ([] if torch.cuda.is_available() else ["cuda"])


@pytest.mark.parametrize("device", DEVICES)
def test_unusable_device_is_one_line(device: str, inputs: tuple[Path, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    model, dataset = inputs
    code, err = _run(capsys, "--model", str(model), "--dataset", str(dataset), "--out", str(tmp_path / "run"),
                     "--device", device)
    line = _one_line_error(err)
    assert code == 2 and device in line and ("Fix: use --device cpu" in line or "Fix: use cpu" in line)
    assert not (tmp_path / "run").exists()


def test_unreachable_hub_model_is_one_line(inputs: tuple[Path, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    from huggingface_hub import constants

    _, dataset = inputs
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # the discard port: connection refused
    code, err = _run(capsys, "--model", "nobody/unknown-model", "--dataset", str(dataset), "--out",
                     str(tmp_path / "run"))
    line = _one_line_error(err)
    assert code == 2 and "nobody/unknown-model" in line and "could not be reached" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.hub
def test_unknown_hub_dataset_is_one_line(inputs: tuple[Path, Path], hub_server: Any, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    model, _ = inputs
    code, err = _run(capsys, "--model", str(model), "--dataset", "nobody/unknown-dataset", "--out",
                     str(tmp_path / "run"))
    line = _one_line_error(err)
    assert code == 2 and "no dataset nobody/unknown-dataset on http://127.0.0.1" in line
    assert not (tmp_path / "run").exists()


def test_other_settings_refused_then_overwrite_starts_over(inputs: tuple[Path, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    model, dataset = inputs
    out = tmp_path / "run"
    common = ("--model", str(model), "--dataset", str(dataset), "--out", str(out))
    assert _run(capsys, *common)[0] == 0
    first = json.loads((out / "run.json").read_text())["fingerprint"]
    (out / "notes.txt").write_text("mine")  # not a run file: --overwrite leaves it
    code, err = _run(capsys, *common, "--query", "question_mean")
    line = _one_line_error(err)
    assert code == 2 and "other settings" in line and "--overwrite" in line
    code, err = _run(capsys, *common, "--query", "question_mean", "--overwrite")
    assert code == 0, err
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["fingerprint"] != first and manifest["query"] == "question_mean"
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 1 and (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("task", ["grounding", "boxes"])
def test_a_split_the_dataset_lacks_is_refused_before_anything_is_written(
        inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], task: str) -> None:
    """Issue 32: `--split train` on a test-only folder exited 0 with "0 samples" and left a run folder that refused
    the corrected command (the boxes task raised but left run.json)."""
    model, dataset = inputs
    out = tmp_path / "run"
    code, err = _run(capsys, "--model", str(model), "--dataset", str(dataset), "--out", str(out), "--split", "train",
                     "--task", task)
    line = _one_line_error(err)
    assert code == 2 and "no 'train' split (splits: test)" in line and "--split with one of: test" in line
    assert not out.exists()


def test_eval_select_defaults_to_the_validation_split_and_names_the_splits_the_folder_has(
        inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, dataset = inputs
    code = main(["eval", "select", "--model", str(model), "--dataset", str(dataset), "--out",
                 str(tmp_path / "heads.json"), "--no-progress"])
    line = _one_line_error(capsys.readouterr().err.strip())
    assert code == 2 and "no 'validation' split (splits: test)" in line
    assert not (tmp_path / "heads-run").exists() and not (tmp_path / "heads.json").exists()
