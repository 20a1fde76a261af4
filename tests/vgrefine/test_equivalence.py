"""The fast path equals the naive three-pass reference on tiny models of every family (float32).

Same blocked set, next-token logits within 1e-4, same greedy tokens over several new tokens, for the official
setting and for each option (question rows, p = 80, two masked layers including layer 0, min-max threshold,
no normalisation). The knockout must also visibly change the logits, or the comparison would prove nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vgmed_data.eval.adapters import question_prompt
from vgmed_data.eval.tiny import TINY_FAMILIES
from vgmed_data.eval.vgrefine import VGRefineOptions, vgrefine_fast, vgrefine_naive

LOGIT_TOL = 1e-4
NEW_TOKENS = 5
QUESTION = question_prompt("What organ is in region 3?")

CONFIGS = {
    "paper": VGRefineOptions(heads=[(0, 1), (1, 3), (2, 0)], masked_layers=[1]),
    "question-rows-p80-two-layers": VGRefineOptions(heads=[(0, 1), (2, 2)], masked_layers=[0, 2], rows="question",
                                                    percentile=80),
    "minmax-raw": VGRefineOptions(heads=[(1, 1), (2, 2)], masked_layers=[2], threshold=0.3, normalise=False),
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_fast_equals_naive(tiny_adapter, image, family: str, config: str) -> None:  # noqa: ANN001
    adapter = tiny_adapter(family)
    options = CONFIGS[config]
    naive = vgrefine_naive(adapter, image, QUESTION, options=options, max_new_tokens=NEW_TOKENS, with_plain=True)
    fast = vgrefine_fast(adapter, image, QUESTION, options=options, max_new_tokens=NEW_TOKENS, with_plain=True)

    assert naive.triage.blocked.size > 0
    np.testing.assert_array_equal(fast.triage.blocked, naive.triage.blocked)
    np.testing.assert_array_equal(fast.blocked_positions, naive.blocked_positions)
    np.testing.assert_allclose(fast.triage.scores, naive.triage.scores, rtol=1e-4, atol=1e-6)

    torch.testing.assert_close(fast.answer.first_logits, naive.answer.first_logits, rtol=0, atol=LOGIT_TOL)
    torch.testing.assert_close(fast.plain.first_logits, naive.plain.first_logits, rtol=0, atol=LOGIT_TOL)
    assert fast.answer.tokens == naive.answer.tokens
    assert fast.answer.text == naive.answer.text
    assert fast.plain.tokens == naive.plain.tokens
    assert len(naive.answer.tokens) == NEW_TOKENS or naive.answer.tokens[-1] in _eos(adapter)

    # Non-vacuous: the knockout moved the next-token logits well beyond the tolerance.
    assert (naive.answer.first_logits - naive.plain.first_logits).abs().max() > 10 * LOGIT_TOL


def test_plain_answer_of_fast_path_is_generate(tiny_adapter, image) -> None:  # noqa: ANN001
    """``with_plain`` decodes from the question pass; it must be what ``generate`` on SDPA answers."""
    adapter = tiny_adapter("qwen2_5_vl")
    fast = vgrefine_fast(adapter, image, QUESTION, options=CONFIGS["paper"], max_new_tokens=NEW_TOKENS,
                         with_plain=True)
    encoded = adapter.encode([image], [QUESTION])
    with torch.inference_mode():
        out = adapter.model.generate(**encoded.inputs, **{**adapter.generation_settings(),
                                                          "max_new_tokens": NEW_TOKENS})
    assert fast.plain.tokens == out[0, encoded.inputs["input_ids"].shape[1]:].tolist()


def test_nothing_blocked_leaves_the_answer_unchanged(tiny_adapter, image) -> None:  # noqa: ANN001
    """p = 0 blocks nothing (no score is under the minimum): VGRefine must then be the plain answer exactly."""
    adapter = tiny_adapter("llava")
    options = VGRefineOptions(heads=[(0, 1)], masked_layers=[1], percentile=0)
    fast = vgrefine_fast(adapter, image, QUESTION, options=options, max_new_tokens=NEW_TOKENS, with_plain=True)
    assert fast.triage.blocked.size == 0
    torch.testing.assert_close(fast.answer.first_logits, fast.plain.first_logits, rtol=0, atol=1e-6)
    assert fast.answer.tokens == fast.plain.tokens


def _eos(adapter) -> set[int]:  # noqa: ANN001
    eos = adapter.model.generation_config.eos_token_id
    return set(eos if isinstance(eos, list) else [eos])
