"""The run folder (eval/run_folder.py): records round-trip byte for byte, runs written before the typed folder
existed collect to the same rows, resume drops only a torn last line, and a run that does not read is refused
with the folder and the fix.

``legacy_runs/`` holds two run folders written by the code before this module (see its README.md);
``collected.json`` is what that code's ``collect_run`` returned for them (computed then, not by this code)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.eval.data import write_tiny_dataset
from vgmed_data.errors import FileFormatError, SourceNotFoundError
from vgmed_data.eval.run_folder import (BoxPrediction, BoxSampleRecord, Manifest, RunFolder, SampleRecord,
                                        read_records, resume_records, write_records)

LEGACY = Path(__file__).parent / "legacy_runs"
KINDS = {("run-grounding", "samples.jsonl"): SampleRecord, ("run-boxes", "samples.jsonl"): BoxSampleRecord,
         ("run-boxes", "predictions.jsonl"): BoxPrediction,
         ("run-grounding", "ranks/rank-00000-of-00001/samples.jsonl"): SampleRecord}


@pytest.fixture()
def legacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The legacy runs in a working folder beside the dataset they name (``dataset``, relative)."""
    for name in ("run-grounding", "run-boxes"):
        shutil.copytree(LEGACY / name, tmp_path / name)
    write_tiny_dataset(tmp_path / "dataset", 4, without_boxes=(3,), with_options=(1,))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("run", "name"), sorted(KINDS))
def test_records_round_trip_byte_for_byte(run: str, name: str, tmp_path: Path) -> None:
    source = LEGACY / run / name
    records = read_records(source, KINDS[(run, name)])
    assert records and all(type(r).from_json(r.to_json()) == r for r in records)
    write_records(tmp_path / "again.jsonl", records)
    assert (tmp_path / "again.jsonl").read_bytes() == source.read_bytes()


def test_sample_record_fields_are_typed() -> None:
    records = read_records(LEGACY / "run-grounding" / "samples.jsonl", SampleRecord)
    closed = records[1]  # the sample posed with options
    assert closed.options == ("liver", "spleen", "kidney") and closed.score is not None
    assert closed.score["kind"] == "closed" and closed.vgrefine is not None
    assert closed.vgrefine.parameters["masked_layers"] == [2] and isinstance(closed.vgrefine.blocked, tuple)
    assert records[3].grounding_skip == "no boxes" and records[3].metrics is None and not records[3].grounded
    assert set(records[0].metrics or {}) == {"ar", "kl", "js", "pg", "epg"}
    assert len(records[0].metrics["ar"]) == len(records[0].layers or ())  # type: ignore[index]


def test_manifest_round_trips_and_old_manifests_take_their_meaning(tmp_path: Path) -> None:
    data = json.loads((LEGACY / "run-grounding" / "run.json").read_text())
    assert Manifest.from_json(data).to_json() == data
    old = {k: v for k, v in data.items() if k not in ("attention_prompt", "task", "methods", "provenance")}
    manifest = Manifest.from_json(old)
    assert (manifest.attention_prompt, manifest.task, manifest.methods, manifest.provenance) == (
        "answer", "grounding", ("baseline",), {})


def _clean(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in row.items() if k != "image"}


def test_runs_written_before_collect_to_the_same_rows(legacy: Path) -> None:
    from vgmed_data.eval.results.collect import Provenance, collect_run

    want = json.loads((LEGACY / "collected.json").read_text())
    for name in ("run-grounding", "run-boxes"):
        got = collect_run(name, provenance=Provenance(model_revision="m", dataset_revision="d"))
        assert got.run_id == want[name]["run_id"]
        # columns added since (protocol, box mapping): what a run written before them meant; the rows are in the
        # results format of now (version 2 added those columns, version 3 the methods comparison, checked below)
        from vgmed_data.eval.results.collect import NO_COMPARISON

        assert [{k: v for k, v in _clean(r).items() if k not in NO_COMPARISON} for r in got.runs] == [
            {**r, "protocol": "default", "box_mapping": "input_scale", "format_version": 3}
            for r in want[name]["runs"]]
        assert [_clean(r) for r in got.samples] == want[name]["samples"]
        _check_comparison(LEGACY / name, got.runs)


