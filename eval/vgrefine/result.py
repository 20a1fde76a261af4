"""What one VGRefine answer returns, and the per-sample record the runner writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from vgmed_data.eval.adapters.base import ImageLayout
from vgmed_data.eval.vgrefine.options import VGRefineOptions
from vgmed_data.eval.vgrefine.triage import Triage

if TYPE_CHECKING:
    import torch

METHOD = "vgrefine"


@dataclass
class Answer:
    """A greedy answer: generated token ids (eos included when reached), decoded text, first-step logits."""

    tokens: list[int]
    text: str
    first_logits: "torch.Tensor"  # [vocab] float32 on CPU: the next-token logits after the prompt


@dataclass
class VGRefineAnswer:
    """One sample answered with VGRefine. ``plain``: the answer without VGRefine, when asked for."""

    answer: Answer
    triage: Triage
    blocked_positions: NDArray[np.int64]  # sequence positions of the blocked tokens (question prompt)
    layout: ImageLayout
    options: VGRefineOptions
    implementation: str  # "fast" | "naive"
    plain: Answer | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The JSON-ready per-sample fields: method, parameters, triage and blocked tokens, answers."""
        out: dict[str, Any] = {
            "method": METHOD, "implementation": self.implementation, "parameters": self.options.to_dict(),
            "grid": list(self.layout.grid), "blocked": self.triage.blocked.tolist(),
            "blocked_positions": self.blocked_positions.tolist(), "cut": self.triage.cut,
            "answer": self.answer.text,
        }
        if self.plain is not None:
            out["answer_without_vgrefine"] = self.plain.text
        if self.triage.note is not None:
            out["triage_note"] = self.triage.note
        return out

    def triage_map(self) -> NDArray[np.float64]:
        """``S`` on the token grid, ``(rows, cols)``, for heatmap overlays."""
        return self.triage.scores.reshape(self.layout.grid)

    def blocked_mask(self) -> NDArray[np.bool_]:
        """Blocked tokens on the token grid, ``(rows, cols)``."""
        mask = np.zeros(self.layout.grid[0] * self.layout.grid[1], dtype=bool)
        mask[self.triage.blocked] = True
        return mask.reshape(self.layout.grid)
