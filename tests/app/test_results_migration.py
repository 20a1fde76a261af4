"""`vgmed eval publish` into a results dataset written by the version-1 toolkit (before `protocol` and
`box_mapping`): the old runs files are upgraded in the same commit, so old and new rows load together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import EvalRuns

pytestmark = pytest.mark.hub

# The two runs columns version 2 added (`git show abe08fc:eval/results/schema.py` has neither) and the methods
# comparison columns version 3 added.
ADDED_IN_V2 = ("protocol", "box_mapping", "accuracy_ci95", "difference_vs_baseline", "difference_ci95",
               "answers_changed", "n_compared", "bootstrap_resamples", "bootstrap_seed")


def _write_v1_dataset(run_dir: Path, folder: Path) -> str:
    """A results folder as the version-1 toolkit wrote it: rows collected now, written with the v1 features
    (the current ones less the two added columns) and the v1 card. Returns the run id."""
    from datasets import Dataset, Features

    from vgmed_data.eval.results.collect import collect_run
    from vgmed_data.eval.results.folder import results_card, write_run_files
    from vgmed_data.eval.results.schema import FORMAT_VERSION, RUN_FEATURES

    results = collect_run(run_dir)
    written = write_run_files(results, folder)
    v1_features = Features({k: v for k, v in RUN_FEATURES.items() if k not in ADDED_IN_V2})
    rows = [{k: v for k, v in row.items() if k not in ADDED_IN_V2} | {"format_version": 1} for row in results.runs]
    runs_file = written[f"data/runs/run-{results.run_id}.parquet"]
    Dataset.from_list(rows, features=v1_features).to_parquet(str(runs_file))
    card = results_card()
    assert f"results format version {FORMAT_VERSION})" in card
    (folder / "README.md").write_text(card.replace(f"results format version {FORMAT_VERSION})",
                                                   "results format version 1)"))
    return results.run_id


def test_publish_into_a_v1_repo_migrates_it(eval_runs: EvalRuns, hub_server: Any, hub_api: Any, hub_token: str,
                                            hub_repo_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    import pyarrow.parquet as pq
    from datasets import load_dataset

    from vgmed_data.cli import main
    from vgmed_data.eval.results.page.app import load_results

    old_folder = tmp_path / "v1"
    old_id = _write_v1_dataset(eval_runs.runs["llava"], old_folder)
    assert not set(ADDED_IN_V2) & set(pq.read_schema(old_folder / f"data/runs/run-{old_id}.parquet").names)
    hub_api.create_repo(hub_repo_id, repo_type="dataset")
    hub_api.upload_folder(repo_id=hub_repo_id, repo_type="dataset", folder_path=str(old_folder))
    heads_before = len(hub_api.list_repo_commits(hub_repo_id, repo_type="dataset"))

    assert main(["eval", "publish", str(eval_runs.runs["qwen2_vl"]), "--repo", hub_repo_id, "--token", hub_token,
                 "--endpoint", hub_server.url]) == 0
    out = capsys.readouterr().out

    runs = load_dataset(hub_repo_id, "runs", split="train", cache_dir=str(tmp_path / "cache-runs"))
    samples = load_dataset(hub_repo_id, "samples", split="train", cache_dir=str(tmp_path / "cache-samples"))
    by_run: dict[str, list[dict[str, Any]]] = {}
    for row in runs:
        by_run.setdefault(row["run_id"], []).append(row)
    new_id = next(r for r in by_run if r != old_id)
    # llava ran the baseline only (1 row), Qwen2-VL baseline and VGRefine (2 rows); 12 samples each
    assert (len(by_run[old_id]), len(by_run[new_id]), len(runs)) == (1, 2, 3)
    assert sorted(set(samples["run_id"])) == sorted([old_id, new_id]) and len(samples) == 24
    assert [(r["protocol"], r["box_mapping"], r["format_version"]) for r in by_run[old_id]] == [
        ("default", "input_scale", 1)]
    assert {(r["protocol"], r["box_mapping"], r["format_version"]) for r in by_run[new_id]} == {
        ("default", "padding_aware", 3)}
    assert by_run[old_id][0]["model"] != by_run[new_id][0]["model"]  # the old row kept its own values

    migrated = [line for line in out.splitlines() if line.startswith("migrated")]
    assert migrated == [f"migrated {hub_repo_id} from results format version 1 to 3: 1 runs file(s) rewritten "
                        "with protocol='default', box_mapping='input_scale' and null methods comparison columns"], out
    # one commit: the new run, the rewritten old runs file and the card
    assert len(hub_api.list_repo_commits(hub_repo_id, repo_type="dataset")) == heads_before + 1
    assert "results format version 3" in hub_server.files_at(hub_repo_id)["README.md"].decode()

    page = load_results(hub_repo_id, token=hub_token, cache_dir=str(tmp_path / "cache-page"))
    assert len(page.runs) == 3 and len(page.samples) == 24


def test_publish_into_a_v1_folder_migrates_it(eval_runs: EvalRuns, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from datasets import load_dataset

    from vgmed_data.cli import main

    folder = tmp_path / "results"
    old_id = _write_v1_dataset(eval_runs.runs["llava"], folder)
    assert main(["eval", "publish", str(eval_runs.runs["qwen2_vl"]), "--folder", str(folder)]) == 0
    runs = load_dataset(str(folder), "runs", split="train", cache_dir=str(tmp_path / "cache"))
    assert capsys.readouterr().out.startswith(f"migrated {folder} from results format version 1 to 3: 1 runs file")
    assert len(runs) == 3
    assert [(r["protocol"], r["box_mapping"]) for r in runs if r["run_id"] == old_id] == [("default", "input_scale")]
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "data"]  # no staging left behind
