"""The blocked set recomputed here, independently, from eager ``output_attentions`` with a plain numpy
transcription of the official definitions (Guimeng-Leo-Liu/Medical-MLLMs-Fail @ c7263dd, the VGRefine triage; docs/vgrefine.md),
equals what both implementations chose."""

from __future__ import annotations

import numpy as np
import pytest

from tests.eager import eager_last_rows
from vgmed_data.eval.adapters import GENERAL_PROMPT, question_prompt
from vgmed_data.eval.tiny import TINY_FAMILIES
from vgmed_data.eval.vgrefine import VGRefineOptions, vgrefine_fast, vgrefine_naive

HEADS = [(0, 0), (0, 3), (1, 2), (2, 1)]


@pytest.mark.parametrize("percentile", [50.0, 80.0])
@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_blocked_set_matches_the_definition(tiny_adapter, image, family: str, percentile: float) -> None:  # noqa: ANN001
    adapter = tiny_adapter(family)
    question_text = question_prompt("Is the lesion in the left lobe?")
    question, positions = eager_last_rows(adapter, image, question_text)
    general, general_positions = eager_last_rows(adapter, image, GENERAL_PROMPT)
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