def _check_comparison(run: Path, rows: list[dict]) -> None:
    """The comparison columns, recomputed from the run's samples.jsonl (paired: samples with both answers)."""
    records = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    both = [r for r in records if r.get("status") == "ok" and "correct" in r and "correct" in (r.get("vgrefine") or {})]
    if not both:
        assert all(row["accuracy_ci95"] is None and row["n_compared"] is None for row in rows)
        return
    base = [float(r["correct"]) for r in both]
    refined = [float(r["vgrefine"]["correct"]) for r in both]
    by_method = {row["method"]: row for row in rows}
    assert by_method["vgrefine"]["difference_vs_baseline"] == round(100 * (sum(refined) - sum(base)) / len(both), 2)
    assert by_method["vgrefine"]["answers_changed"] == sum(r["vgrefine"]["answer"] != r["prediction"] for r in both)
    for row in rows:
        assert (row["n_compared"], row["bootstrap_resamples"], row["bootstrap_seed"]) == (len(both), 10_000, 0)
        low, high = row["accuracy_ci95"]
        assert 0.0 <= low <= high <= 100.0


def test_legacy_ranks_merge_to_the_same_files(legacy: Path) -> None:
    folder = RunFolder(legacy / "run-grounding")
    before = folder.samples_path.read_bytes()
    folder.samples_path.unlink()
    records, adapter = folder.merge_ranks(folder.read_manifest().world)
    assert folder.samples_path.read_bytes() == before and adapter["family"] == "qwen2_vl"
    assert [r.index for r in records] == [0, 1, 2, 3]


def test_a_run_without_attention_prompt_reads_as_the_answer_prompt(legacy: Path) -> None:
    from vgmed_data.eval.results.collect import Provenance, collect_run

    root = legacy / "run-grounding"
    manifest = json.loads((root / "run.json").read_text())
    del manifest["attention_prompt"]
    (root / "run.json").write_text(json.dumps(manifest))
    got = collect_run(root, provenance=Provenance(model_revision="m", dataset_revision="d"), with_samples=False)
    assert got.runs[0]["attention_prompt"] == "answer"
    assert "--attention-prompt" not in got.runs[0]["command"]  # the recorded command is kept as it was


def test_a_run_that_does_not_read_is_refused_with_the_folder_and_the_fix(legacy: Path) -> None:
    from vgmed_data.eval.results.collect import collect_run

    root = legacy / "run-grounding"
    lines = (root / "samples.jsonl").read_text().splitlines()
    broken = json.loads(lines[2])
    del broken["status"]
    (root / "samples.jsonl").write_text("\n".join([*lines[:2], json.dumps(broken), *lines[3:]]) + "\n")
    with pytest.raises(FileFormatError) as raised:
        collect_run(root)
    text = str(raised.value)
    assert str(root / "samples.jsonl") in text and "line 3" in text and "status" in text
    assert "re-run it with this version" in text and "--out NEW_DIR" in text
    with pytest.raises(SourceNotFoundError, match="run.json is missing"):
        collect_run(legacy / "dataset")


def test_resume_drops_a_torn_last_line_only(tmp_path: Path) -> None:
    source = LEGACY / "run-grounding" / "samples.jsonl"
    path = tmp_path / "samples.jsonl"
    path.write_bytes(source.read_bytes() + b'{"index": 4, "id": "to')  # killed mid-write
    records = resume_records(path, SampleRecord)
    assert [r.index for r in records] == [0, 1, 2, 3] and path.read_bytes() == source.read_bytes()
    lines = source.read_text().splitlines()
    path.write_text("\n".join([lines[0], '{"index": 1, "id": "to', *lines[1:]]) + "\n")  # damage inside the file
    with pytest.raises(FileFormatError, match="line 2 is not JSON"):
        resume_records(path, SampleRecord)


def test_run_files_that_are_named_pipes_are_refused_not_waited_on(legacy: Path) -> None:
    """A named pipe in place of a file the run folder reads (resume, merge, report, collect) would block the
    reader forever: it is refused from its ``stat``, before anything opens it (issue 24)."""
    folder = RunFolder(legacy / "run-grounding")
    rank = folder.rank(0, folder.read_manifest().world)
    reads = {"attention/shard-00000-of-00001.npz": lambda: list(folder.attention()),
             "summary.json": folder.read_summary, f"{rank.done.relative_to(folder.root)}": rank.adapter,
             f"{rank.parts.relative_to(folder.root)}/part-00000000.npz": lambda: rank.arrays(set()),
             "run.json": folder.read_manifest}
    for relative, read in reads.items():
        path = folder.root / relative
        path.unlink()
        os.mkfifo(path)
        with pytest.raises(FileFormatError, match="is a named pipe, not a regular file") as raised:
            read()
        assert str(path) in str(raised.value)
