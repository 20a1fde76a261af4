"""``--attention-prompt``: which prompt the grounding metrics of a closed question are captured on.

The reference here is built independently of the evaluator's prompt code: the prompt texts are written out from
the official definitions (FACTS.md), the maps come from an eager ``output_attentions`` forward of the same
checkpoint, and the metrics from the straightforward formulas of ``tests/eval/test_metrics.py``. Tolerance:
1e-4 relative / 1e-5 absolute on the metrics (the records round to 6 decimals; capture vs eager differs by
< 1e-6 on the probabilities).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vgmed_data.eval.cli import register
from vgmed_data.eval.data import EvalSample, iter_samples
from vgmed_data.eval.runner import EvalConfig, run_eval
from tests.eval.data import record_dicts, write_tiny_dataset
from tests.eval.test_metrics import ref_ar, ref_js, ref_kl, ref_mask
from vgmed_data.errors import InvalidInputError

# The official VGMED prompts, written out here (not taken from eval.adapters).
OFFICIAL = "{question} Answer the question using a single word or phrase."
GENERAL = "Write a general description of the image. Answer the question using a single word or phrase."
LETTER_INSTRUCTION = "Answer with the option's letter from the given choices directly."
CLOSED = (1, 3)  # dataset rows posed with options


def lettered(question: str, options: tuple[str, ...]) -> str:
    return "\n".join([question, *(f"{chr(ord('A') + i)}. {o}" for i, o in enumerate(options)), LETTER_INSTRUCTION])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("ds") / "vgmed", 5, without_boxes=(2,), with_options=CLOSED)


def _run(model: Path, dataset: Path, out: Path, **kwargs: object) -> list[dict]:
    run_eval(EvalConfig(model=str(model), dataset=str(dataset), out=out, progress=False, overlays=1,
                        max_new_tokens=3, **kwargs))  # type: ignore[arg-type]
    return record_dicts(out / "samples.jsonl")


def _eager_maps(eager, image, user_text: str) -> tuple[np.ndarray, object]:  # noqa: ANN001
    """``[layers, heads, N]`` last-row attention over the image tokens from eager ``output_attentions``."""
    encoded = eager.encode([image], [user_text])
    with torch.no_grad():
        out = eager.model(**encoded.inputs, output_attentions=True)
    assert len(out.attentions) == eager.num_layers
    layout = encoded.layouts[0]
    rows = torch.stack([layer[0, :, -1, :] for layer in out.attentions]).double().numpy()
    return rows[..., layout.positions], layout


def _reference_metrics(eager, sample: EvalSample, user_text: str) -> dict[str, list[float]]:  # noqa: ANN001
    image = sample.image()
    q, layout = _eager_maps(eager, image, user_text)
    g, _ = _eager_maps(eager, image, GENERAL)
    gt = ref_mask(sample.boxes, layout.transform.dst_size, image.size, layout.grid)
    out: dict[str, list[float]] = {"ar": [], "kl": [], "js": []}
    for layer in range(q.shape[0]):
        a = list(q[layer].mean(axis=0) / g[layer].mean(axis=0))
        out["ar"].append(ref_ar(a, gt))
        out["kl"].append(ref_kl(a, gt))
        out["js"].append(ref_js(a, gt))
    return out


def _assert_metrics(record: dict, expected: dict[str, list[float]]) -> None:
    for name, values in expected.items():
        np.testing.assert_allclose(record["metrics"][name], values, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("family", ["qwen2_vl", "llava"])
def test_closed_question_metrics_come_from_the_official_prompt(family: str, tiny_checkpoint, dataset: Path,  # noqa: ANN001
                                                               tmp_path: Path) -> None:
    from vgmed_data.eval.adapters import load_adapter

    model = tiny_checkpoint(family)
    # Batch 4: the two closed questions share the extra capture pass (left padded against each other).
    official = _run(model, dataset, tmp_path / "official", batch_size=4)
    answer = _run(model, dataset, tmp_path / "answer", batch_size=4, attention_prompt="answer")
    eager = load_adapter(model, attn_implementation="eager")
    samples = {s.index: s for s in iter_samples(str(dataset), config="vgmed", split="test")}
    for off, ans in zip(official, answer):
        sample = samples[off["index"]]
        assert off["prediction"] == ans["prediction"] and off["prompt"] == ans["prompt"]  # answers: lettered prompt
        assert off["attention_prompt"] == "official" and ans["attention_prompt"] == "answer"
        assert ans["attention_text"] == ans["prompt"] and "attention_s" not in ans["timings"]
        if off["index"] not in CLOSED:  # open: one prompt, no extra pass, identical metrics
            assert off["attention_text"] == off["prompt"] and "attention_s" not in off["timings"]
            assert off.get("metrics") == ans.get("metrics")
            continue
        official_text = OFFICIAL.format(question=sample.question)
        lettered_text = lettered(sample.question, sample.options)
        assert lettered_text in off["prompt"] and "A. liver" not in off["attention_text"]
        assert off["attention_text"] == eager.chat_text(official_text) and "attention_s" in off["timings"]
        _assert_metrics(off, _reference_metrics(eager, sample, official_text))
        _assert_metrics(ans, _reference_metrics(eager, sample, lettered_text))
        assert off["metrics"]["ar"] != ans["metrics"]["ar"]
    # The stored question maps are the ones the metrics used.
    closed_id = official[CLOSED[0]]["id"]
    reference, _ = _eager_maps(eager, samples[CLOSED[0]].image(),
                               OFFICIAL.format(question=samples[CLOSED[0]].question))
    with np.load(tmp_path / "official" / "attention" / "shard-00000-of-00001.npz") as data:
        np.testing.assert_allclose(data[f"{closed_id}__question"].astype(np.float64), reference, atol=1e-3, rtol=1e-2)


def test_setting_is_recorded_and_resume_refuses_another(tiny_checkpoint, dataset: Path, tmp_path: Path) -> None:  # noqa: ANN001
    model = tiny_checkpoint("qwen2_vl")
    _run(model, dataset, tmp_path, limit=2)
    assert json.loads((tmp_path / "run.json").read_text())["attention_prompt"] == "official"
    assert json.loads((tmp_path / "summary.json").read_text())["attention_prompt"] == "official"
    assert "Attention prompt: official." in (tmp_path / "summary.md").read_text()
    with pytest.raises(InvalidInputError, match="other settings"):
        _run(model, dataset, tmp_path, limit=2, attention_prompt="answer")
    base = {"model": "m", "dataset": "d", "out": tmp_path}
    assert (EvalConfig(**base).fingerprint()  # type: ignore[arg-type]
            != EvalConfig(**base, attention_prompt="answer").fingerprint())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="attention prompt"):
        EvalConfig(**base, attention_prompt="lettered")  # type: ignore[arg-type]


def test_cli_flag() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    register(parser)
    args = parser.parse_args(["run", "--model", "m", "--dataset", "d", "--out", "o"])
    assert args.attention_prompt == "official"
    args = parser.parse_args(["run", "--model", "m", "--dataset", "d", "--out", "o", "--attention-prompt", "answer"])
    assert args.attention_prompt == "answer"
