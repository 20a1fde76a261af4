"""``vgmed eval run --protocol official`` on a tiny Qwen2-VL against a transcription of what the official VGMED
code does with its settings, written here without the project's modules (Guimeng-Leo-Liu/Medical-MLLMs-Fail:
measure_attention.py ``load_backend`` / ``process_input_image_and_qs_qwen``, eval_utils.py ``VGRefine`` /
``qwen3_vl_inference`` / ``attention_triage_qwen`` / ``attention_knockout_qwen``; qwen_vl_utils ``fetch_image``):

* measurement: the image first resized by qwen_vl_utils (multiples of 28 within 4..16384 tokens, PIL bicubic),
  then the processor with the pixel budget max 50176 / min 784 (set here through ``size``, which is what the
  official attribute assignment sets in the transformers versions where it takes effect);
* VGRefine and the answers: the checkpoint's own processor settings, the prompt
  ``f"{text} Answer the question using a single word or phrase."``, triage = the K heads' last rows over
  their layer's head-mean general map + 1e-10, blocked = under the 80th percentile, knockout = in the masked
  layers every row from ``<|vision_end|>`` to the prompt end loses the blocked image columns (prefill only),
  then ``model.generate(**inputs, max_new_tokens=64)`` with the checkpoint's generation config.

The tiny checkpoint gets a Qwen-style chat template, a real-checkpoint-like processor budget (16384*28*28,
so the checkpoint, the official measurement budget and the project's default give three different grids on a
330x190 image: 7x12, 6x10 and 7x12) and a repetition penalty in its generation config (which the official
Qwen path honours by passing only ``max_new_tokens``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.smart_resize import smart_resize
from vgmed_data.eval.tiny import build_tiny_checkpoint

SUFFIX = "Answer the question using a single word or phrase."
GENERAL = f"Write a general description of the image. {SUFFIX}"
HEADS = [(1, 0), (1, 2), (2, 1), (0, 3)]
MASKED = [2]
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% endif %}")


# ---- the official settings, transcribed ------------------------------------------------------------------------
def vl_utils_size(width: int, height: int, factor: int = 28) -> tuple[int, int]:
    """qwen_vl_utils smart_resize with its defaults (4 and 16384 tokens of factor x factor pixels)."""
    return smart_resize(width, height, factor=factor, low=4 * factor * factor, high=16384 * factor * factor)


def pre_resize(image: Image.Image) -> Image.Image:
    return image.resize(vl_utils_size(*image.size))


def chat(processor, text: str) -> str:  # noqa: ANN001
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def inputs_for(processor, image: Image.Image, text: str, *, size: dict | None = None) -> dict:  # noqa: ANN001
    saved = dict(processor.image_processor.size)
    if size is not None:
        processor.image_processor.size = size
    try:
        return dict(processor(text=[chat(processor, text)], images=[image], return_tensors="pt", padding=True))
    finally:
        processor.image_processor.size = saved


def image_range(processor, ids: torch.Tensor) -> tuple[int, int]:  # noqa: ANN001
    row = ids[0].tolist()
    return (row.index(processor.tokenizer.convert_tokens_to_ids("<|vision_start|>")) + 1,
            row.index(processor.tokenizer.convert_tokens_to_ids("<|vision_end|>")))


def eager_last_rows(model, inputs: dict) -> list[np.ndarray]:  # noqa: ANN001
    model.set_attn_implementation({"text_config": "eager"})
    try:
        with torch.inference_mode():
            out = model(**inputs, output_attentions=True, use_cache=False)
    finally:
        model.set_attn_implementation({"text_config": "sdpa"})
    return [a[0, :, -1, :].double().numpy() for a in out.attentions]


def official_vgrefine(model, processor, image: Image.Image, text: str) -> tuple[list[int], list[int], str]:  # noqa: ANN001
    """(blocked grid indices, generated tokens, decoded answer) of eval_utils.VGRefine, Qwen path."""
    prompt = f"{text} {SUFFIX}"
    q_inputs = inputs_for(processor, pre_resize(image), prompt)
    g_inputs = inputs_for(processor, pre_resize(image), GENERAL)
    pos, pos_end = image_range(processor, q_inputs["input_ids"])
    g_pos, g_end = image_range(processor, g_inputs["input_ids"])
    q_rows, g_rows = eager_last_rows(model, q_inputs), eager_last_rows(model, g_inputs)
    per_head = [q_rows[layer][head, pos:pos_end] / (g_rows[layer][:, g_pos:g_end].mean(axis=0) + 1e-10)
                for layer, head in HEADS]
    scores = np.mean(per_head, axis=0)
    blocked = np.where(scores < np.percentile(scores, 80))[0]
    # knockout: generation inputs made by the processor from the image itself (no qwen_vl_utils resize)
    inputs = inputs_for(processor, image, prompt)
    ids = inputs["input_ids"]
    assert image_range(processor, ids) == (pos, pos_end)
    length = ids.shape[1]
    rows = list(range(pos_end, length))
    columns = [pos + int(i) for i in blocked]
    layers = model.model.language_model.layers

    def replace_mask(module, args, kwargs):  # noqa: ANN001, ANN202
        hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        q_len = hidden.shape[1]
        if q_len == 1:  # decoding steps: not blocked ("Image->Question")
            return args, kwargs
        keep = torch.tril(torch.ones(q_len, q_len))
        for r in rows:
            keep[r, columns] = 0
        mask = ((1.0 - keep) * torch.finfo(hidden.dtype).min).to(hidden.dtype)[None, None]
        return args, {**kwargs, "attention_mask": mask}

    model.set_attn_implementation({"text_config": "eager"})
    handles = [layers[i].self_attn.register_forward_pre_hook(replace_mask, with_kwargs=True) for i in MASKED]
    try:
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=64)
    finally:
        for handle in handles:
            handle.remove()
        model.set_attn_implementation({"text_config": "sdpa"})
    tokens = out[0, length:].tolist()
    answer = processor.batch_decode([out[0, length:]], skip_special_tokens=True,
                                    clean_up_tokenization_spaces=False)[0]
    return blocked.tolist(), tokens, answer


# ---- the run -----------------------------------------------------------------------------------------------------
def _checkpoint(root: Path) -> Path:
    import transformers as t

    from vgmed_data.eval.adapters.qwen_processors import qwen_processor_class

    path = build_tiny_checkpoint("qwen2_vl", root / "tiny")
    official = root / "tiny-official"
    shutil.copytree(path, official)
    processor = qwen_processor_class("qwen2_vl").from_pretrained(official)
    processor.image_processor.size = {"longest_edge": 16384 * 28 * 28, "shortest_edge": 56 * 56}
    processor.chat_template = CHAT_TEMPLATE
    processor.save_pretrained(official)
    config = t.GenerationConfig.from_pretrained(official)
    config.repetition_penalty = 1.3
    config.save_pretrained(official)
    return official


def _dataset(root: Path) -> tuple[Path, list]:  # noqa: ANN202
    from vgmed_data.writer import write_config
    from vgmed_data.schema import GroundingSample, Provenance, make_sample_id

    rng = np.random.default_rng(7)
    samples = []
    for i, (size, options) in enumerate((((330, 190), ()), ((200, 150), ("liver", "spleen")))):
        pixels = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
        samples.append(GroundingSample(
            id=make_sample_id("official", str(i)), image=Image.fromarray(pixels), question=f"What is in region {i}?",
            question_type="localization", answer="liver", target="liver", boxes=[[20.0, 30.0, 150.0, 120.0]],
            box_labels=["liver"], options=options,
            provenance=Provenance(modality="CT", body_part="abdomen", source="official", source_id=str(i),
                                  license="CC0-1.0", redistributable=True, patient_id=f"p{i}")))
    write_config(root / "data", samples, config="vgmed")
    return root / "data", samples


def _run(model: Path, data: Path, out: Path, *protocol: str) -> list[dict]:
    from vgmed_data.cli import main

    (out.parent / "heads.json").write_text(json.dumps({"heads": [list(h) for h in HEADS], "masked_layers": MASKED}))
    code = main(["eval", "run", "--model", str(model), "--dataset", str(data), "--out", str(out), "--no-progress",
                 "--overlays", "0", "--method", "baseline,vgrefine", "--heads", str(out.parent / "heads.json"),
                 *protocol])
    assert code in (0, None)
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("official-protocol")
    model = _checkpoint(root)
    data, samples = _dataset(root)
    return model, data, samples, root


@pytest.fixture(scope="module")
def official_run(inputs):  # noqa: ANN001, ANN201
    model, data, samples, root = inputs
    return model, data, samples, root, _run(model, data, root / "official", "--protocol", "official")


def test_official_protocol_equals_the_official_code(official_run) -> None:  # noqa: ANN001
    from vgmed_data.eval.adapters.qwen_processors import qwen_processor_class
    from vgmed_data.eval.adapters import load_adapter

    model_path, _, samples, root, records = official_run
    processor = qwen_processor_class("qwen2_vl").from_pretrained(model_path)
    model = load_adapter(model_path).model
    measure = {"longest_edge": 50176, "shortest_edge": 784}
    for sample, record in zip(samples, records):
        image = sample.image.convert("RGB")
        assert record["protocol"] == "official"
        lettered = "\n".join([sample.question] + [f"{chr(65 + i)}. {o}" for i, o in enumerate(sample.options)]
                             + ["Answer with the option's letter from the given choices directly."])
        text = lettered if sample.options else sample.question
        # chat text: the answer (and VGRefine) prompt; the measurement prompt for the metrics
        assert record["prompt"] == chat(processor, f"{text} {SUFFIX}")
        assert record["attention_text"] == chat(processor, f"{sample.question} {SUFFIX}")
        # image grids: measurement (qwen_vl_utils resize, then the 50176 budget) and VGRefine (checkpoint's)
        thw = inputs_for(processor, pre_resize(image), f"{sample.question} {SUFFIX}", size=measure)["image_grid_thw"]
        assert record["grid"] == [int(thw[0][1]) // 2, int(thw[0][2]) // 2]
        thw = inputs_for(processor, image, f"{text} {SUFFIX}")["image_grid_thw"]
        assert record["vgrefine"]["grid"] == [int(thw[0][1]) // 2, int(thw[0][2]) // 2]
        assert record["vgrefine"]["parameters"]["percentile"] == 80.0
        # blocked set and the greedy tokens of the knocked-out generation
        blocked, tokens, answer = official_vgrefine(model, processor, image, text)
        assert record["vgrefine"]["blocked"] == blocked
        assert len(tokens) == 64 or tokens[-1] == model.generation_config.eos_token_id
        assert record["vgrefine"]["answer"] == answer.strip()
        # the baseline answer: generate with the checkpoint's settings on the checkpoint's processor
        inputs = inputs_for(processor, image, f"{text} {SUFFIX}")
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=64)
        plain = processor.batch_decode([out[0, inputs["input_ids"].shape[1]:]], skip_special_tokens=True)[0]
        assert record["prediction"] == plain.strip()
    assert records[0]["grid"] == [6, 10] and records[0]["vgrefine"]["grid"] == [7, 12]
    summary = json.loads((root / "official" / "summary.json").read_text())
    assert summary["protocol"] == "official" and summary["grids"]
    assert json.loads((root / "official" / "run.json").read_text())["protocol"] == "official"


def test_default_protocol_differs_where_documented(official_run) -> None:  # noqa: ANN001
    model, data, _, root, official = official_run
    default = _run(model, data, root / "default")
    assert default[0]["protocol"] == "default"
    assert default[0]["grid"] == [7, 12] and official[0]["grid"] == [6, 10]  # 256*28*28 vs 50176
    assert default[1]["prompt"].count(SUFFIX) == 0 and official[1]["prompt"].count(SUFFIX) == 1  # closed question
    assert default[0]["vgrefine"]["parameters"]["percentile"] == 50.0


def test_official_protocol_refuses_the_flags_it_sets(inputs, capsys) -> None:  # noqa: ANN001
    from vgmed_data.cli import main

    model, data, _, root = inputs
    for flag in (["--max-pixels", "1000"], ["--min-pixels", "784"], ["--max-new-tokens", "3"], ["--percentile", "50"],
                 ["--query", "question_mean"], ["--attention-prompt", "answer"]):
        code = main(["eval", "run", "--model", str(model), "--dataset", str(data), "--out", str(root / "refused"),
                     "--protocol", "official", *flag])
        assert code == 2
        assert "--protocol official" in capsys.readouterr().err


def test_select_under_the_official_protocol_measures_only(inputs) -> None:  # noqa: ANN001
    from vgmed_data.cli import main

    model, data, _, root = inputs
    out = root / "select" / "heads.json"
    assert main(["eval", "select", "--model", str(model), "--dataset", str(data), "--out", str(out), "--k", "3",
                 "--protocol", "official", "--split", "test", "--no-progress"]) in (0, None)
    chosen = json.loads(out.read_text())
    assert chosen["protocol"] == "official" and len(chosen["heads"]) == 3
    records = [json.loads(line) for line in (root / "select" / "heads-run" / "samples.jsonl").read_text().splitlines()]
    assert records[0]["grid"] == [6, 10]  # the official measurement budget
    assert all("prediction" not in r and r["protocol"] == "official" for r in records)  # nothing generated
