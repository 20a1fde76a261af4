"""MedVLM-R1 from a tiny checkpoint in its published layout (one bfloat16 ``model.safetensors``, flat Qwen2-VL
``config.json``, ``preprocessor_config.json``, ``chat_template.json``): it loads through the ``qwen2_vl`` adapter,
its weights come from the legacy names, and the prompt is its chat template rendered independently. Capture equals
eager, fast VGRefine equals naive and the prompt snapshot run on it with every family (it is in TINY_FAMILIES)."""

from __future__ import annotations

import json

import jinja2
import torch
from safetensors.torch import load_file

from vgmed_data.eval.adapters import GENERAL_PROMPT, question_prompt

NAME = "medvlm_r1"


def test_published_layout(tiny_checkpoint) -> None:  # noqa: ANN001
    folder = tiny_checkpoint(NAME)
    assert not list(folder.glob("model-*.safetensors")) and (folder / "model.safetensors").exists()
    assert not (folder / "processor_config.json").exists() and not (folder / "chat_template.jinja").exists()
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "qwen2_vl" and "text_config" not in config  # flat, as Qwen2-VL published it
    assert config["rope_scaling"]["type"] == "mrope" and config["tie_word_embeddings"] is True
    assert json.loads((folder / "preprocessor_config.json").read_text())["image_processor_type"] == (
        "Qwen2VLImageProcessor")


def test_prompt_is_the_checkpoint_chat_template(tiny_checkpoint, tiny_adapters) -> None:  # noqa: ANN001
    template = json.loads((tiny_checkpoint(NAME) / "chat_template.json").read_text())["chat_template"]
    adapter = tiny_adapters(NAME)
    assert adapter.family == "qwen2_vl" and adapter.checkpoint is None  # a plain Qwen2-VL checkpoint
    for text in (question_prompt("Which organ is in the box?"), GENERAL_PROMPT):
        expected = jinja2.Environment().from_string(template).render(
            messages=[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}],
            add_generation_prompt=True)
        assert adapter.chat_text(text) == expected


def test_weights_come_from_the_legacy_names(tiny_checkpoint, tiny_adapters) -> None:  # noqa: ANN001
    loaded = tiny_adapters(NAME).model.state_dict()
    stored = load_file(str(tiny_checkpoint(NAME) / "model.safetensors"))
    renamed = {"model.": "model.language_model.", "visual.": "model.visual."}
    for name, tensor in stored.items():
        old = next(prefix for prefix in renamed if name.startswith(prefix))
        target = renamed[old] + name[len(old):]
        assert tensor.dtype == torch.bfloat16 and torch.equal(loaded[target], tensor.to(loaded[target].dtype)), name
    embedding = loaded["model.language_model.embed_tokens.weight"]
    assert torch.equal(loaded["lm_head.weight"], embedding)  # tied, as the 2B model's config says
