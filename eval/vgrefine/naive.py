"""The naive reference: three full passes with eager attention and a dense additive mask. Ground truth.

1. question prompt, eager, ``output_attentions=True``: the K heads' rows over the image tokens;
2. general prompt, the same: each triage layer's head-mean map;
3. :func:`~vgmed_data.eval.vgrefine.triage.triage`, then ``generate`` (greedy) on the question prompt with the dense
   ``[T, T]`` knockout mask added to the eager mask of every masked layer during the prefill.

Deliberately simple: no cache sharing, no capture function, nothing skipped. It costs about three plain answers
and full attention tensors; it exists so the fast path (:mod:`vgmed_data.eval.vgrefine.fast`) can be tested against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image

from vgmed_data.eval.adapters.base import Adapter
from vgmed_data.eval.vgrefine.inputs import encode_pair
from vgmed_data.eval.vgrefine.knockout import Knockout
from vgmed_data.eval.vgrefine.options import VGRefineOptions
from vgmed_data.eval.vgrefine.result import Answer, VGRefineAnswer
from vgmed_data.eval.vgrefine.triage import triage


@contextmanager
def eager_language_model(model: Any) -> Iterator[None]:
    """Run the language model on transformers' eager attention inside the block (vision tower untouched)."""
    text_config = model.config.get_text_config()
    previous = text_config._attn_implementation
    model.set_attn_implementation({"text_config": "eager"})
    try:
        yield
    finally:
        model.set_attn_implementation({"text_config": previous})


@contextmanager
def dense_knockout(model: Any, knockout: Knockout) -> Iterator[None]:
    """Add ``knockout``'s dense mask to the eager mask of its layers whenever a full prompt goes through."""
    import torch

    def add_mask(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        mask = kwargs.get("attention_mask")
        total = knockout.prompt_length
        if mask is None or mask.shape[-2] != total:  # decode steps (one query row) are not knocked out
            return args, kwargs
        kwargs["attention_mask"] = mask + knockout.additive_mask(dtype=mask.dtype, device=mask.device)
        return args, kwargs

    layers = model.get_decoder().layers
    handles = [layers[i].self_attn.register_forward_pre_hook(add_mask, with_kwargs=True)
               for i in sorted(knockout.layers)]
    try:
        with torch.inference_mode():
            yield
    finally:
        for handle in handles:
            handle.remove()


def _rows(attention: Any, options: VGRefineOptions, image_end: int) -> np.ndarray:
    """``[heads, keys]`` from one layer's ``[1, heads, T, T]`` attention: the last row or the question rows."""
    probs = attention[0].float()
    if options.rows == "last":
        return probs[:, -1, :].numpy()
    return probs[:, image_end:, :].mean(dim=1).numpy()


def generate(adapter: Adapter, inputs: dict[str, Any], *, max_new_tokens: int | None) -> Answer:
    """Greedy ``generate`` with the adapter's settings; the first step's raw logits kept."""
    settings = adapter.generation_settings()
    if max_new_tokens is not None:
        settings["max_new_tokens"] = max_new_tokens
    out = adapter.model.generate(**inputs, **settings, output_logits=True, return_dict_in_generate=True)
    tokens = out.sequences[0, inputs["input_ids"].shape[1]:].tolist()
    text = adapter.tokenizer.decode(tokens, skip_special_tokens=True).strip()
    return Answer(tokens=tokens, text=text, first_logits=out.logits[0][0].float().cpu())


def vgrefine_naive(adapter: Adapter, image: Image.Image, user_text: str, *, options: VGRefineOptions,
                   max_new_tokens: int | None = None, with_plain: bool = False, record_id: str = ""
                   ) -> VGRefineAnswer:
    """Answer ``user_text`` on ``image`` with VGRefine, the slow and obvious way (see the module docs)."""
    import torch

    options.check_model(layers=adapter.num_layers, heads=adapter.num_heads)
    model = adapter.model
    pair = encode_pair(adapter, image, user_text, record_id=record_id)
    positions = pair.layout.positions
    with torch.inference_mode(), eager_language_model(model):
        maps = {}
        for name, encoded in (("question", pair.question), ("general", pair.general)):
            if name == "general" and not options.normalise:
                continue
            out = model(**encoded.inputs, output_attentions=True)
            if len(out.attentions) != adapter.num_layers or out.attentions[0] is None:
                raise RuntimeError("eager attention returned no attention maps")  # FACTS.md: check it
            maps[name] = {layer: _rows(out.attentions[layer], options, pair.image_end)[:, positions]
                          for layer in options.triage_layers}
        result = triage(maps["question"], maps.get("general"), options=options)
        blocked_positions = positions[result.blocked]
        knockout = Knockout(first_row=pair.image_end, prompt_length=pair.question_length,
                            blocked_positions=blocked_positions, layers=frozenset(options.masked_layers))
        with dense_knockout(model, knockout):
            answer = generate(adapter, pair.question.inputs, max_new_tokens=max_new_tokens)
        plain = generate(adapter, pair.question.inputs, max_new_tokens=max_new_tokens) if with_plain else None
    return VGRefineAnswer(answer=answer, triage=result, blocked_positions=blocked_positions, layout=pair.layout,
                          options=options, implementation="naive", plain=plain)
