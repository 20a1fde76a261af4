"""Captured maps against eager ``output_attentions`` on tiny models of every family.

Tolerance: 1e-6 absolute on probabilities in float32 (measured differences are below 1e-7). The capture
recomputes the selected rows in float32 from the same query/key tensors eager uses.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vgmed_data.eval.adapters import GENERAL_PROMPT, load_adapter, question_prompt
from vgmed_data.eval.capture import AttentionPlan, attention_plan, capture_attention
from vgmed_data.eval.tiny import TINY_FAMILIES
from vgmed_data.errors import InvalidInputError

TOL = 1e-6


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (70, 100, 3), dtype=np.uint8)),
            Image.fromarray(rng.integers(0, 255, (90, 60, 3), dtype=np.uint8))]


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_capture_matches_eager_output_attentions(family: str, tiny_adapters, tiny_checkpoint) -> None:  # noqa: ANN001
    adapter = tiny_adapters(family)
    encoded = adapter.encode(_images(), [question_prompt("Where is the liver?"), GENERAL_PROMPT])  # left padded
    eager = load_adapter(tiny_checkpoint(family), attn_implementation="eager")
    mask = encoded.inputs["attention_mask"]
    seq = mask.shape[1]
    weights = torch.zeros(2, seq)
    for row, layout in enumerate(encoded.layouts):
        weights[row, layout.span[1]:] = 1.0 / (seq - layout.span[1])
    with torch.no_grad():
        with capture_attention(adapter.model, layers=[0, 2]) as last:
            out = adapter.model(**encoded.inputs)
        with capture_attention(adapter.model, layers=[1], row_weights=weights) as mean:
            adapter.model(**encoded.inputs)
        ref = eager.model(**encoded.inputs, output_attentions=True)
    assert len(ref.attentions) == adapter.num_layers
    assert sorted(last.maps) == [0, 2]  # only the chosen layers
    for layer in (0, 2):
        torch.testing.assert_close(last.maps[layer], ref.attentions[layer][:, :, -1, :].float(), atol=TOL, rtol=0)
    expected_mean = torch.einsum("bhqk,bq->bhk", ref.attentions[1].float(), weights)
    torch.testing.assert_close(mean.maps[1], expected_mean, atol=TOL, rtol=0)
    # The model output itself is unchanged by the capture (SDPA vs eager, valid positions only).
    valid = mask.bool()
    torch.testing.assert_close(out.logits[valid], ref.logits[valid], atol=1e-4, rtol=1e-4)
    # Attention over the image span is a real share of the row.
    span = encoded.layouts[0].span
    assert float(last.maps[0][0, :, span[0]:span[1]].sum()) > 0
    assert adapter.model.config.get_text_config()._attn_implementation == "sdpa"  # restored


def test_capture_rejects_missing_layers_and_eager_models(tiny_adapters, tiny_checkpoint) -> None:  # noqa: ANN001
    adapter = tiny_adapters("qwen2_vl")
    with pytest.raises(InvalidInputError, match="do not exist"):
        with capture_attention(adapter.model, layers=[99]):
            pass
    eager = load_adapter(tiny_checkpoint("qwen2_vl"), attn_implementation="eager")
    with pytest.raises(InvalidInputError, match="sdpa"):
        with capture_attention(eager.model, layers=[0]):
            pass


def test_mask_edit_hook_blocks_key_columns(tiny_adapters) -> None:  # noqa: ANN001
    """The extension point VGRefine's knockout uses: an edited mask changes the captured row accordingly."""
    adapter = tiny_adapters("qwen2_vl")
    encoded = adapter.encode(_images()[:1], [GENERAL_PROMPT])
    start, end = encoded.layouts[0].span
    blocked = list(range(start, start + 3))

    def edit(layer: int, mask, query, key):  # noqa: ANN001, ANN202
        b, _, q, k = query.shape[0], None, query.shape[2], key.shape[2]
        base = torch.ones(b, 1, q, k, dtype=torch.bool).tril(diagonal=k - q) if mask is None else mask.clone()
        base[..., end:, blocked] = False
        return base

    plan = AttentionPlan(capture_layers=frozenset({1}), edit_layers=frozenset({1}), mask_edit=edit)
    with torch.no_grad(), attention_plan(adapter.model, plan):
        adapter.model(**encoded.inputs)
    row = plan.maps[1][0]
    assert float(row[:, blocked].abs().max()) == 0.0
    torch.testing.assert_close(row.sum(dim=-1), torch.ones(row.shape[0]), atol=1e-5, rtol=0)
