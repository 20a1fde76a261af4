"""Each intervention equals an independent transcription of its authors' code (tests/methods/authors.py) on tiny
random-weight models (float32): the first step's scores within 1e-5 and the same greedy tokens. Each test also
checks the intervention moved the scores well past the tolerance, or the comparison would prove nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.methods import authors
from vgmed_data.eval.adapters import question_prompt
from vgmed_data.eval.methods import PAI, VCD, AdaptVis, Blind
from vgmed_data.eval.methods.adaptvis import AdaptVisParams
from vgmed_data.eval.methods.pai import PAIParams
from vgmed_data.eval.methods.vcd import VCDParams, sample_seed
from vgmed_data.eval.tiny import TINY_FAMILIES

TOL = 1e-5
NEW_TOKENS = 4
QUESTION = question_prompt("What organ is in region 3?")


def _inputs(adapter, image: Image.Image) -> dict:  # noqa: ANN001
    return adapter.encode([image], [QUESTION]).inputs


def _columns(adapter, inputs: dict) -> tuple[int, int]:  # noqa: ANN001
    """First to last image-token position (+1), read from the ids as AdaptVis' llava15.py L366 does."""
    where = torch.nonzero(inputs["input_ids"][0] == adapter.image_token_id).reshape(-1)
    return int(where[0]), int(where[-1]) + 1


def _plain(adapter, inputs: dict) -> torch.Tensor:  # noqa: ANN001
    authors.EDITS.__init__()
    return authors.generate(adapter.model, inputs, max_new_tokens=1)[1]


def _assert_same(ours, tokens: list[int], scores: torch.Tensor, plain: torch.Tensor) -> None:  # noqa: ANN001
    finite = torch.isfinite(scores)
    assert torch.equal(torch.isfinite(ours.first_scores), finite)
    torch.testing.assert_close(ours.first_scores[finite], scores[finite], rtol=0, atol=TOL)
    assert ours.tokens == tokens
    assert (scores[finite] - plain[finite]).abs().max() > 10 * TOL  # the method changed the scores


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_pai_equals_authors(tiny_adapter, image, family: str) -> None:  # noqa: ANN001
    adapter = tiny_adapter(family)
    params = PAIParams(alpha=0.5, gamma=1.1, start_layer=1)
    ours = PAI(params).answer(adapter, image, QUESTION, max_new_tokens=NEW_TOKENS)
    inputs = _inputs(adapter, image)
    start, end = _columns(adapter, inputs)
    ids = inputs["input_ids"]
    uncond = torch.cat([ids[:, :start], ids[:, end:]], dim=1)
    extra = {k: None for k in ("mm_token_type_ids", "token_type_ids") if k in inputs}
    plain = _plain(adapter, inputs)
    authors.EDITS.__init__(pai_alpha=params.alpha, pai_layers=range(1, adapter.num_layers), columns=(start, end))
    tokens, scores = authors.generate(adapter.model, inputs, max_new_tokens=NEW_TOKENS,
                                      processors=[authors.CFGLogits(adapter.model, uncond, params.gamma, extra)])
    authors.EDITS.__init__()
    _assert_same(ours, tokens, scores, torch.log_softmax(plain, -1))


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_adaptvis_equals_authors(tiny_adapter, image, family: str) -> None:  # noqa: ANN001
    adapter = tiny_adapter(family)
    # thresholds around the tiny models' confidence, so both branches of the gate run across the families
    params = AdaptVisParams(weight1=0.2, weight2=3.0, threshold=0.4)
    ours = AdaptVis(params).answer(adapter, image, QUESTION, max_new_tokens=NEW_TOKENS)
    inputs = _inputs(adapter, image)
    plain = _plain(adapter, inputs)
    value = authors.adaptvis_confidence(plain)
    weight = params.weight1 if value < params.threshold else params.weight2
    assert ours.details == {"confidence": value, "weight": weight}
    authors.EDITS.__init__(adaptvis_weight=weight, columns=_columns(adapter, inputs))
    tokens, scores = authors.generate(adapter.model, inputs, max_new_tokens=NEW_TOKENS)
    authors.EDITS.__init__()
    _assert_same(ours, tokens, scores, plain)


def test_adaptvis_gate_takes_the_confident_branch(tiny_adapter, image) -> None:  # noqa: ANN001
    adapter = tiny_adapter("llava")
    inputs = _inputs(adapter, image)
    value = authors.adaptvis_confidence(_plain(adapter, inputs))
    low = AdaptVis(AdaptVisParams(threshold=value)).answer(adapter, image, QUESTION, max_new_tokens=1)
    high = AdaptVis(AdaptVisParams(threshold=value + 0.01)).answer(adapter, image, QUESTION, max_new_tokens=1)
    assert low.details["weight"] == 1.5 and high.details["weight"] == 0.5  # round(conf, 2) < threshold -> weight1


# (the tiny Gemma 3's logits barely depend on its pixels: noise moves them by ~1e-7, too little to compare)
@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl", "llava_next", "huatuogpt_vision"])
def test_vcd_equals_authors(tiny_adapter, image, family: str) -> None:  # noqa: ANN001
    adapter = tiny_adapter(family)
    params = VCDParams(alpha=1.0, beta=0.1, noise_step=500, seed=7)
    ours = VCD(params).answer(adapter, image, QUESTION, max_new_tokens=NEW_TOKENS, sample_id="case-1")
    inputs = _inputs(adapter, image)
    noisy = dict(inputs)
    noisy["pixel_values"] = authors.diffusion_noised(inputs["pixel_values"], 500, sample_seed(7, "case-1"))
    assert not torch.allclose(noisy["pixel_values"], inputs["pixel_values"], atol=0.1)
    plain = _plain(adapter, inputs)
    tokens, scores = authors.generate(adapter.model, inputs, max_new_tokens=NEW_TOKENS,
                                      processors=[authors.VCDLogits(adapter.model, noisy, params.alpha, params.beta)])
    _assert_same(ours, tokens, scores, plain)


@pytest.mark.parametrize("family", ["qwen2_vl", "llava"])
def test_blind_is_the_plain_model_on_a_constant_image(tiny_adapter, image, family: str) -> None:  # noqa: ANN001
    adapter = tiny_adapter(family)
    ours = Blind().answer(adapter, image, QUESTION, max_new_tokens=NEW_TOKENS)
    grey = Image.fromarray(np.full((image.height, image.width, 3), 128, dtype=np.uint8))
    tokens, scores = authors.generate(adapter.model, _inputs(adapter, grey), max_new_tokens=NEW_TOKENS)
    _assert_same(ours, tokens, scores, _plain(adapter, _inputs(adapter, image)))
