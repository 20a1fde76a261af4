"""What every intervention shares: its parameters, its answer, and the decoding it runs on.

An intervention (:class:`Intervention`) answers one sample (batch size 1) greedily, as the baseline does
(``generate`` with the adapter's settings), and changes one thing: the image (``blind``, ``vcd``'s contrast
image), the attention of the language model (``pai``, ``adaptvis``: through the attention-function interface,
:class:`vgmed_data.eval.capture.AttentionPlan.score_edit`, every other row on SDPA) or the next-token scores
(``vcd``, ``pai``: a second sequence decoded in lockstep, :class:`SecondStream`, combined by a logits processor).
Interventions that change attention also return the attention after the intervention on the captured layers
(:attr:`MethodAnswer.maps`), so the report can say whether attention moved onto the region.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from vgmed_data.eval.adapters.base import Adapter, Encoded
from vgmed_data.errors import InvalidInputError

if TYPE_CHECKING:
    import torch

    from vgmed_data.eval.capture import AttentionPlan


@dataclass(frozen=True)
class MethodAnswer:
    """One sample answered with an intervention.

    ``tokens``/``text``: the greedy answer. ``first_scores``: the scores the first token was chosen from (after the
    method's logits processor; ``[vocab]`` float32 on CPU). ``maps``: ``layer -> [heads, N]`` attention of the last
    prompt row over the image tokens after the intervention (attention-changing methods, captured layers only).
    ``details``: per-sample values the method chose (AdaptVis' confidence and weight, VCD's noise seed)."""

    tokens: list[int]
    text: str
    first_scores: "torch.Tensor"
    maps: dict[int, NDArray[np.float64]] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


class Intervention(ABC):
    """One method of ``vgmed eval run --method``. Subclasses define ``name``, a frozen parameters dataclass
    (``Params``) whose defaults are the authors' published values, and :meth:`answer`."""

    name: ClassVar[str]
    changes_attention: ClassVar[bool] = False
    Params: ClassVar[type]

    def __init__(self, params: Any = None) -> None:
        self.params = params if params is not None else self.Params()

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> Intervention:
        """The method with ``settings`` (``key -> text``, from ``--method-param NAME.KEY=VALUE``) over the
        defaults; unknown keys and unreadable values are refused in one line."""
        known = {f.name: f for f in fields(cls.Params)}
        values: dict[str, Any] = {}
        for key, text in settings.items():
            if key not in known:
                raise InvalidInputError(f"{cls.name} has no parameter {key!r}",
                                        fix=f"use one of {', '.join(sorted(known))}")
            default = getattr(cls.Params(), key)
            values[key] = _parse_value(text, default, what=f"{cls.name}.{key}")
        return cls(replace(cls.Params(), **values))

    def parameters(self) -> dict[str, Any]:
        """Everything that changes the answers (recorded in run.json, its fingerprint and every record)."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self.params).items()}

    def check(self, adapter: Adapter) -> None:
        """Refuse (one line naming why) a model this method cannot run on. Default: every family runs."""

    @abstractmethod
    def answer(self, adapter: Adapter, image: Image.Image, user_text: str, *, max_new_tokens: int,
               capture_layers: Sequence[int] = (), sample_id: str = "") -> MethodAnswer:
        """Answer ``user_text`` on ``image`` with the method."""

    def capture(self, adapter: Adapter, image: Image.Image, user_text: str, *, layers: Sequence[int],
                details: Mapping[str, Any]) -> dict[int, NDArray[np.float64]]:
        """Attention-changing methods: the maps after the intervention on another prompt (one capture-only
        forward, with the per-sample choices in ``details``)."""
        raise InvalidInputError(f"{self.name} does not change attention")


def _parse_value(text: str, default: Any, *, what: str) -> Any:
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            return tuple(int(v) for v in text.replace("-", ",").split(",") if v.strip())
        if default is None:
            return None if text.lower() == "none" else int(text)
    except ValueError:
        raise InvalidInputError(f"cannot read {what}={text!r}",
                                fix=f"give a value like {default!r}") from None
    return text


# ---- decoding ---------------------------------------------------------------------------------------------------
def encode_one(adapter: Adapter, image: Image.Image, user_text: str, *, sample_id: str = "") -> Encoded:
    """The sample's prompt, batch size 1, on the model's device and dtype."""
    encoded = adapter.encode([image], [user_text], record_ids=[sample_id] if sample_id else [])
    return encoded.on(adapter.model.device, dtype=adapter.model.dtype)


@contextmanager
def planned(adapter: Adapter, plan: "AttentionPlan | None") -> Iterator["AttentionPlan | None"]:
    """``plan`` active on the language model (the planned attention function), or nothing when None."""
    from vgmed_data.eval.capture import attention_plan

    with attention_plan(adapter.model, plan) if plan is not None else nullcontext(plan) as active:
        yield active


def greedy(adapter: Adapter, encoded: Encoded, *, max_new_tokens: int, plan: "AttentionPlan | None" = None,
           processors: Sequence[Any] = ()) -> tuple[list[int], str, "torch.Tensor"]:
    """``generate`` with the adapter's greedy settings (the baseline's decoding), ``plan`` active and
    ``processors`` applied to the scores; returns the new tokens, the text and the first step's scores."""
    import torch
    from transformers import LogitsProcessorList

    settings = {**adapter.generation_settings(), "max_new_tokens": max_new_tokens}
    with torch.inference_mode(), planned(adapter, plan):
        out = adapter.model.generate(**encoded.inputs, **settings, logits_processor=LogitsProcessorList(processors),
                                     output_scores=True, return_dict_in_generate=True)
    tokens = out.sequences[0, encoded.inputs["input_ids"].shape[1]:].tolist()
    text = adapter.tokenizer.decode(tokens, skip_special_tokens=True).strip()
    return tokens, text, out.scores[0][0].float().cpu()


