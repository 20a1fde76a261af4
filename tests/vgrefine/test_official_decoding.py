"""The fast path's decoding under the official protocol's generation settings equals ``generate`` (the naive
reference): the checkpoint's repetition penalty (official Qwen path: only ``max_new_tokens`` is passed) and
``min_new_tokens`` (official HuatuoGPT bot: exactly one token, never end-of-sequence)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from vgmed_data.eval.adapters import question_prompt
from vgmed_data.eval.vgrefine import VGRefineOptions, vgrefine_fast, vgrefine_naive

QUESTION = question_prompt("What organ is in region 3?")
OPTIONS = VGRefineOptions(heads=[(0, 1), (1, 3), (2, 0)], masked_layers=[1])


@pytest.fixture()
def restore(tiny_adapter):  # noqa: ANN001, ANN201
    """Give back the adapter options and generation config the test changed (the adapters are shared)."""
    saved: list = []

    def keep(adapter):  # noqa: ANN001, ANN202
        saved.append((adapter, adapter.options, adapter.model.generation_config.to_dict()))
        return adapter

    yield keep
    for adapter, options, config in saved:
        adapter.set_options(options)
        for key in ("repetition_penalty", "eos_token_id"):
            setattr(adapter.model.generation_config, key, config.get(key))


def test_checkpoint_repetition_penalty_is_applied_like_generate(tiny_adapter, image, restore) -> None:  # noqa: ANN001
    adapter = restore(tiny_adapter("qwen2_vl"))
    plain_fast = vgrefine_fast(adapter, image, QUESTION, options=OPTIONS, max_new_tokens=8).answer.tokens
    adapter.set_options(replace(adapter.options, checkpoint_generation=True, max_new_tokens=8))
    adapter.model.generation_config.repetition_penalty = 3.0
    naive = vgrefine_naive(adapter, image, QUESTION, options=OPTIONS)
    fast = vgrefine_fast(adapter, image, QUESTION, options=OPTIONS)
    assert fast.answer.tokens == naive.answer.tokens
    assert fast.answer.tokens != plain_fast  # the penalty changed the answer, so the comparison means something


def test_min_new_tokens_keeps_end_of_sequence_out(tiny_adapter, image, restore) -> None:  # noqa: ANN001
    adapter = restore(tiny_adapter("llava"))
    adapter.set_options(replace(adapter.options, max_new_tokens=1, min_new_tokens=None))
    first = vgrefine_fast(adapter, image, QUESTION, options=OPTIONS).answer.tokens[0]
    adapter.model.generation_config.eos_token_id = first  # the arg-max is now end-of-sequence
    adapter.set_options(replace(adapter.options, max_new_tokens=1, min_new_tokens=1))
    naive = vgrefine_naive(adapter, image, QUESTION, options=OPTIONS)
    fast = vgrefine_fast(adapter, image, QUESTION, options=OPTIONS)
    assert len(fast.answer.tokens) == 1 and fast.answer.tokens == naive.answer.tokens
    assert fast.answer.tokens[0] != first
    assert torch.equal(fast.answer.first_logits.argmax(), torch.tensor(first))  # raw logits kept
