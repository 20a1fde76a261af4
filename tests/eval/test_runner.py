"""The runner end to end on tiny models: every family, batch equivalence, resume, ranks, bad input, OOM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vgmed_data.eval.runner import EvalConfig, run_eval
from vgmed_data.eval.tiny import TINY_FAMILIES
from tests.eval.data import record_dicts, stripped_records, tiny_samples, write_tiny_dataset
from vgmed_data.writer import write_config


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("ds") / "vgmed", 6, without_boxes=(2,), with_options=(1,))


def _cfg(model: Path, dataset: Path, out: Path, **kwargs: object) -> EvalConfig:
    return EvalConfig(model=str(model), dataset=str(dataset), out=out, progress=False, overlays=2, **kwargs)  # type: ignore[arg-type]


def _records(out: Path) -> list[dict]:
    return stripped_records(out)


def _close(a: list[dict], b: list[dict], tol: float = 1e-4) -> None:
    assert [r["id"] for r in a] == [r["id"] for r in b]
    for x, y in zip(a, b):
        assert x.get("prediction") == y.get("prediction") and x["status"] == y["status"]
        for name in ("ar", "kl", "js", "epg"):
            if "metrics" in x:
                np.testing.assert_allclose(x["metrics"][name], y["metrics"][name], atol=tol, rtol=tol)


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_every_family_end_to_end(family: str, tiny_checkpoint, dataset: Path, tmp_path: Path) -> None:  # noqa: ANN001
    summary = run_eval(_cfg(tiny_checkpoint(family), dataset, tmp_path, limit=3, max_new_tokens=4))
    assert summary is not None and summary["random_weights"] is True
    assert summary["counts"] == {"samples": 3, "answered": 3, "grounded": 2,
                                 "skipped": {"grounding: no boxes": 1}}
    records = _records(tmp_path)
    layers = summary["layers"]
    assert layers == list(range(3))
    first = records[0]
    assert len(first["metrics"]["ar"]) == 3 and first["prompt"].count("Answer the question") == 1
    with np.load(tmp_path / "attention" / "shard-00000-of-00001.npz") as data:
        q = data[f"{first['id']}__question"]
        assert q.dtype == np.float16 and q.shape[:2] == (3, 4) and q.shape[2] == np.prod(first["grid"])
    assert (tmp_path / "layers.png").stat().st_size > 1000
    assert len(summary["files"]["overlays"]) == 2
    markdown = (tmp_path / "summary.md").read_text()
    assert "random weights" in markdown and "| modality | CT |" in markdown and "| layer |" in markdown


@pytest.mark.parametrize("family", ["qwen2_vl", "llava_next", "gemma3"])
def test_batching_with_left_padding_equals_batch_one(family: str, tiny_checkpoint, dataset: Path,  # noqa: ANN001
                                                     tmp_path: Path) -> None:
    one = run_eval(_cfg(tiny_checkpoint(family), dataset, tmp_path / "b1", batch_size=1, max_new_tokens=4))
    four = run_eval(_cfg(tiny_checkpoint(family), dataset, tmp_path / "b4", batch_size=4, max_new_tokens=4))
    assert one["counts"] == four["counts"]
    _close(_records(tmp_path / "b1"), _records(tmp_path / "b4"))


def test_resume_after_kill_equals_uninterrupted(tiny_checkpoint, dataset: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from vgmed_data.eval.adapters import load_adapter

    model = tiny_checkpoint("qwen2_vl")
    run_eval(_cfg(model, dataset, tmp_path / "full", batch_size=2, max_new_tokens=4))
    # A run killed during its third batch: a hook on the real model raises inside the third batch
    # (per batch: a prefill and up to 3 decode steps of generate, 1 official-prompt capture forward when the
    # batch holds a closed question (row 1: the first batch), then 1 general-prompt forward).
    adapter = load_adapter(model)
    calls = {"n": 0}

    def kill(module, args, kwargs):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt

    handle = adapter.model.register_forward_pre_hook(kill, with_kwargs=True)
    with pytest.raises(KeyboardInterrupt):
        run_eval(_cfg(model, dataset, tmp_path / "resumed", batch_size=2, max_new_tokens=4), adapter=adapter)
    handle.remove()
    partial = record_dicts(tmp_path / "resumed" / "ranks" / "rank-00000-of-00001" / "samples.jsonl")
    assert 0 < len(partial) < 6
    with (tmp_path / "resumed" / "ranks" / "rank-00000-of-00001" / "samples.jsonl").open("a") as sink:
        sink.write('{"index": 5, "id": "torn')  # killed mid-write
    run_eval(_cfg(model, dataset, tmp_path / "resumed", batch_size=2, max_new_tokens=4))
    assert _records(tmp_path / "full") == _records(tmp_path / "resumed")
    full = json.loads((tmp_path / "full" / "summary.json").read_text())
    resumed = json.loads((tmp_path / "resumed" / "summary.json").read_text())
    assert full["overall"] == resumed["overall"]


def test_resume_with_other_settings_is_refused(tiny_checkpoint, dataset: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from vgmed_data.errors import InvalidInputError

    run_eval(_cfg(tiny_checkpoint("qwen2_vl"), dataset, tmp_path, limit=1, max_new_tokens=2))
    with pytest.raises(InvalidInputError, match="other settings"):
        run_eval(_cfg(tiny_checkpoint("qwen2_vl"), dataset, tmp_path, limit=1, max_new_tokens=3))


def test_ranks_shard_deterministically_and_merge_equals_single(tiny_checkpoint, dataset: Path, tmp_path: Path,  # noqa: ANN001
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_checkpoint("qwen2_vl")
    run_eval(_cfg(model, dataset, tmp_path / "single", max_new_tokens=4, layers=(0, 2)))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert run_eval(_cfg(model, dataset, tmp_path / "multi", max_new_tokens=4, layers=(0, 2))) is None
    rank1 = record_dicts(tmp_path / "multi" / "ranks" / "rank-00001-of-00002" / "samples.jsonl")
    assert [r["index"] for r in rank1] == [1, 3, 5]
    monkeypatch.setenv("RANK", "0")
    summary = run_eval(_cfg(model, dataset, tmp_path / "multi", max_new_tokens=4, layers=(0, 2)))
    assert summary is not None
    assert _records(tmp_path / "single") == _records(tmp_path / "multi")
    assert sorted(p.name for p in (tmp_path / "multi" / "attention").iterdir()) == [
        "shard-00000-of-00002.npz", "shard-00001-of-00002.npz"]


def test_bad_inputs_are_counted_skips(tiny_checkpoint, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = [s.to_row() for s in tiny_samples(3)]
    rows[0]["boxes"] = [[0.0, 0.0, 10_000.0, 5.0]]  # box outside the image (written as a raw row)
    from PIL import Image

    from vgmed_data.schema import encode_png

    rows[1]["image"] = {"bytes": encode_png(Image.new("RGB", (400, 1))), "path": None}  # processor rejects it
    rows[1]["width"], rows[1]["height"] = 400, 1
    folder = tmp_path / "bad"
    write_config(folder, rows, config="vgmed")
    summary = run_eval(_cfg(tiny_checkpoint("qwen2_vl"), folder, tmp_path / "out", max_new_tokens=2))
    skipped = summary["counts"]["skipped"]
    assert skipped["grounding: bad box"] == 1
    assert sum(v for k, v in skipped.items() if k.startswith("skipped")) == 1
    assert summary["counts"]["grounded"] == 1
    assert skipped["skipped: image rejected by the processor"] == 1  # counted by the error's reason field
    records = _records(tmp_path / "out")
    assert records[0]["grounding_skip"] == "bad box" and "outside" in records[0]["grounding_skip_detail"]
    assert records[1]["status"] == "skipped" and records[1]["skip_reason"] == "image rejected by the processor"
    assert records[1]["id"] in records[1]["skip_detail"]
    assert "warning" not in capsys.readouterr().err  # skip (the default) counts quietly
    run_eval(_cfg(tiny_checkpoint("qwen2_vl"), folder, tmp_path / "warn", max_new_tokens=2, on_bad_sample="warn"))
    assert _records(tmp_path / "warn") == records  # warn skips exactly as skip does, and says so on stderr
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("vgmed: warning: skipped")]
    assert warnings == [f"vgmed: warning: skipped sample {records[0]['id']} (grounding metrics): bad box: "
                        f"{records[0]['grounding_skip_detail']}",
                        f"vgmed: warning: skipped sample {records[1]['id']}: image rejected by the processor: "
                        f"{records[1]['skip_detail']}"]
    from vgmed_data.errors import GeometryError

    with pytest.raises(GeometryError, match=records[0]["id"]):
        run_eval(_cfg(tiny_checkpoint("qwen2_vl"), folder, tmp_path / "strict", max_new_tokens=2,
                      on_bad_sample="error"))


def test_out_of_memory_is_recorded_per_sample(tiny_checkpoint, dataset: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from vgmed_data.eval.adapters import load_adapter

    adapter = load_adapter(tiny_checkpoint("qwen2_vl"))
    target = {"grid": None}
    sample = tiny_samples(6, without_boxes=(2,), with_options=(1,))[3]
    grid = adapter.encode([sample.image.convert("RGB")], ["x"]).inputs["image_grid_thw"][0].tolist()

    def oom(module, args, kwargs):  # noqa: ANN001, ANN202
        thw = kwargs.get("image_grid_thw")
        if thw is not None and grid in thw.tolist():
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    handle = adapter.model.register_forward_pre_hook(oom, with_kwargs=True)
    try:
        summary = run_eval(_cfg(tiny_checkpoint("qwen2_vl"), dataset, tmp_path, batch_size=4, max_new_tokens=2),
                           adapter=adapter)
    finally:
        handle.remove()
    records = _records(tmp_path)
    oom_ids = [r["id"] for r in records if r["status"] == "oom"]
    assert sample.id in oom_ids
    assert all(r["status"] == "ok" for r in records if r["id"] not in oom_ids)
    assert any(k.startswith("oom") for k in summary["counts"]["skipped"])
    assert target["grid"] is None
