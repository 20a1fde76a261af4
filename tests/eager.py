"""The reference attention for tests: eager ``output_attentions`` over the whole prompt (never the production
path), read independently of the capture code under test."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def eager_last_rows(adapter: Any, image: Any, text: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Per layer ``[heads, T]`` last-row attention (float64) and the image-token positions of the prompt."""
    model = adapter.model
    encoded = adapter.encode([image], [text])
    model.set_attn_implementation({"text_config": "eager"})
    try:
        with torch.inference_mode():
            out = model(**encoded.inputs, output_attentions=True)
    finally:
        model.set_attn_implementation({"text_config": "sdpa"})
    return [a[0, :, -1, :].double().numpy() for a in out.attentions], np.asarray(encoded.layouts[0].positions)
