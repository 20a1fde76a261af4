"""``adaptvis``: AdaptVis (Chen et al., ICML 2025), a confidence-gated temperature on image-token attention.

Source read: shiqichen17/AdaptVis at commit 3b413999cdb537e5f2d87464dd5bc920fa7b428d.

* ``model_zoo/llama/modeling_llama_add_attn.py`` L257-287: in every decoder layer (``idx < 32``: all 32
  layers of LLaVA-1.5), only when the score matrix is square (the prefill without a cache), the pre-softmax
  scores ``QK^T / sqrt(d)`` of the LAST query row on the image-token columns (first to last position whose id
  is the image token, ``model_zoo/llava15.py`` L366) are multiplied by ``weight``, before the mask is added;
  decoding steps are untouched.
* ``model_zoo/llava15.py`` L380-399 (``get_out_scores_wh_batched``, method ``adapt_vis``): a plain generation
  first; ``confidence = round(max softmax(scores of the first new token), 2)``; then generation again with
  ``weight = weight1`` if ``confidence < threshold`` else ``weight2`` (greedy: ``_add_weight_greedy_search``).
* Published setting (``run.sh``): ``--weight1 0.5 --weight2 1.5 --threshold 0.4`` (README: weight1 from
  {0.5, 0.8}, weight2 from {1.2, 1.5, 2.0}).

Here: the edit runs through :attr:`vgmed_data.eval.capture.AttentionPlan.score_edit` on the prefill only (the
calls whose query length equals the key length, as the authors' square test), SDPA for every other row; the
plain first-token scores come from a one-token greedy pass; the image columns are the adapter's image-token span.
Not reproduced: the VSR path of the authors' code (``get_judge_scores_vsr_batched`` L522) takes the max of
the raw scores without a softmax; we follow the What'sUp path (softmax), the one ``run.sh`` runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from vgmed_data.eval.adapters.base import Adapter, Encoded
from vgmed_data.eval.methods.base import Intervention, MethodAnswer, encode_one, greedy, image_maps
from vgmed_data.eval.methods.pai import capture_with
from vgmed_data.errors import InvalidInputError


@dataclass(frozen=True, kw_only=True)
class AdaptVisParams:
    weight1: float = 0.5  # confidence under the threshold: flatten the image attention
    weight2: float = 1.5  # confident: sharpen it
    threshold: float = 0.4

    def __post_init__(self) -> None:
        if self.weight1 <= 0 or self.weight2 <= 0:
            raise InvalidInputError("adaptvis weights must be > 0", fix="use 0.5 and 1.5 (authors)")


def confidence(scores: Any) -> float:
    """``round(max softmax(scores), 2)``, as the authors gate on it."""
    import torch

    return round(float(torch.softmax(scores.float(), dim=-1).max()), 2)


class AdaptVis(Intervention):
    name = "adaptvis"
    changes_attention = True
    Params = AdaptVisParams

    def weight(self, first_scores: Any) -> tuple[float, float]:
        """``(confidence, weight)`` for the plain first-step scores."""
        value = confidence(first_scores)
        return value, self.params.weight1 if value < self.params.threshold else self.params.weight2

    def plan(self, adapter: Adapter, encoded: Encoded, weight: float, capture_layers: Sequence[int]) -> Any:
        from vgmed_data.eval.capture import AttentionPlan

        start, end = encoded.layouts[0].span

        def edit(layer: int, scores: Any, offset: int, q_len: int) -> Any:
            if q_len != scores.shape[-1]:  # not the square prefill: untouched
                return None
            edited = scores.clone()
            edited[..., start:end] = edited[..., start:end] * weight
            return edited

        return AttentionPlan(score_edit=edit, score_layers=frozenset(range(adapter.num_layers)),
                             capture_layers=frozenset(capture_layers))

    def answer(self, adapter: Adapter, image: Image.Image, user_text: str, *, max_new_tokens: int,
               capture_layers: Sequence[int] = (), sample_id: str = "") -> MethodAnswer:
        encoded = encode_one(adapter, image, user_text, sample_id=sample_id)
        _, _, plain_scores = greedy(adapter, encoded, max_new_tokens=1)
        value, weight = self.weight(plain_scores)
        plan = self.plan(adapter, encoded, weight, capture_layers)
        tokens, text, scores = greedy(adapter, encoded, max_new_tokens=max_new_tokens, plan=plan)
        maps = image_maps(plan, encoded, capture_layers) if capture_layers else None
        return MethodAnswer(tokens=tokens, text=text, first_scores=scores, maps=maps,
                            details={"confidence": value, "weight": weight})

    def capture(self, adapter: Adapter, image: Image.Image, user_text: str, *, layers: Sequence[int],
                details: Mapping[str, Any]) -> dict[int, NDArray[np.float64]]:
        weight = float(details["weight"])
        return capture_with(adapter, image, user_text, layers=layers,
                            plan_of=lambda e: self.plan(adapter, e, weight, layers))
