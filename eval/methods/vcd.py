"""``vcd``: Visual Contrastive Decoding (Leng et al., CVPR 2024), contrasting the answer with a noised image.

Source read: DAMO-NLP-SG/VCD at commit d6568ff81b8fd306a49e630df44f2db5c2300191.

* ``vcd_utils/vcd_add_noise.py`` L3-28: the contrast image is the model's input tensor after the forward
  diffusion ``q(x_t | x_0) = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` with 1000 steps, ``betas =
  sigmoid(linspace(-6, 6, 1000)) * (0.5e-2 - 1e-5) + 1e-5``, ``abar = cumprod(1 - betas)``, ``eps ~ N(0, 1)``,
  at ``t = noise_step`` (default 500: ``experiments/eval/object_hallucination_vqa_llava.py`` L115).
* ``vcd_utils/vcd_sample.py`` L117-153: at every step the same tokens are fed to the clean and the noised
  sequence (each with its own cache); ``cutoff = log(beta) + max(logits)`` (the adaptive plausibility
  constraint, "version 2"), ``cd = (1 + alpha) * logits - alpha * logits_noised``, tokens with ``logits < cutoff``
  get ``-inf``; defaults ``cd_alpha = 1`` and ``cd_beta = 0.1`` (``object_hallucination_vqa_llava.py`` L117-118;
  the POPE script ``experiments/cd_scripts/llava1.5_pope.bash`` passes beta 0.2).

Here: the same arithmetic as a logits processor on ``generate`` with the noised sequence as a
:class:`vgmed_data.eval.methods.base.SecondStream`, noise drawn from a generator seeded per sample (``seed`` and
the sample id; the seed is recorded). Not reproduced: the authors SAMPLE from the contrastive distribution
(``do_sample=True``, ``torch.multinomial``, ``vcd_sample.py`` L160-161); every method here decodes greedily (the
arg-max of the same scores) so that answers are deterministic and comparable with the baseline's. The noise is
added to the processor's ``pixel_values`` as the model receives them: for the Qwen families those are flattened
patches whose two temporal copies of each frame get independent noise (the authors' Qwen-VL takes one
``[3, H, W]`` tensor); for LLaVA-NeXT every tile is noised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from vgmed_data.eval.adapters.base import Adapter
from vgmed_data.eval.methods.base import Intervention, MethodAnswer, SecondStream, encode_one, greedy
from vgmed_data.errors import InvalidInputError

DIFFUSION_STEPS = 1000


@dataclass(frozen=True, kw_only=True)
class VCDParams:
    alpha: float = 1.0  # cd_alpha
    beta: float = 0.1  # cd_beta: plausibility cut-off
    noise_step: int = 500  # t of the forward diffusion, 0..999
    seed: int = 0  # with the sample id, seeds the noise of each sample

    def __post_init__(self) -> None:
        if not 0 <= self.noise_step < DIFFUSION_STEPS:
            raise InvalidInputError(f"vcd.noise_step {self.noise_step} is outside 0..{DIFFUSION_STEPS - 1}")
        if not 0.0 < self.beta <= 1.0:
            raise InvalidInputError(f"vcd.beta {self.beta} is outside (0, 1]", fix="use 0.1 (authors)")


def noise_scale(step: int) -> tuple[float, float]:
    """``(sqrt(abar_t), sqrt(1 - abar_t))`` of the authors' schedule, computed in float32 as they do."""
    import torch

    betas = torch.sigmoid(torch.linspace(-6, 6, DIFFUSION_STEPS)) * (0.5e-2 - 1e-5) + 1e-5
    abar = torch.cumprod(1 - betas, dim=0)
    return float(torch.sqrt(abar[step])), float(torch.sqrt(1 - abar[step]))


def sample_seed(seed: int, sample_id: str) -> int:
    """A 63-bit seed from the run's seed and the sample id (order- and batch-independent)."""
    return int(hashlib.sha256(f"{seed}:{sample_id}".encode()).hexdigest()[:15], 16)


def noised(pixel_values: Any, *, step: int, seed: int) -> Any:
    """``pixel_values`` after the forward diffusion to ``step`` with noise from ``torch.Generator(seed)``."""
    import torch

    keep, scale = noise_scale(step)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(pixel_values.shape, generator=generator, dtype=torch.float32)
    return (keep * pixel_values.float().cpu() + scale * noise).to(pixel_values.device, pixel_values.dtype)


class ContrastProcessor:
    """The VCD step as a logits processor: the noised sequence's logits contrast the clean ones."""

    def __init__(self, stream: SecondStream, *, alpha: float, beta: float) -> None:
        self.stream, self.alpha, self.beta = stream, alpha, beta

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import math

        logits = scores.float()
        contrast = self.stream.next_logits(input_ids)
        cutoff = math.log(self.beta) + logits.max(dim=-1, keepdim=True).values
        mixed = (1 + self.alpha) * logits - self.alpha * contrast
        return mixed.masked_fill(logits < cutoff, -float("inf"))


class VCD(Intervention):
    name = "vcd"
    Params = VCDParams

    def answer(self, adapter: Adapter, image: Image.Image, user_text: str, *, max_new_tokens: int,
               capture_layers: Sequence[int] = (), sample_id: str = "") -> MethodAnswer:
        encoded = encode_one(adapter, image, user_text, sample_id=sample_id)
        seed = sample_seed(self.params.seed, sample_id)
        contrast = dict(encoded.inputs)
        contrast["pixel_values"] = noised(encoded.inputs["pixel_values"], step=self.params.noise_step, seed=seed)
        stream = SecondStream(adapter, contrast)
        tokens, text, scores = greedy(adapter, encoded, max_new_tokens=max_new_tokens,
                                      processors=[ContrastProcessor(stream, alpha=self.params.alpha,
                                                                    beta=self.params.beta)])
        return MethodAnswer(tokens=tokens, text=text, first_scores=scores, details={"noise_seed": seed})
