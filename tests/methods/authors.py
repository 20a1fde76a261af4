"""Independent transcriptions of the authors' algorithms, written from their code (not from ours), for the
fidelity tests. Eager attention over every row, rounded to the model dtype as their code does; their decoding
loops expressed as transformers ``LogitsProcessor`` objects on ``generate``, as they run them.

* PAI, LALBJ/PAI @ 9bbd8bd57a0b0923f996197e4bd3e02cc10b8d58: ``attention.py`` L57-99 (last row, image columns,
  after the mask: ``w + alpha*|w|``, layers ``[start, end)``, off during the no-image pass), ``CFG.py`` L28-58.
* VCD, DAMO-NLP-SG/VCD @ d6568ff81b8fd306a49e630df44f2db5c2300191: ``vcd_utils/vcd_add_noise.py`` L3-28,
  ``vcd_utils/vcd_sample.py`` L117-153 (greedy here: the arg-max of their contrastive scores).
* AdaptVis, shiqichen17/AdaptVis @ 3b413999cdb537e5f2d87464dd5bc920fa7b428d:
  ``model_zoo/llama/modeling_llama_add_attn.py`` L257-287 (square score matrix only, last row, image columns,
  before the mask: ``* weight``, every layer), ``model_zoo/llava15.py`` L380-399 (the gate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

NAME = "authors_eager"


@dataclass
class Edits:
    """What the eager function changes right now (module state in the authors' code)."""

    pai_alpha: float | None = None
    pai_layers: range = range(0)
    adaptvis_weight: float | None = None
    columns: tuple[int, int] = (0, 0)  # image tokens [start, end)
    use_cfg: bool = False  # PAI's no-image pass: no amplification
    log: list[int] = field(default_factory=list)


EDITS = Edits()


def eager(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask: Any,
          dropout: float = 0.0, scaling: float | None = None, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    groups = query.shape[1] // key.shape[1]
    key = key.repeat_interleave(groups, dim=1)
    value = value.repeat_interleave(groups, dim=1)
    scale = scaling if scaling is not None else 1 / math.sqrt(query.shape[-1])
    weights = torch.matmul(query, key.transpose(2, 3)) * scale
    start, end = EDITS.columns
    if EDITS.adaptvis_weight is not None and weights.shape[2] == weights.shape[3]:
        weights[:, :, -1, start:end] *= EDITS.adaptvis_weight
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            attention_mask = torch.zeros_like(attention_mask, dtype=weights.dtype).masked_fill(
                ~attention_mask, torch.finfo(weights.dtype).min)
        weights = weights + attention_mask[:, :, :, : key.shape[-2]]
        weights = torch.max(weights, torch.tensor(torch.finfo(weights.dtype).min))
    if EDITS.pai_alpha is not None and not EDITS.use_cfg and module.layer_idx in EDITS.pai_layers:
        block = weights[:, :, -1, start:end]
        weights[:, :, -1, start:end] = block.abs() * EDITS.pai_alpha + block
    probs = torch.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), probs


def register() -> str:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(NAME, eager)
    AttentionMaskInterface.register(NAME, eager_mask)
    return NAME


def diffusion_noised(image_tensor: torch.Tensor, step: int, seed: int) -> torch.Tensor:
    """vcd_add_noise.py: 1000 steps, betas = sigmoid(linspace(-6, 6)) scaled to [1e-5, 5e-3], q(x_t | x_0)."""
    betas = torch.sigmoid(torch.linspace(-6, 6, 1000)) * (0.5e-2 - 1e-5) + 1e-5
    alphas_prod = torch.cumprod(1 - betas, dim=0)
    torch.manual_seed(seed)
    x0 = image_tensor.float()
    eps = torch.randn_like(x0)
    return (torch.sqrt(alphas_prod[step]) * x0 + torch.sqrt(1 - alphas_prod[step]) * eps).to(image_tensor.dtype)


class VCDLogits:
    """vcd_sample.py: the noised sequence fed the same tokens (its own cache); contrast and cut-off."""

    def __init__(self, model: Any, inputs: dict[str, Any], alpha: float, beta: float) -> None:
        self.model, self.inputs, self.alpha, self.beta = model, inputs, alpha, beta
        self.cache = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.cache is None:
            out = self.model(**self.inputs, use_cache=True)
        else:
            out = self.model(input_ids=input_ids[:, -1:], past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
        noised = out.logits[:, -1, :]
        cutoff = torch.log(torch.tensor(self.beta)) + scores.max(dim=-1, keepdim=True).values
        diffs = (1 + self.alpha) * scores - self.alpha * noised
        return diffs.masked_fill(scores < cutoff, -float("inf"))


class CFGLogits:
    """CFG.py: log-probabilities against the no-image prompt's (its own cache), cut-off log(0.1) + max."""

    def __init__(self, model: Any, uncond: torch.Tensor, gamma: float, extra: dict[str, Any]) -> None:
        self.model, self.uncond, self.gamma, self.extra = model, uncond, gamma, extra
        self.out: Any = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = torch.log_softmax(scores, dim=-1)
        if self.gamma == 1:
            return scores
        EDITS.use_cfg = True
        length = self.uncond.shape[1]
        if self.out is None:  # text positions 0..n-1 (a text-only prompt), given so Qwen keeps no stale state
            self.out = self.model(input_ids=self.uncond, use_cache=True, position_ids=torch.arange(length)[None],
                                  **{k: torch.zeros_like(self.uncond) for k in self.extra})
            self.steps = 0
        else:
            self.steps += 1
            self.out = self.model(input_ids=input_ids[:, -1:], use_cache=True, past_key_values=self.out.past_key_values,
                                  position_ids=torch.tensor([[length + self.steps - 1]]))
        EDITS.use_cfg = False
        unconditional = torch.log_softmax(self.out.logits[:, -1, :], dim=-1)
        cutoff = torch.log(torch.tensor(0.1)) + scores.max(dim=-1, keepdim=True).values
        out = self.gamma * (scores - unconditional) + unconditional
        return out.masked_fill(scores < cutoff, -float("inf"))


def generate(model: Any, inputs: dict[str, Any], *, max_new_tokens: int, processors: list[Any] = ()
             ) -> tuple[list[int], torch.Tensor]:
    """Greedy ``generate`` on the eager transcription; the new tokens and the first step's scores."""
    from transformers import LogitsProcessorList

    previous = model.config.get_text_config()._attn_implementation
    model.set_attn_implementation({"text_config": register()})
    try:
        with torch.inference_mode():
            out = model.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                                 temperature=None, top_p=None, top_k=None, output_scores=True,
                                 return_dict_in_generate=True, logits_processor=LogitsProcessorList(processors))
    finally:
        model.set_attn_implementation({"text_config": previous})
    return out.sequences[0, inputs["input_ids"].shape[1]:].tolist(), out.scores[0][0].float()


def adaptvis_confidence(scores: torch.Tensor) -> float:
    return float(np.round(float(max(torch.softmax(scores, dim=-1))), 2))
