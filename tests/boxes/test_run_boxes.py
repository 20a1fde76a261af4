"""``vgmed eval run --task boxes`` on tiny random models: raw outputs recorded, parse outcomes counted, and the
run's scores equal to what ``vgmed eval score`` computes from the predictions it wrote."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from vgmed_data.builders.sequences.cli import register as register_build
from vgmed_data.eval.boxes.cli import register_score
from vgmed_data.eval.boxes.formats import get_format
from vgmed_data.eval.boxes.generate import run_boxes
from vgmed_data.eval.config import EvalConfig
from vgmed_data.eval.tiny import build_tiny_checkpoint
from tests.eval.data import write_tiny_dataset
from tests.sequences.miniature import write_decathlon
from vgmed_data.errors import InvalidInputError


def _cli(register_fn, argv: list[str]) -> int:  # noqa: ANN001 - an argparse register function
    parser = argparse.ArgumentParser()
    register_fn(parser)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def sequences(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("seq")
    task01 = write_decathlon(root / "Task01_BrainTumour", cases=4)
    assert _cli(register_build, ["--source", f"msd-brain-tumour={task01}", "--out", str(root / "out"), "--seed", "1",
                                 "--fit-fraction", "0.5"]) == 0
    return root / "out"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("box-models")
    return {family: build_tiny_checkpoint(family, root / family) for family in ("qwen2_vl", "llava", "gemma3")}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _check_run(out: Path, summary: dict, *, dataset: Path, config: str, fmt: str, tmp_path: Path) -> None:
    predictions = _lines(out / "predictions.jsonl")
    samples = _lines(out / "samples.jsonl")
    assert [p["id"] for p in predictions] == [s["id"] for s in samples]
    for prediction, sample in zip(predictions, samples):
        assert sample["output"] == prediction["output"] and isinstance(prediction["output"], str)
        assert sample["parse"] == get_format(fmt).parse(prediction["output"]).mode  # strict / lenient / unparsed
    parse_counts = summary["boxes"]["summary"]["model"]["all"]["parse"]
    for mode in ("strict", "lenient", "unparsed"):
        assert parse_counts.get(mode, 0) == sum(s["parse"] == mode for s in samples)
    # The same predictions scored by `vgmed eval score`: identical numbers, baselines included.
    assert _cli(register_score, ["--dataset", str(dataset), "--predictions", str(out / "predictions.jsonl"),
                                 "--format", fmt, "--config", config, "--out", str(tmp_path / "scored")]) == 0
    scored = json.loads((tmp_path / "scored" / "summary.json").read_text())
    assert summary["boxes"]["summary"] == scored["summary"]
    assert set(scored["summary"]) >= {"model", "full_image"}
    assert "acc@0.5" in scored["summary"]["model"]["all"] and "miou" in scored["summary"]["full_image"]["all"]
    assert (out / "summary.md").read_text().count("full_image") >= 2


def test_sequences_on_qwen2_vl(sequences: Path, models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary = run_boxes(EvalConfig(model=str(models["qwen2_vl"]), dataset=str(sequences), config="sequences",
                                  out=out, task="boxes", max_new_tokens=6, limit=4, progress=False))
    assert summary is not None and summary["format"] == "qwen2_vl"
    predictions = _lines(out / "predictions.jsonl")
    assert len(predictions) == 4 and all(len(p["input_transforms"]) >= 2 for p in predictions[:1])
    assert "mean_box" in summary["boxes"]["summary"] and summary["boxes"]["missing_predictions"] >= 0
    assert summary["boxes"]["summary"]["model"]["all"]["image_acc"] is not None  # multi-image samples scored
    _check_run(out, summary, dataset=sequences, config="sequences", fmt="qwen2_vl", tmp_path=tmp_path)
    # Resume: a second run with the same settings generates nothing new and gives the same scores.
    again = run_boxes(EvalConfig(model=str(models["qwen2_vl"]), dataset=str(sequences), config="sequences",
                                out=out, task="boxes", max_new_tokens=6, limit=4, progress=False))
    assert again["boxes"] == summary["boxes"] and _lines(out / "predictions.jsonl") == predictions


def test_vgmed_targets_on_single_image_family(models: dict[str, Path], tmp_path: Path) -> None:
    dataset = write_tiny_dataset(tmp_path / "vgmed", 3, without_boxes=(1,))
    out = tmp_path / "run"
    summary = run_boxes(EvalConfig(model=str(models["llava"]), dataset=str(dataset), out=out, task="boxes",
                                  max_new_tokens=6, progress=False))
    samples = _lines(out / "samples.jsonl")
    assert [s["task"] for s in samples] == ["vgmed", "vgmed"]  # the row without boxes is not asked
    assert all(s["prompt"].startswith("Locate the liver in the image.") for s in samples)
    _check_run(out, summary, dataset=dataset, config="vgmed", fmt="llava", tmp_path=tmp_path)


def test_refusals_name_the_family(sequences: Path, models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="llava adapter takes at most 1 image"):
        run_boxes(EvalConfig(model=str(models["llava"]), dataset=str(sequences), config="sequences",
                            out=tmp_path / "a", task="boxes", limit=2, progress=False))
    with pytest.raises(InvalidInputError, match="gemma3 family has no box output format"):
        run_boxes(EvalConfig(model=str(models["gemma3"]), dataset=str(sequences), config="sequences",
                            out=tmp_path / "b", task="boxes", limit=2, progress=False))
    with pytest.raises(InvalidInputError, match="baseline method only"):
        EvalConfig(model="m", dataset="d", out=tmp_path, task="boxes", methods=("vgrefine",), vgrefine=None)


def test_a_hub_dataset_id_runs_as_the_same_folder_does(sequences: Path, models: dict[str, Path], tmp_path: Path,
                                                       hub_server: object, hub_token: str, hub_repo_id: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``vgmed eval run --task boxes --dataset ORG/NAME`` reads the published release through the Hub-compatible
    test server: the run records the repo id, and its prompts, outputs and scores equal a run on the folder."""
    from vgmed_data.cli import main

    # the miniature's synthetic patients draw the same shapes, so the release audit finds look-alikes across splits
    assert main(["publish", str(sequences), "--repo", hub_repo_id, "--token", hub_token, "--allow-leaks"]) == 0
    runs = {}
    for name, dataset in (("hub", hub_repo_id), ("folder", str(sequences))):
        assert main(["eval", "run", "--task", "boxes", "--model", str(models["qwen2_vl"]), "--dataset", dataset,
                     "--config", "sequences", "--out", str(tmp_path / name), "--limit", "3", "--max-new-tokens", "6",
                     "--no-progress"]) == 0, capsys.readouterr().err
        runs[name] = json.loads((tmp_path / name / "summary.json").read_text())
    assert runs["hub"]["dataset"] == hub_repo_id
    assert json.loads((tmp_path / "hub" / "run.json").read_text())["dataset"] == hub_repo_id
    assert runs["hub"]["boxes"] == runs["folder"]["boxes"]
    hub_lines, folder_lines = (_lines(tmp_path / name / "samples.jsonl") for name in ("hub", "folder"))
    assert len(hub_lines) == 3
    assert [(s["id"], s["prompt"], s["output"]) for s in hub_lines] == \
        [(s["id"], s["prompt"], s["output"]) for s in folder_lines]
    # An id that is not on the Hub is refused in one line naming it; nothing is written.
    capsys.readouterr()
    missing = hub_repo_id + "-missing"
    assert main(["eval", "run", "--task", "boxes", "--model", str(models["qwen2_vl"]), "--dataset", missing,
                 "--config", "sequences", "--out", str(tmp_path / "missing"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and missing in err and "no dataset" in err
    assert not (tmp_path / "missing").exists()


def test_offline_the_hint_is_the_current_download_command() -> None:
    """huggingface_hub's CLI is ``hf`` (``hf download REPO --repo-type dataset --local-dir DIR``); the hint used to
    name the deprecated ``huggingface-cli download``."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    from vgmed_data.locations import hub_error

    error = hub_error(OfflineModeIsEnabled("offline"), repo_id="org/data", repo_type="dataset")
    assert "`hf download org/data --repo-type dataset --local-dir DIR`" in (error.fix or "")
    model = hub_error(OfflineModeIsEnabled("offline"), repo_id="org/model", repo_type="model")
    assert "`hf download org/model --local-dir DIR`" in (model.fix or "")
