"""The typed run plan (eval/choices.py, eval/plan.py): choices become enums where they enter (the command line,
``EvalConfig``, ``run.json``), ``protocol`` is a field of ``run.json``, and run folders written by the code before
the plan still read, keep their fingerprint and resume.

Golden values come from files the earlier code wrote: ``legacy_runs/run-grounding`` (before ``--protocol``
existed; its README has the command) and, for a run with ``--protocol``, the keys that code wrote at the top of
``run.json`` (``protocol``, ``min_pixels``, ``max_pixels`` from its untyped ``extra``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.eval.data import write_tiny_dataset
from vgmed_data.cli import main
from vgmed_data.errors import FileFormatError, InvalidInputError
from vgmed_data.eval.choices import AttentionPrompt, BoxMapping, Method, Protocol, QueryMode
from vgmed_data.eval.config import EvalConfig
from vgmed_data.eval.plan import plan_run
from vgmed_data.eval.run_folder import Manifest, RunFolder
from vgmed_data.eval.vgrefine.options import VGRefineOptions

LEGACY = Path(__file__).parent / "legacy_runs" / "run-grounding"
# legacy_runs/README.md: the command that wrote run-grounding (before --protocol and the box mapping existed)
LEGACY_ARGS = ("--model", "tiny-qwen2_vl", "--dataset", "dataset", "--out", "run-grounding", "--method",
               "baseline,vgrefine", "--heads", "heads.json", "--overlays", "0", "--no-progress",
               "--max-new-tokens", "4")


def _legacy_manifest() -> dict[str, Any]:
    return json.loads((LEGACY / "run.json").read_text())


def test_run_json_without_protocol_means_the_default_and_round_trips() -> None:
    data = _legacy_manifest()
    manifest = Manifest.from_json(data)
    assert manifest.protocol is None and manifest.run_protocol is Protocol.DEFAULT
    assert manifest.query is QueryMode.LAST and manifest.attention_prompt is AttentionPrompt.OFFICIAL
    assert manifest.methods == (Method.BASELINE, Method.VGREFINE)
    assert all(type(m) is Method for m in manifest.methods)
    assert manifest.to_json() == data and "protocol" not in manifest.to_json()  # nothing added to an old file


def test_run_json_written_with_protocol_in_the_untyped_extras_reads_it_as_a_field(tmp_path: Path) -> None:
    # what the earlier code wrote for `--protocol official`: protocol, min_pixels and max_pixels were extras
    data = {**_legacy_manifest(), "protocol": "official", "min_pixels": None, "max_pixels": None,
            "box_mapping": "input_scale"}
    manifest = Manifest.from_json(data)
    assert manifest.protocol is Protocol.OFFICIAL and manifest.box_mapping is BoxMapping.INPUT_SCALE
    assert "protocol" not in manifest.extra and manifest.extra == {"min_pixels": None, "max_pixels": None}
    assert manifest.to_json() == data
    (tmp_path / "run.json").write_text(json.dumps({**data, "protocol": "paper"}))
    with pytest.raises(FileFormatError, match="run.json cannot be read.*protocol 'paper'") as caught:
        RunFolder(tmp_path).read_manifest()
    assert caught.value.fix and "re-run" in caught.value.fix


def test_records_hold_their_protocol_and_answer_grid_typed() -> None:
    from vgmed_data.eval.run_folder import SampleRecord, read_records

    (legacy, *_) = read_records(LEGACY / "samples.jsonl", SampleRecord)
    assert legacy.protocol is None and legacy.answer_grid is None  # written before both
    # what the earlier code wrote for an answered record of the official Qwen path (its untyped extras)
    data = {**legacy.to_json(), "protocol": "official", "answer_grid": [4, 6]}
    record = SampleRecord.from_json(data)
    assert record.protocol is Protocol.OFFICIAL and record.answer_grid == (4, 6) and not record.extra
    assert record.to_json() == data


def test_the_fingerprint_of_a_run_from_before_the_plan_is_unchanged(tmp_path: Path) -> None:
    cfg = EvalConfig(model="tiny-qwen2_vl", dataset="dataset", out=tmp_path, methods=("baseline", "vgrefine"),
                     vgrefine=VGRefineOptions(heads=((1, 0), (1, 1), (1, 2)), masked_layers=(2,)), max_new_tokens=4)
    # written before the box mapping was recorded: its fingerprint is the settings' without the mapping
    assert cfg.unmapped_fingerprint() == _legacy_manifest()["fingerprint"]
    assert cfg.methods == (Method.BASELINE, Method.VGREFINE) and cfg.protocol is Protocol.DEFAULT


def test_the_configuration_parses_text_once_and_refuses_unknown_choices(tmp_path: Path) -> None:
    cfg = EvalConfig(model="m", dataset="d", out=tmp_path, protocol="official", query="last", dtype="bfloat16")
    assert cfg.protocol is Protocol.OFFICIAL and cfg.manifest(1).protocol is Protocol.OFFICIAL
    assert json.loads(json.dumps(cfg.manifest(1).to_json()))["protocol"] == "official"
    with pytest.raises(InvalidInputError, match="unknown protocol 'paper'") as caught:
        EvalConfig(model="m", dataset="d", out=tmp_path, protocol="paper")
    assert "default, official" in str(caught.value.fix)


def test_the_plan_resolves_the_protocol_once_for_the_family(tmp_path: Path) -> None:
    official = plan_run(EvalConfig(model="m", dataset="d", out=tmp_path, protocol=Protocol.OFFICIAL),
                        family="qwen2_vl", num_layers=3)
    # the official Qwen path (measure_attention.py load_backend; eval_utils.py qwen3_vl_inference)
    assert (official.measure.max_pixels, official.measure.min_pixels, official.measure.pre_resize) == (50176, 784, True)
    assert (official.answer.max_pixels, official.answer.checkpoint_generation, official.answer.max_new_tokens) == (
        0, True, 64)
    assert official.layers == (0, 1, 2) and official.separate_answers
    default = plan_run(EvalConfig(model="m", dataset="d", out=tmp_path, max_pixels=3136, layers=(1,)),
                       family="qwen2_vl", num_layers=3)
    assert default.measure == default.answer and default.measure.max_pixels == 3136 and not default.separate_answers
    assert default.layers == (1,) and default.settings.box_mapping is BoxMapping.PADDING_AWARE


def test_an_old_run_folder_resumes_through_the_cli_and_merges_to_its_bytes(
        tiny_checkpoint: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(LEGACY, tmp_path / "run-grounding")
    shutil.copytree(tiny_checkpoint("qwen2_vl"), tmp_path / "tiny-qwen2_vl")
    write_tiny_dataset(tmp_path / "dataset", 4, without_boxes=(3,), with_options=(1,))
    (tmp_path / "heads.json").write_text(json.dumps({"heads": [[1, 0], [1, 1], [1, 2]], "masked_layers": [2]}))
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "run", *LEGACY_ARGS]) == 0, capsys.readouterr().err
    run = tmp_path / "run-grounding"
    assert (run / "run.json").read_bytes() == (LEGACY / "run.json").read_bytes()  # accepted, not rewritten
    assert (run / "samples.jsonl").read_bytes() == (LEGACY / "samples.jsonl").read_bytes()  # nothing re-run
    assert RunFolder(run).read_manifest().run_protocol is Protocol.DEFAULT


def test_the_hub_job_spec_is_refused_by_the_command_it_will_run() -> None:
    from vgmed_data.eval.results.jobs import HubJobSpec, job_config

    common = {"model": "org/model", "dataset": "org/VGMED", "results_repo": "vgmed-test/results"}
    spec = HubJobSpec(**common, method="baseline,vgrefine", heads="preset:huatuogpt-vision-7b",
                      extra_args=("--protocol", "official"))
    cfg = job_config(spec)
    assert cfg.protocol is Protocol.OFFICIAL and cfg.methods == (Method.BASELINE, Method.VGREFINE)
    assert cfg.vgrefine is not None and cfg.vgrefine.percentile == 80.0  # the official percentile, as in the job
    with pytest.raises(InvalidInputError, match="sets --max-new-tokens itself"):
        HubJobSpec(**common, extra_args=("--protocol", "official", "--max-new-tokens", "5"))
    with pytest.raises(InvalidInputError, match="--dtype: invalid choice: 'float64'"):
        HubJobSpec(**common, dtype="float64")
    with pytest.raises(InvalidInputError, match="needs --heads"):
        HubJobSpec(**common, method="vgrefine")
