"""``vgmed eval run --method baseline,vgrefine`` end to end on a tiny random Qwen2-VL: both answers per sample,
blocked tokens, parameters, the side-by-side summary recomputed here from samples.jsonl, overlays, resume."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from vgmed_data.eval.runner import EvalConfig, run_eval
from vgmed_data.eval.tiny import build_tiny_checkpoint
from vgmed_data.eval.vgrefine.options import VGRefineOptions
from tests.eval.data import record_dicts, write_tiny_dataset
from vgmed_data.errors import InvalidInputError

def strip(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "timings"} for r in records]


OPTIONS = VGRefineOptions(heads=((1, 0), (1, 2), (2, 1)), masked_layers=(2,), percentile=50.0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("vgrefine-run")
    dataset = write_tiny_dataset(root / "ds", 5, with_options=(1, 3), without_boxes=(4,))
    return build_tiny_checkpoint("qwen2_vl", root / "qwen2_vl"), dataset


def _cfg(setup: tuple[Path, Path], out: Path, **kwargs: object) -> EvalConfig:
    model, dataset = setup
    fields: dict[str, object] = {"methods": ("baseline", "vgrefine"), "vgrefine": OPTIONS, "max_new_tokens": 3,
                                 "overlays": 2, "progress": False}
    fields.update(kwargs)
    return EvalConfig(model=str(model), dataset=str(dataset), out=out, **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def both(setup: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("both")
    summary = run_eval(_cfg(setup, out, batch_size=2))
    assert summary is not None
    return out, summary


def _percent(flags: list[bool]) -> float:
    return round(100.0 * sum(flags) / len(flags), 2)


def test_records_hold_both_answers_blocked_tokens_and_parameters(both: tuple[Path, dict]) -> None:
    out, _ = both
    records = record_dicts(out / "samples.jsonl")
    assert [r["status"] for r in records] == ["ok"] * 5
    with np.load(out / "attention" / "shard-00000-of-00001.npz") as data:
        arrays = {k: data[k] for k in data.files}
    for record in records:
        part = record["vgrefine"]
        assert isinstance(record["prediction"], str) and isinstance(part["answer"], str)
        assert part["parameters"] == {"heads": [[1, 0], [1, 2], [2, 1]], "masked_layers": [2], "percentile": 50.0,
                                      "threshold": None, "normalise": True, "rows": "last"}
        # Blocked set recomputed from the stored triage map: tokens under the 50th percentile (numpy linear).
        scores = arrays[f"{record['id']}__triage"].astype(np.float64).reshape(-1)
        assert scores.shape == (record["grid"][0] * record["grid"][1],)
        assert part["blocked"] == np.flatnonzero(scores < np.percentile(scores, 50.0)).tolist()
        assert arrays[f"{record['id']}__blocked"].reshape(-1).nonzero()[0].tolist() == part["blocked"]
        # Correctness: letter for closed questions (options A-C, answer "liver" is A), exact match for open.
        if record["options"]:
            letter = part["answer"].strip()[:1]
            assert part["kind"] == "closed" and (part["correct"] == (letter == "A") or part["rule"] != "letter")
        else:
            assert part["correct"] == (part["answer"].strip().lower() == "liver")
    assert "grounding_skip" in records[4] and "vgrefine" in records[4]  # answers are scored without boxes too


def test_summary_side_by_side_equals_recomputation(both: tuple[Path, dict]) -> None:
    out, summary = both
    records = record_dicts(out / "samples.jsonl")
    saved = json.loads((out / "summary.json").read_text())
    table = saved["vgrefine"]["side_by_side"]
    base = _percent([bool(r["correct"]) for r in records])
    refined = _percent([bool(r["vgrefine"]["correct"]) for r in records])
    changed = sum(r["vgrefine"]["answer"] != r["prediction"] for r in records)
    assert table["all"] == [{"group": "all", "n": 5, "baseline": base, "vgrefine": refined,
                             "difference": round(refined - base, 2), "changed": changed}]
    for row in table["modality"]:
        chosen = [r for r in records if r["modality"] == row["group"]]
        assert (row["n"], row["baseline"], row["vgrefine"]) == (
            len(chosen), _percent([bool(r["correct"]) for r in chosen]),
            _percent([bool(r["vgrefine"]["correct"]) for r in chosen]))
    assert saved["vgrefine"]["mean_blocked"] == pytest.approx(np.mean([len(r["vgrefine"]["blocked"]) for r in records]))
    assert saved["vgrefine"]["plain_differs_from_baseline"] == sum(
        r["vgrefine"]["answer_without_vgrefine"] != r["prediction"] for r in records)
    markdown = (out / "summary.md").read_text()
    assert "## Baseline vs VGRefine" in markdown
    assert f"| all | 5 | {base:.2f} | {refined:.2f} | {refined - base:+.2f} | {changed} |" in markdown
    vgrefine_overlays = [p for p in summary["files"]["overlays"] if p.endswith("__vgrefine.png")]
    assert len(vgrefine_overlays) == 2 and all((out / p).stat().st_size > 1000 for p in vgrefine_overlays)


def test_runner_answers_equal_a_direct_fast_call(setup: tuple[Path, Path], both: tuple[Path, dict]) -> None:
    from vgmed_data.eval.adapters import load_adapter, question_prompt
    from vgmed_data.eval.data import iter_samples
    from vgmed_data.eval.vgrefine import vgrefine_fast

    out, _ = both
    records = record_dicts(out / "samples.jsonl")
    adapter = load_adapter(setup[0])
    adapter.options = type(adapter.options)(max_new_tokens=3)
    for sample in list(iter_samples(setup[1]))[:2]:
        direct = vgrefine_fast(adapter, sample.image(), question_prompt(sample.question, sample.options),
                               options=OPTIONS, max_new_tokens=3)
        record = next(r for r in records if r["id"] == sample.id)
        assert record["vgrefine"]["answer"] == direct.answer.text
        assert record["vgrefine"]["blocked"] == direct.triage.blocked.tolist()


def test_batch_size_does_not_change_results(setup: tuple[Path, Path], both: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = both
    run_eval(_cfg(setup, tmp_path, batch_size=1, overlays=0))
    one, two = strip(record_dicts(tmp_path / "samples.jsonl")), strip(record_dicts(out / "samples.jsonl"))
    assert [(r["prediction"], r["vgrefine"]) for r in one] == [(r["prediction"], r["vgrefine"]) for r in two]


def test_resume_with_vgrefine_equals_uninterrupted(setup: tuple[Path, Path], both: tuple[Path, dict],
                                                   tmp_path: Path) -> None:
    from vgmed_data.eval.adapters import load_adapter

    out, _ = both
    adapter = load_adapter(setup[0])
    calls = {"n": 0}

    def kill(module, args, kwargs):  # noqa: ANN001, ANN202 - a forward hook that stops the run mid-way
        calls["n"] += 1
        if calls["n"] == 25:
            raise KeyboardInterrupt

    handle = adapter.model.register_forward_pre_hook(kill, with_kwargs=True)
    with pytest.raises(KeyboardInterrupt):
        run_eval(_cfg(setup, tmp_path, batch_size=2), adapter=adapter)
    handle.remove()
    partial = record_dicts(tmp_path / "ranks" / "rank-00000-of-00001" / "samples.jsonl")
    assert 0 < len(partial) < 5
    run_eval(_cfg(setup, tmp_path, batch_size=2))
    assert strip(record_dicts(tmp_path / "samples.jsonl")) == strip(record_dicts(out / "samples.jsonl"))
    assert json.loads((tmp_path / "summary.json").read_text())["vgrefine"] == json.loads(
        (out / "summary.json").read_text())["vgrefine"]


def test_resume_with_other_vgrefine_settings_is_refused(setup: tuple[Path, Path], tmp_path: Path) -> None:
    run_eval(_cfg(setup, tmp_path, limit=1, overlays=0))
    other = VGRefineOptions(heads=OPTIONS.heads, masked_layers=OPTIONS.masked_layers, percentile=80.0)
    with pytest.raises(InvalidInputError, match="other settings"):
        run_eval(_cfg(setup, tmp_path, limit=1, overlays=0, vgrefine=other))
    with pytest.raises(InvalidInputError, match="other settings"):
        run_eval(_cfg(setup, tmp_path, limit=1, overlays=0, methods=("baseline",), vgrefine=None))


def test_vgrefine_alone_has_no_baseline_answer(setup: tuple[Path, Path], tmp_path: Path) -> None:
    summary = run_eval(_cfg(setup, tmp_path, limit=2, overlays=0, methods=("vgrefine",)))
    assert summary is not None
    records = record_dicts(tmp_path / "samples.jsonl")
    assert all("prediction" not in r and "correct" not in r and "vgrefine" in r and "metrics" in r for r in records)
    assert "answer_without_vgrefine" not in records[0]["vgrefine"]
    assert summary["overall"]["accuracy"] is None and summary["vgrefine"]["side_by_side"] is None
    assert summary["vgrefine"]["accuracy"] == np.mean([float(r["vgrefine"]["correct"]) for r in records])


def test_config_and_cli_refuse_inconsistent_settings(setup: tuple[Path, Path], tmp_path: Path) -> None:
    from vgmed_data.eval.vgrefine.cli import options_from_args

    with pytest.raises(InvalidInputError, match="exactly when"):
        _cfg(setup, tmp_path, vgrefine=None)
    with pytest.raises(InvalidInputError, match="unknown method 'other'"):
        _cfg(setup, tmp_path, methods=("baseline", "other"))
    args = argparse.Namespace(heads="huatuogpt-vision-7b", masked_layers=None, percentile=80.0, threshold=None,
                              no_normalise=False, vgrefine_rows=None)
    options = options_from_args(args)
    assert options.masked_layers == (16,) and len(options.heads) == 20 and options.percentile == 80.0
    with pytest.raises(InvalidInputError, match="do not exist"):  # the 7B preset on a 3-layer tiny model
        run_eval(_cfg(setup, tmp_path, vgrefine=options, limit=1))


def test_metrics_after_the_knockout(both: tuple[Path, dict]) -> None:
    """Each grounded record's VGRefine part carries the metrics after the knockout: on open questions (answer
    prompt = measured prompt) the layers below the masked one equal the record's metrics, and the masked layer
    moves wherever tokens were blocked; the summary's side-by-side table reports their means."""
    out, summary = both
    records = record_dicts(out / "samples.jsonl")
    grounded = [r for r in records if "metrics" in r]
    assert grounded and all("metrics_after" in r["vgrefine"] for r in grounded)
    assert all("metrics_after" not in r["vgrefine"] for r in records if "metrics" not in r)
    masked = OPTIONS.masked_layers[0]
    for record in grounded:
        after = record["vgrefine"]["metrics_after"]
        if not record["options"]:
            np.testing.assert_allclose(after["kl"][:masked], record["metrics"]["kl"][:masked], atol=1e-5)
        if record["vgrefine"]["blocked"]:
            assert abs(after["kl"][masked] - record["metrics"]["kl"][masked]) > 1e-6
    row = next(r for r in summary["side_by_side"]["methods"] if r["method"] == "vgrefine")
    np.testing.assert_allclose(row["attention"]["ar"],
                               np.mean([r["vgrefine"]["metrics_after"]["ar"] for r in grounded], axis=0), atol=1e-6)
