"""The blocked set recomputed here, independently, from eager ``output_attentions`` with a plain numpy
transcription of the definitions in shared/FACTS.md, equals what both implementations chose."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vgmed_data.eval.adapters import GENERAL_PROMPT, question_prompt
from vgmed_data.eval.tiny import TINY_FAMILIES
from vgmed_data.eval.vgrefine import VGRefineOptions, vgrefine_fast, vgrefine_naive

HEADS = [(0, 0), (0, 3), (1, 2), (2, 1)]


def _last_rows(adapter, image, text: str) -> tuple[list[np.ndarray], np.ndarray]:  # noqa: ANN001
    """Per layer ``[heads, T]`` last-row attention (eager, full ``output_attentions``) and the image positions."""
    model = adapter.model
    encoded = adapter.encode([image], [text])
    model.set_attn_implementation({"text_config": "eager"})
    try:
        with torch.inference_mode():
            out = model(**encoded.inputs, output_attentions=True)
    finally:
        model.set_attn_implementation({"text_config": "sdpa"})
    return [a[0, :, -1, :].double().numpy() for a in out.attentions], np.asarray(encoded.layouts[0].positions)


@pytest.mark.parametrize("percentile", [50.0, 80.0])
@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_blocked_set_matches_the_definition(tiny_adapter, image, family: str, percentile: float) -> None:  # noqa: ANN001
    adapter = tiny_adapter(family)
    question_text = question_prompt("Is the lesion in the left lobe?")
    question, positions = _last_rows(adapter, image, question_text)
    general, general_positions = _last_rows(adapter, image, GENERAL_PROMPT)
    assert np.array_equal(positions, general_positions)

    # FACTS.md, step I: each head's last row over the image tokens / its layer's head-mean general map
    # (+1e-10), averaged over the K heads; blocked = S < percentile(S, p).
    ratios = []
    for layer, head in HEADS:
        ratios.append(question[layer][head, positions] / (general[layer][:, positions].mean(axis=0) + 1e-10))
    scores = np.mean(ratios, axis=0)
    expected = np.flatnonzero(scores < np.percentile(scores, percentile))

    options = VGRefineOptions(heads=HEADS, masked_layers=[1], percentile=percentile)
    for run in (vgrefine_naive, vgrefine_fast):
        result = run(adapter, image, question_text, options=options, max_new_tokens=1)
        np.testing.assert_array_equal(result.triage.blocked, expected)
        np.testing.assert_array_equal(result.blocked_positions, positions[expected])
