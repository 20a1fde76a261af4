"""HuatuoGPT-Vision-7B-hf (the authors' transformers-LLaVA release) from a tiny checkpoint in its published layout:
detection, the authors' prompt, the image-token expansion from a processor config without ``patch_size``, and the
weights read from the legacy shard names. Capture equals eager, fast VGRefine equals naive and the prompt snapshot
run on it with every family (it is in TINY_FAMILIES)."""

from __future__ import annotations

import json
from dataclasses import replace

import jinja2
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.adapters import GENERAL_PROMPT, question_prompt
from vgmed_data.eval.adapters.llava import HUATUOGPT_VISION_HF, LlavaAdapter

NAME = "huatuogpt_vision_7b_hf"
# The template the model card (FreedomIntelligence/HuatuoGPT-Vision-7B-hf, README.md at Hub commit a092ca6) passes to
# vLLM with --chat-template, as published.
CARD_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' -%}\n    {%- set system_message = messages[0]['content'] -%}\n"
    "    {%- set messages = messages[1:] -%}\n{%- else -%}\n    {% set system_message = '' -%}\n{%- endif -%}\n\n"
    "{%- for message in messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}\n"
    "    {%- endif -%}\n\n    {%- if message['role'] == 'user' -%}\n"
    "        {{ '<|user|>\\n' + message['content'] + '\\n' }}\n    {%- elif message['role'] == 'assistant' -%}\n"
    "        {{ '<|assistant|>\\n' + message['content'] + '\\n' }}\n    {%- endif -%}\n{%- endfor -%}\n\n"
    "{%- if add_generation_prompt -%}\n    {{ '<|assistant|>' }}\n{% endif %}")


def card_prompt(text: str) -> str:
    """The card's template rendered independently; vLLM's OpenAI server hands a LLaVA model the image placeholder,
    a newline and the text as one user message (vllm/entrypoints/chat_utils.py)."""
    environment = jinja2.Environment()
    return environment.from_string(CARD_TEMPLATE).render(
        messages=[{"role": "user", "content": "<image>\n" + text}], add_generation_prompt=True)


def test_published_layout(tiny_checkpoint) -> None:  # noqa: ANN001
    folder = tiny_checkpoint(NAME)
    shards = sorted(p.name for p in folder.glob("model-*.safetensors"))
    assert shards == [f"model-0000{i}-of-00004.safetensors" for i in range(1, 5)]
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == set(shards)
    prefixes = {name.split(".")[0] for name in index["weight_map"]}
    assert prefixes == {"language_model", "vision_tower", "multi_modal_projector"}  # transformers 4.4x names
    config = json.loads((folder / "config.json").read_text())
    assert (config["model_type"], config["text_config"]["model_type"]) == ("llava", "qwen2")
    assert "patch_size" not in json.loads((folder / "processor_config.json").read_text())
    assert HUATUOGPT_VISION_HF.matches(config)


def test_loads_with_the_authors_prompt_and_expands_the_image(tiny_adapters) -> None:  # noqa: ANN001
    adapter = tiny_adapters(NAME)
    assert adapter.checkpoint is HUATUOGPT_VISION_HF and adapter.describe()["checkpoint"] == NAME
    for text in (question_prompt("Which organ is in the box?"), GENERAL_PROMPT,
                 question_prompt("Which organ?", ("liver", "spleen"))):
        assert adapter.chat_text(text) == card_prompt(text)
    image = Image.fromarray(np.full((70, 100, 3), 90, dtype=np.uint8))
    encoded = adapter.encode([image], [GENERAL_PROMPT])
    ids = encoded.inputs["input_ids"][0].tolist()
    positions = [i for i, token in enumerate(ids) if token == adapter.image_token_id]
    side = 56 // 14  # the tiny CLIP input over its patch size; CLS dropped
    assert len(positions) == side * side and positions == list(range(positions[0], positions[0] + side * side))
    assert encoded.layouts[0].grid == (side, side)
    prefix = adapter.tokenizer("<|user|>\n", add_special_tokens=False)["input_ids"]
    assert ids[:len(prefix)] == prefix and adapter.tokenizer.bos_token is None  # no BOS, as the card's template


def test_weights_come_from_the_legacy_shard_names(tiny_checkpoint, tiny_adapters) -> None:  # noqa: ANN001
    folder = tiny_checkpoint(NAME)
    loaded = tiny_adapters(NAME).model.state_dict()
    renamed = {"language_model.model.": "model.language_model.", "language_model.lm_head.": "lm_head.",
               "vision_tower.": "model.vision_tower.", "multi_modal_projector.": "model.multi_modal_projector."}
    seen = 0
    for shard in folder.glob("model-*.safetensors"):
        for name, tensor in load_file(str(shard)).items():
            old = next(prefix for prefix in renamed if name.startswith(prefix))
            target = renamed[old] + name[len(old):]
            assert torch.equal(loaded[target], tensor.to(loaded[target].dtype)), target
            seen += 1
    assert seen == len(loaded)


def test_other_llava_checkpoints_keep_their_own_prompt(tiny_adapters) -> None:  # noqa: ANN001
    adapter = tiny_adapters("llava")  # a Llama text model: not this checkpoint
    assert adapter.checkpoint is None
    assert adapter.chat_text("Hi").startswith(adapter.tokenizer.bos_token + "USER: <image>\nHi")


def test_descriptor_refuses_a_published_template_without_placeholders() -> None:
    broken = replace(HUATUOGPT_VISION_HF, template="<|user|>\n{text}\n<|assistant|>\n")
    with pytest.raises(InvalidInputError, match="needs"):
        replace(LlavaAdapter.descriptor, checkpoints=(broken,))
    assert not replace(HUATUOGPT_VISION_HF, detect=()).matches({"model_type": "llava"})  # no rule, no match