def image_maps(plan: "AttentionPlan", encoded: Encoded, layers: Sequence[int]) -> dict[int, NDArray[np.float64]]:
    """``layer -> [heads, N]`` over the image tokens from a prefill's captured last rows."""
    positions = encoded.layouts[0].positions
    missing = [layer for layer in layers if layer not in plan.maps]
    if missing:
        raise InvalidInputError(f"no attention was captured for layer(s) {missing}",
                                fix="the model's language layers must use the attention interface")
    return {layer: plan.maps[layer][0].float().cpu().numpy()[:, positions].astype(np.float64) for layer in layers}


class SecondStream:
    """A second sequence decoded in lockstep with ``generate``'s: prefilled from its own inputs on the first
    call, then fed each token ``generate`` chose (as the authors' VCD ``sample`` and PAI's ``CFGLogits`` do).
    Position ids are explicit (Qwen's M-RoPE deltas are model state ``generate`` sets for the main sequence);
    ``plan``: the attention plan its forwards run under (``AttentionPlan()`` = plain SDPA inside a planned run)."""

    def __init__(self, adapter: Adapter, inputs: dict[str, Any], *, plan: "AttentionPlan | None" = None) -> None:
        from vgmed_data.eval.vgrefine.inputs import position_ids

        self.adapter, self.inputs, self.plan = adapter, inputs, plan
        self.positions = position_ids(adapter, inputs)
        self.length = int(inputs["input_ids"].shape[1])
        self.cache: Any = None
        self.steps = 0

    def next_logits(self, input_ids: "torch.Tensor") -> "torch.Tensor":
        """``[1, vocab]`` float32 next-token logits of this sequence after the tokens ``generate`` chose so far."""
        import torch

        from vgmed_data.eval.vgrefine.inputs import piece

        model = self.adapter.model
        with planned(self.adapter, self.plan):
            if self.cache is None:
                out = model(**piece(self.inputs, self.positions, 0, self.length), use_cache=True, logits_to_keep=1)
            else:
                self.steps += 1
                total = self.length + self.steps
                out = model(input_ids=input_ids[:, -1:], **cache_argument(model, self.cache), use_cache=True,
                            logits_to_keep=1, position_ids=self.positions[..., -1:] + self.steps,
                            attention_mask=torch.ones(1, total, dtype=torch.long, device=input_ids.device))
        self.cache = cache_of(out)
        return out.logits[:, -1, :].float()


def cache_argument(model: Any, cache: Any) -> dict[str, Any]:
    """``{"cache": cache}`` where the model's forward takes it (transformers >= 5.25 renamed the argument), else
    ``{"past_key_values": cache}``."""
    import inspect

    return {"cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values": cache}


def cache_of(output: Any) -> Any:
    """The cache a forward returned (``cache`` or, in older outputs, ``past_key_values``)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def without_image(encoded: Encoded) -> dict[str, Any]:
    """The prompt's inputs with its image-token run removed and no pixels: the same text, no image."""
    import torch

    start, end = encoded.layouts[0].span
    ids = encoded.inputs["input_ids"]
    kept = torch.cat([ids[:, :start], ids[:, end:]], dim=1)
    inputs: dict[str, Any] = {"input_ids": kept, "attention_mask": torch.ones_like(kept)}
    for key in ("mm_token_type_ids", "token_type_ids"):
        if key in encoded.inputs:
            inputs[key] = torch.zeros_like(kept)
    return inputs
