"""``vgmed eval run --method baseline,pai,vcd,adaptvis,blind`` end to end (real CLI in process, tiny random
Qwen2-VL): every record holds each method's answer, score, parameters and, for the attention-changing methods,
the metrics after the intervention; the side-by-side summary is recomputed here from samples.jsonl; run.json
records the parameters; bad method settings end in one line with exit status 2 and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.eval.data import record_dicts, write_tiny_dataset
from vgmed_data.cli import main
from vgmed_data.eval.run_folder import SampleRecord
from vgmed_data.eval.tiny import build_tiny_checkpoint

METHODS = "baseline,pai,vcd,adaptvis,blind"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("methods-run")
    return build_tiny_checkpoint("qwen2_vl", root / "m"), write_tiny_dataset(root / "ds", 4, with_options=(1,),
                                                                               without_boxes=(3,))


def _run(inputs: tuple[Path, Path], out: Path, *args: str) -> int:
    model, dataset = inputs
    length = () if "official" in args else ("--max-new-tokens", "3")  # the official protocol sets it
    return main(["eval", "run", "--no-progress", *length, "--overlays", "0", "--model", str(model),
                 "--dataset", str(dataset), "--out", str(out), *args])


@pytest.fixture(scope="module")
def run(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("methods") / "run"
    assert _run(inputs, out, "--method", METHODS, "--method-param", "pai.alpha=0.5",
                "--method-param", "vcd.seed=3") == 0
    return out


def test_records_hold_every_method(run: Path) -> None:
    records = record_dicts(run / "samples.jsonl")
    assert len(records) == 4
    for record in records:
        methods = record["methods"]
        assert set(methods) == {"pai", "vcd", "adaptvis", "blind"}
        assert methods["pai"]["parameters"] == {"alpha": 0.5, "gamma": 1.1, "start_layer": 2, "end_layer": None}
        assert methods["vcd"]["parameters"]["seed"] == 3 and "noise_seed" in methods["vcd"]["details"]
        assert set(methods["adaptvis"]["details"]) == {"confidence", "weight"}
        for part in methods.values():
            assert part["changed"] == (part["answer"] != record["prediction"])
            assert isinstance(part["correct"], bool)
        grounded = "metrics" in record
        for name in ("pai", "adaptvis"):  # attention-changing: metrics after, on the same layers
            assert ("metrics_after" in methods[name]) == grounded
            if grounded:
                assert len(methods[name]["metrics_after"]["ar"]) == len(record["metrics"]["ar"])
        assert "metrics_after" not in methods["vcd"] and "metrics_after" not in methods["blind"]
        # round trip through the typed record
        assert SampleRecord.from_json(record).to_json() == record


def test_pai_moves_attention_only_in_its_layers(run: Path) -> None:
    """PAI amplifies layers >= 2 of the 3-layer model: on open questions (answer prompt = measured prompt) layers
    0-1 keep the baseline's metrics, layer 2 moves."""
    open_grounded = [r for r in record_dicts(run / "samples.jsonl") if "metrics" in r and not r["options"]]
    assert open_grounded
    for record in open_grounded:
        after, before = record["methods"]["pai"]["metrics_after"], record["metrics"]
        np.testing.assert_allclose(after["kl"][:2], before["kl"][:2], atol=1e-5)
        assert abs(after["kl"][2] - before["kl"][2]) > 1e-5


