"""The results format, `vgmed eval publish` against the Hub-compatible server, `vgmed eval serve`, Hub jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.app import expected
from tests.app.conftest import EvalRuns
from tests.fixtures.http import free_port, wait_until_up

pytestmark = pytest.mark.hub


def _load(repo_or_folder: str, config: str, tmp_path: Path) -> Any:
    from datasets import load_dataset

    return load_dataset(repo_or_folder, config, split="train", cache_dir=str(tmp_path / f"cache-{config}"))


def test_rows_match_the_run_files(eval_runs: EvalRuns) -> None:
    from vgmed_data.eval.results.collect import collect_run

    for run_dir in eval_runs.runs.values():
        results = collect_run(run_dir)
        row = results.runs[0]
        manifest = json.loads((run_dir / "run.json").read_text())
        assert row["command"] == manifest["provenance"]["command"] and row["hardware"] == manifest["provenance"]["hardware"]
        assert row["attention_prompt"] == manifest["attention_prompt"] == "official"  # the runner's default
        # the protocol and the box mapping of the metrics, so rows can be filtered by protocol (default runs)
        assert (row["protocol"], row["box_mapping"]) == (manifest["protocol"], manifest["box_mapping"]) == (
            "default", "padding_aware")
        if "vgrefine" in manifest["methods"]:  # the Qwen2-VL run: a second row for VGRefine, from its answers
            refine = results.runs[1]
            assert [r["method"] for r in results.runs] == ["baseline", "vgrefine"]
            assert refine["accuracy"] == pytest.approx(expected.vgrefine_accuracy(run_dir), abs=1e-12)
            assert json.loads(refine["method_params"])["masked_layers"] == [2]
            assert all(len(s["vgrefine_map"]) == s["grid"][0] * s["grid"][1] for s in results.samples)
        else:
            assert len(results.runs) == 1
        overall = expected.slice_numbers(run_dir)
        assert row["method"] == "baseline" and row["model"] == expected.model_of(run_dir)
        assert row["n_samples"] == overall["n"] == 12
        assert row["accuracy"] == pytest.approx(overall["accuracy"], abs=1e-12)
        assert row["best_layer"] == overall["best_layer"]
        for metric in ("ar", "kl", "js"):
            assert row[f"{metric}_best"] == pytest.approx(overall[metric], abs=1e-12)
        slices = {(s["modality"], s["question_type"]): s for s in row["breakdown"]}
        assert set(slices) == {(m, q) for m in ("all", "CT", "MR") for q in ("all", "attribute", "localization")}
        for (modality, question_type), got in slices.items():
            want = expected.slice_numbers(run_dir, modality=modality, question_type=question_type)
            assert (got["n"], got["accuracy"], got["ar"]) == (want["n"], pytest.approx(want["accuracy"]),
                                                              pytest.approx(want["ar"]))
        assert len(results.samples) == 12 and all(len(s["baseline_map"]) == s["grid"][0] * s["grid"][1]
                                                  for s in results.samples)
        assert collect_run(run_dir).run_id == results.run_id  # stable: a re-publish is recognised


def test_publish_then_load_dataset_twice_no_duplicate(eval_runs: EvalRuns, hub_server: Any, hub_token: str,
                                                      hub_repo_id: str, tmp_path: Path) -> None:
    from vgmed_data.eval.results.publish import publish_run
    from vgmed_data.eval.results.schema import RUN_FEATURES, SAMPLE_FEATURES

    run_dir = eval_runs.runs["qwen2_vl"]
    first = publish_run(run_dir, repo_id=hub_repo_id, token=hub_token)
    again = publish_run(run_dir, repo_id=hub_repo_id, token=hub_token)
    assert first.commit_oid and not first.already_present
    assert again.already_present and again.run_id == first.run_id
    runs = _load(hub_repo_id, "runs", tmp_path)
    samples = _load(hub_repo_id, "samples", tmp_path)
    assert runs.features == RUN_FEATURES and samples.features == SAMPLE_FEATURES
    assert len(runs) == 2 and len(samples) == 12  # baseline and VGRefine rows of the Qwen2-VL run
    baseline = next(r for r in runs if r["method"] == "baseline")
    assert baseline["accuracy"] == pytest.approx(expected.slice_numbers(run_dir)["accuracy"])
    assert samples[0]["image"].size == (samples[0]["width"], samples[0]["height"])
    files = hub_server.files_at(hub_repo_id)
    assert sorted(p for p in files if p.startswith("data/")) == [
        f"data/runs/run-{first.run_id}.parquet", f"data/samples/run-{first.run_id}.parquet"]
    assert hub_token not in "".join(str(v) for v in runs[0].values())


def test_concurrent_publishes_lose_no_row(eval_runs: EvalRuns, hub_server: Any, hub_token: str,
                                          hub_repo_id: str, tmp_path: Path) -> None:
    """Three jobs (separate processes, as Hub jobs are) append at the same moment: two different runs, one of
    them twice. Both rows arrive once each; the repeated run commits nothing."""
    from vgmed_data.eval.results.collect import collect_run

    run_dirs = [eval_runs.runs["qwen2_vl"], eval_runs.runs["llava"], eval_runs.runs["qwen2_vl"]]
    start_at = time.time() + 6.0  # every process has imported its libraries by then: they start together
    code = ("import sys, time; from vgmed_data.cli import main; "
            f"time.sleep(max(0.0, {start_at} - time.time())); sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "HF_ENDPOINT": hub_server.url}
    jobs = [subprocess.Popen([sys.executable, "-c", code, "eval", "publish", str(run_dir), "--repo", hub_repo_id,
                              "--token", hub_token, "--endpoint", hub_server.url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for run_dir in run_dirs]
    outputs = [job.communicate(timeout=180) for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0, 0], outputs
    results = {family: collect_run(run_dir) for family, run_dir in eval_runs.runs.items()}
    runs = _load(hub_repo_id, "runs", tmp_path)
    assert sorted(set(runs["run_id"])) == sorted(r.run_id for r in results.values())
    assert len(runs) == sum(len(r.runs) for r in results.values())  # one row per method, none lost
    assert len(_load(hub_repo_id, "samples", tmp_path)) == 24
    committed = [out for out, _ in outputs if "appended run" in out]
    skipped = [out for out, _ in outputs if "nothing to publish" in out]
    assert len(committed) == 2 and len(skipped) == 1, outputs  # the repeated run committed nothing
    assert hub_token not in "".join(out + err for out, err in outputs)


def test_vgmed_eval_serve_a_run_folder(eval_runs: EvalRuns) -> None:
    run_dir = eval_runs.runs["llava"]
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "vgmed_data.cli", "eval", "serve", str(run_dir),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        data = json.loads(wait_until_up(f"http://127.0.0.1:{port}/api/runs", process, timeout_s=90))
        (row,) = data["runs"]
        assert row["accuracy"] == pytest.approx(expected.slice_numbers(run_dir)["accuracy"])
        assert data["facets"] == {"modality": ["CT", "MR"], "question_type": ["attribute", "localization"],
                                  "method": ["baseline"],
                                  "protocol": [json.loads((run_dir / "run.json").read_text())["protocol"]]}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_hub_job_request(hub_server: Any, hub_token: str) -> None:
    """`scripts/hub_job.py --submit` sends HfApi.run_job's request; the token goes only as a job secret."""
    from vgmed_data.eval.results.jobs import HubJobSpec, submit_job

    spec = HubJobSpec(model="org/model", dataset="org/VGMED", results_repo="vgmed-test/results",
                      method="baseline,vgrefine", flavor="a100-large", limit=100, heads="preset:huatuogpt-vision-7b",
                      toolkit="vgmed-data[eval] @ https://files.example.org/vgmed_data-0.1.0-py3-none-any.whl")
    job = submit_job(spec, token=hub_token, endpoint=hub_server.url)
    sent = hub_server.jobs[-1]
    assert job.id == sent["id"] and job.status.stage == "RUNNING" and sent["namespace"] == "tester"
    body = sent["spec"]
    assert body["dockerImage"] == spec.image and body["flavor"] == "a100-large"
    assert body["timeoutSeconds"] == 6 * 3600 and body["secrets"] == {"HF_TOKEN": hub_token}
    script = body["command"][-1]
    assert "vgmed eval run --model org/model --dataset org/VGMED" in script
    assert "--device cuda" in script and "--method baseline,vgrefine" in script and "--limit 100" in script
    assert "--heads preset:huatuogpt-vision-7b" in script
    assert "vgmed eval publish /tmp/vgmed-run --repo vgmed-test/results" in script
    assert hub_token not in json.dumps({k: v for k, v in body.items() if k != "secrets"})
