"""The fast path's shortcuts that the official settings of ``test_equivalence`` do not reach on 3-layer models.

Without ``with_plain`` the question pass stops at ``max(highest triage layer, first masked layer - 1)``, and
the general pass always stops at the highest triage layer; prefix caches are forked, not copied. Here the
triage heads sit below the last layer so those layers really are skipped, and the answer must still be the
naive reference's (same blocked set, first-step logits within 1e-4 in float32, same tokens), with and
without ``with_plain``, for every family.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vgmed_data.eval.adapters import question_prompt
from vgmed_data.eval.tiny import TINY_FAMILIES
from vgmed_data.eval.vgrefine import VGRefineOptions, vgrefine_fast, vgrefine_naive

LOGIT_TOL = 1e-4
NEW_TOKENS = 4
QUESTION = question_prompt("What organ is in region 3?")

CONFIGS = {
    # triage in layers 0-1, masked layer 1: both suffix passes skip layer 2
    "low-triage": VGRefineOptions(heads=[(0, 1), (1, 3), (0, 2)], masked_layers=[1]),
    # triage in layer 1, masked layer 2: the question pass stops right below the masked layer
    "triage-just-below-mask": VGRefineOptions(heads=[(1, 1), (1, 3)], masked_layers=[2]),
    # triage in layer 0 only, masked layer 2: the question pass must still run layer 1 (below the masked layer)
    "triage-below-mask": VGRefineOptions(heads=[(0, 1), (0, 3)], masked_layers=[2], rows="question"),
}
# The tiny Gemma 3's layer-0 maps are flat over its 4 image tokens (nothing would be blocked).
FLAT = {("gemma3", "triage-below-mask")}


@pytest.mark.parametrize("with_plain", [False, True])
@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_fast_with_skipped_layers_equals_naive(tiny_adapter, image, family: str, config: str,  # noqa: ANN001
                                               with_plain: bool) -> None:
    if (family, config) in FLAT:
        pytest.skip("flat layer-0 maps on this tiny model: nothing to block")
    adapter = tiny_adapter(family)
    options = CONFIGS[config]
    naive = vgrefine_naive(adapter, image, QUESTION, options=options, max_new_tokens=NEW_TOKENS, with_plain=True)
    fast = vgrefine_fast(adapter, image, QUESTION, options=options, max_new_tokens=NEW_TOKENS,
                         with_plain=with_plain)

    assert naive.triage.blocked.size > 0
    np.testing.assert_array_equal(fast.triage.blocked, naive.triage.blocked)
    np.testing.assert_allclose(fast.triage.scores, naive.triage.scores, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(fast.answer.first_logits, naive.answer.first_logits, rtol=0, atol=LOGIT_TOL)
    assert fast.answer.tokens == naive.answer.tokens
    if with_plain:
        torch.testing.assert_close(fast.plain.first_logits, naive.plain.first_logits, rtol=0, atol=LOGIT_TOL)
        assert fast.plain.tokens == naive.plain.tokens
    else:
        assert fast.plain is None
    # Non-vacuous: the knockout moved the next-token logits well beyond the tolerance.
    assert (naive.answer.first_logits - naive.plain.first_logits).abs().max() > 10 * LOGIT_TOL


def test_prefix_cache_survives_forks(tiny_adapter, image) -> None:  # noqa: ANN001
    """Two answers in a row on one adapter (forks share the prefix tensors; nothing may leak between calls)."""
    adapter = tiny_adapter("qwen2_5_vl")
    options = CONFIGS["low-triage"]
    first = vgrefine_fast(adapter, image, QUESTION, options=options, max_new_tokens=NEW_TOKENS, with_plain=True)
    second = vgrefine_fast(adapter, image, QUESTION, options=options, max_new_tokens=NEW_TOKENS, with_plain=False)
    torch.testing.assert_close(first.answer.first_logits, second.answer.first_logits, rtol=0, atol=0)
    assert first.answer.tokens == second.answer.tokens