def test_summary_side_by_side_recomputed(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    table = summary["side_by_side"]
    records = record_dicts(run / "samples.jsonl")
    assert table["n"] == 4 and table["resamples"] == 10_000 and table["seed"] == 0
    rows = {row["method"]: row for row in table["methods"]}
    base = np.array([r["correct"] for r in records], dtype=float)
    for name in ("pai", "vcd", "adaptvis", "blind"):
        mine = np.array([r["methods"][name]["correct"] for r in records], dtype=float)
        assert rows[name]["accuracy"] == round(100 * mine.mean(), 2)
        assert rows[name]["difference"] == round(100 * (mine - base).mean(), 2)
        assert rows[name]["changed"] == sum(r["methods"][name]["changed"] for r in records)
        low, high = rows[name]["difference_ci95"]
        assert low <= rows[name]["difference"] <= high
    grounded = [r for r in records if "metrics" in r]
    expected = np.mean([r["methods"]["pai"]["metrics_after"]["ar"] for r in grounded], axis=0)
    np.testing.assert_allclose(rows["pai"]["attention"]["ar"], expected, atol=1e-6)
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["interventions"]["pai"]["alpha"] == 0.5 and manifest["methods"] == METHODS.split(",")
    assert "## Methods side by side" in (run / "summary.md").read_text()


def test_metrics_after_use_the_record_cells(run: Path) -> None:
    """The metrics after an intervention are on the record's ground-truth cells: the pointing game is 0 or 1, and
    on a layer the intervention leaves alone it equals the record's."""
    for record in record_dicts(run / "samples.jsonl"):
        if "metrics" in record and not record["options"]:
            after = record["methods"]["pai"]["metrics_after"]
            assert set(after["pg"]) <= {0.0, 1.0} and after["pg"][0] == record["metrics"]["pg"][0]


@pytest.mark.parametrize(("args", "expected"), [
    (("--method", "baseline,pai", "--method-param", "pai.alpah=1"), "pai has no parameter 'alpah'"),
    (("--method", "baseline,pai", "--method-param", "vcd.alpha=1"), "which --method does not run"),
    (("--method", "baseline,vcd", "--method-param", "vcd.noise_step=lots"), "cannot read vcd.noise_step"),
    (("--method", "baseline,magic"), "unknown method"),
    (("--method", "baseline,pai", "--protocol", "official"), "--protocol official has no pai"),
    (("--method", "baseline,adaptvis", "--query", "question_mean"), "adaptvis record the attention"),
    (("--method", "baseline,pai", "--method-param", "pai.end_layer=9"), "beyond the model's 3 layers"),
])
def test_bad_method_settings_are_one_line(inputs: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                          expected: str) -> None:
    out = tmp_path / "run"
    code = _run(inputs, out, "--limit", "1", *args)
    # (transformers' own weight-loading progress bar may precede the error once the model is loaded)
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("Loading weights")]
    assert code == 2 and len(err) == 1 and expected in err[0], err
    assert not out.exists()


def test_resume_with_other_parameters_is_refused(inputs: tuple[Path, Path], run: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code = _run(inputs, run, "--method", METHODS, "--method-param", "pai.alpha=0.9", "--method-param", "vcd.seed=3")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1



def test_results_rows_per_method_with_the_comparison(run: Path, tmp_path: Path) -> None:
    """`vgmed eval publish` rows: one per method, grounding columns after the intervention, the comparison columns
    equal to the summary's table; written and read back through datasets with the results features."""
    from datasets import load_dataset

    from vgmed_data.eval.results.collect import collect_run
    from vgmed_data.eval.results.folder import results_card, write_run_files

    results = collect_run(run, with_samples=False)
    rows = {row["method"]: row for row in results.runs}
    assert list(rows) == METHODS.split(",")
    assert json.loads(rows["pai"]["method_params"]) == {"alpha": 0.5, "end_layer": None, "gamma": 1.1,
                                                          "start_layer": 2}
    records = record_dicts(run / "samples.jsonl")
    grounded = [r for r in records if "metrics" in r]
    np.testing.assert_allclose(rows["adaptvis"]["kl_per_layer"],
                               np.mean([r["methods"]["adaptvis"]["metrics_after"]["kl"] for r in grounded], axis=0))
    assert rows["vcd"]["kl_per_layer"] == [] and rows["blind"]["ar_best"] is None
    table = {row["method"]: row for row in json.loads((run / "summary.json").read_text())["side_by_side"]["methods"]}
    for name, row in rows.items():
        assert row["accuracy_ci95"] == table[name]["ci95"]
        assert row["difference_vs_baseline"] == table[name].get("difference")
        assert row["answers_changed"] == table[name].get("changed")
        assert (row["n_compared"], row["bootstrap_resamples"], row["bootstrap_seed"]) == (4, 10_000, 0)
    folder = tmp_path / "results"
    write_run_files(results, folder)
    (folder / "README.md").write_text(results_card())
    loaded = load_dataset(str(folder), "runs", split="train", cache_dir=str(tmp_path / "cache"))
    assert sorted(loaded["method"]) == sorted(METHODS.split(","))
    assert {r["method"]: r["difference_ci95"] for r in loaded} == {k: v["difference_ci95"] for k, v in rows.items()}
