"""``pai``: Paying More Attention to Image (Liu et al., ECCV 2024): image attention amplified in chosen layers,
then the answer contrasted with the model's answer without the image.

Source read: LALBJ/PAI at commit 9bbd8bd57a0b0923f996197e4bd3e02cc10b8d58.

* ``attention.py`` L57-99 (``llama_new_forward``): in layers ``start_layer <= l < end_layer`` (``llama_modify``
  L120-128), the pre-softmax scores of the LAST query row (after the mask is added) on the image-token columns
  ``[img_start_idx, img_end_idx)`` become ``w + alpha * |w|``; every call (the prompt's last row at prefill, the
  new token at each decoding step); switched off while the no-image pass runs (``use_cfg``).
* ``CFG.py`` L28-58 (``CFGLogits``): ``scores = log_softmax(logits)``; the no-image prompt (``model_loader.py``
  L253-292: the prompt with the image placeholder removed) is decoded alongside with its own cache, ``u =
  log_softmax(logits_no_image)``; ``out = gamma * (scores - u) + u``; tokens with ``scores < log(0.1) +
  max(scores)`` get ``-inf``; ``gamma == 1`` returns ``scores`` unchanged (no second pass).
* Published setting (README.md, the LLaVA-1.5 commands): ``--alpha 0.2 --gamma 1.1 --start-layer 2
  --end-layer 32`` (all 32 layers of LLaVA-1.5-7B from layer 2). Here ``end_layer`` defaults to the model's
  depth (``None``).

Here: the edit runs through :attr:`vgmed_data.eval.capture.AttentionPlan.score_edit` (SDPA for every row, the
last row recomputed in float32 with the edit; the authors' eager attention computes all rows and rounds the
probabilities to the model dtype); the image columns are the adapter's image-token span (``ImageLayout.span``:
for LLaVA-NeXT the base and high-resolution tokens with their newline tokens; for the Qwen families the
``<|image_pad|>`` run, the vision start/end markers stay in the no-image prompt). Decoding is greedy, as the
authors' ``--beam 1`` without ``--sample``. Not reproduced: the authors' ``generate`` repeats the no-image prompt
per beam; beams are not used here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from vgmed_data.eval.adapters.base import Adapter, Encoded
from vgmed_data.eval.methods.base import (Intervention, MethodAnswer, SecondStream, encode_one, greedy, image_maps,
                                          planned, without_image)
from vgmed_data.errors import InvalidInputError

PLAUSIBILITY = 0.1  # CFG.py L53: cutoff = log(0.1) + max(scores)


@dataclass(frozen=True, kw_only=True)
class PAIParams:
    alpha: float = 0.2  # attention amplification
    gamma: float = 1.1  # logit refinement against the no-image prompt (1 = off)
    start_layer: int = 2
    end_layer: int | None = None  # exclusive; None: the model's depth

    def __post_init__(self) -> None:
        if self.start_layer < 0 or (self.end_layer is not None and self.end_layer <= self.start_layer):
            raise InvalidInputError(f"pai layers [{self.start_layer}, {self.end_layer}) are empty or negative",
                                    fix="use 0 <= start_layer < end_layer")


def amplify(scores: Any, columns: slice, alpha: float) -> Any:
    """``w + alpha * |w|`` on ``columns`` of ``[..., keys]`` scores (a copy)."""
    edited = scores.clone()
    block = edited[..., columns]
    edited[..., columns] = block + alpha * block.abs()
    return edited


class CFGProcessor:
    """PAI's logit refinement: the scores against the no-image sequence's, with the plausibility cut-off."""

    def __init__(self, stream: SecondStream, *, gamma: float) -> None:
        self.stream, self.gamma = stream, gamma

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        scores = torch.log_softmax(scores.float(), dim=-1)
        if self.gamma == 1:
            return scores
        unconditional = torch.log_softmax(self.stream.next_logits(input_ids), dim=-1)
        cutoff = math.log(PLAUSIBILITY) + scores.max(dim=-1, keepdim=True).values
        out = self.gamma * (scores - unconditional) + unconditional
        return out.masked_fill(scores < cutoff, -float("inf"))


class PAI(Intervention):
    name = "pai"
    changes_attention = True
    Params = PAIParams

    def layers(self, adapter: Adapter) -> range:
        end = adapter.num_layers if self.params.end_layer is None else self.params.end_layer
        return range(self.params.start_layer, end)

    def check(self, adapter: Adapter) -> None:
        end = self.params.end_layer
        if end is not None and end > adapter.num_layers:
            raise InvalidInputError(f"pai.end_layer {end} is beyond the model's {adapter.num_layers} layers",
                                    fix=f"use an end layer <= {adapter.num_layers} (or none: all layers)")

    def plan(self, adapter: Adapter, encoded: Encoded, capture_layers: Sequence[int]) -> Any:
        from vgmed_data.eval.capture import AttentionPlan

        start, end = encoded.layouts[0].span
        alpha = self.params.alpha

        def edit(layer: int, scores: Any, offset: int, q_len: int) -> Any:
            return amplify(scores, slice(max(start - offset, 0), max(end - offset, 0)), alpha)

        return AttentionPlan(score_edit=edit, score_layers=frozenset(self.layers(adapter)),
                             capture_layers=frozenset(capture_layers))

    def answer(self, adapter: Adapter, image: Image.Image, user_text: str, *, max_new_tokens: int,
               capture_layers: Sequence[int] = (), sample_id: str = "") -> MethodAnswer:
        from vgmed_data.eval.capture import AttentionPlan

        encoded = encode_one(adapter, image, user_text, sample_id=sample_id)
        plan = self.plan(adapter, encoded, capture_layers)
        stream = SecondStream(adapter, without_image(encoded), plan=AttentionPlan())  # use_cfg: no amplification
        tokens, text, scores = greedy(adapter, encoded, max_new_tokens=max_new_tokens, plan=plan,
                                      processors=[CFGProcessor(stream, gamma=self.params.gamma)])
        maps = image_maps(plan, encoded, capture_layers) if capture_layers else None
        return MethodAnswer(tokens=tokens, text=text, first_scores=scores, maps=maps)

    def capture(self, adapter: Adapter, image: Image.Image, user_text: str, *, layers: Sequence[int],
                details: Mapping[str, Any]) -> dict[int, NDArray[np.float64]]:
        return capture_with(adapter, image, user_text, layers=layers, plan_of=lambda e: self.plan(adapter, e, layers))


def capture_with(adapter: Adapter, image: Image.Image, user_text: str, *, layers: Sequence[int], plan_of: Any
                 ) -> dict[int, NDArray[np.float64]]:
    """One capture-only prefill of ``user_text`` under the plan ``plan_of(encoded)`` builds."""
    import torch

    encoded = encode_one(adapter, image, user_text)
    plan = plan_of(encoded)
    with torch.inference_mode(), planned(adapter, plan):
        adapter.model(**encoded.inputs, logits_to_keep=1)
    return image_maps(plan, encoded, layers)
