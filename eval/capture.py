"""Attention capture through transformers' attention-function interface, for chosen layers only.

Full ``output_attentions`` materialises every layer's ``[heads, q, k]`` probabilities (25 GiB per sample at 4k
tokens on a 7B model) and forces the slow eager kernel everywhere. This module instead registers one attention
function, ``"vgmed_planned"``, with :class:`transformers.AttentionInterface` (and the matching SDPA mask builder
with :class:`transformers.AttentionMaskInterface`, without which the function would receive no mask). Inside
:func:`capture_attention` the language model's layers call it; it

1. optionally edits the attention mask of chosen layers (:attr:`AttentionPlan.mask_edit`: the hook VGRefine's
   knockout uses to block key columns),
2. runs the fast SDPA kernel for the actual output, every layer,
3. for the capture layers only, recomputes the softmax of the selected query rows (by default the last prompt
   row, which predicts the answer; optionally a weighted mean over rows, e.g. the question rows) against all
   keys, in float32, grouped-query heads without copying K, and keeps ``[batch, heads, keys]``.

Capture happens on the first call of each layer inside the context (the prefill of ``generate`` or a plain
forward); decode steps run untouched. The vision tower keeps its own implementation.

    >>> with capture_attention(model, layers=[10, 16]) as record:          # doctest: +SKIP
    ...     model(**inputs)
    >>> record.maps[16].shape                                               # (batch, heads, keys)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vgmed_data.errors import InvalidInputError

if TYPE_CHECKING:
    import torch

PLANNED = "vgmed_planned"

# (layer_idx, attention_mask or None, query [b, h, q, d], key [b, kvh, k, d]) -> new attention mask
MaskEdit = Callable[[int, "torch.Tensor | None", "torch.Tensor", "torch.Tensor"], "torch.Tensor | None"]
# (layer_idx, last-row scores [b, h, k] float32 before the softmax, absolute position of key 0, q_len) -> edited
# scores, or None to leave this call alone (the interventions of eval.methods: PAI, AdaptVis)
ScoreEdit = Callable[[int, "torch.Tensor", int, int], "torch.Tensor | None"]


@dataclass
class AttentionPlan:
    """What the planned attention function does while a plan is active.

    ``capture_layers``: decoder layer indices whose selected rows are kept. ``row_weights``: ``None`` keeps the
    last query row; a ``[batch, q]`` float tensor keeps the weighted sum of rows (weights per row sum to 1; rows
    with weight 0 are skipped cheaply when they form a leading block). ``mask_edit`` / ``edit_layers``: a hook
    that replaces the boolean SDPA mask (True = may attend) of those layers before the kernel runs.
    ``score_edit`` / ``score_layers``: a hook that edits the pre-softmax scores of the LAST query row of those
    layers (every call: prefill and decode steps); that row's output is then recomputed from the edited
    probabilities in float32 and replaces SDPA's row, the other rows keep SDPA's output. A captured layer keeps
    the edited probabilities (the attention after the intervention).
    ``maps``: filled with ``layer -> [batch, heads, keys]`` float32 probabilities.
    """

    capture_layers: frozenset[int] = frozenset()
    row_weights: "torch.Tensor | None" = None
    mask_edit: MaskEdit | None = None
    edit_layers: frozenset[int] = frozenset()
    score_edit: ScoreEdit | None = None
    score_layers: frozenset[int] = frozenset()
    maps: dict[int, "torch.Tensor"] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)  # tokens each layer has processed under this plan


_ACTIVE: ContextVar[AttentionPlan | None] = ContextVar("vgmed_attention_plan", default=None)


def _selected_row_probs(query: "torch.Tensor", key: "torch.Tensor", mask: "torch.Tensor | None",
                        scaling: float, row_weights: "torch.Tensor | None",
                        edit: Callable[["torch.Tensor"], "torch.Tensor | None"] | None = None) -> "torch.Tensor":
    """Softmax probabilities of the selected query rows, ``[batch, heads, keys]``, float32. ``edit`` (last row
    only) may replace the scores ``[batch, heads, keys]`` before the mask and the softmax."""
    import torch

    batch, heads, q_len, dim = query.shape
    kv_heads, k_len = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    if row_weights is None:
        first = q_len - 1
    else:
        nonzero = torch.nonzero(row_weights.sum(dim=0) > 0)
        first = int(nonzero[0]) if nonzero.numel() else q_len - 1
    rows = q_len - first
    q = query[:, :, first:, :].float().reshape(batch, kv_heads, groups * rows, dim)
    scores = torch.matmul(q, key.float().transpose(-1, -2)).reshape(batch, heads, rows, k_len) * scaling
    if edit is not None and row_weights is None:
        edited = edit(scores[:, :, 0, :])
        if edited is not None:
            scores = edited[:, :, None, :]
    if mask is None and row_weights is None:
        # SDPA skipped the mask (causal, no padding, no window) and the last row sees every key: a plain softmax.
        return torch.softmax(scores[:, :, 0, :], dim=-1)
    if mask is None:
        # SDPA skipped the mask (no padding, plain causal): row i of the last q_len rows sees keys <= its position.
        past = k_len - q_len
        positions = torch.arange(first, q_len, device=query.device)[:, None] + past
        allowed = torch.arange(k_len, device=query.device)[None, :] <= positions
    else:
        allowed = mask[:, :, first:, :]
        if allowed.dtype != torch.bool:
            allowed = allowed > torch.finfo(allowed.dtype).min / 2
    scores = scores.masked_fill(~allowed, float("-inf"))
    probs = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # fully masked (padding) rows -> 0
    if row_weights is None:
        return probs[:, :, -1, :]
    weights = row_weights[:, first:].to(probs)
    return torch.einsum("bhrk,br->bhk", probs, weights)


def planned_attention(module: Any, query: "torch.Tensor", key: "torch.Tensor", value: "torch.Tensor",
                      attention_mask: "torch.Tensor | None", dropout: float = 0.0, scaling: float | None = None,
                      **kwargs: Any) -> tuple["torch.Tensor", None]:
    """The registered attention function: SDPA for the output, plus the active plan's edits and captures."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    plan = _ACTIVE.get()
    layer = getattr(module, "layer_idx", None)
    if plan is not None and plan.mask_edit is not None and layer in plan.edit_layers:
        attention_mask = plan.mask_edit(layer, attention_mask, query, key)
    output = sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                    **kwargs)
    if plan is None or layer is None:
        return output
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    q_len, k_len = query.shape[2], key.shape[2]
    seen = plan.seen[layer] = plan.seen.get(layer, 0) + q_len  # absolute length after this call
    probs = None
    if plan.score_edit is not None and layer in plan.score_layers:
        edit, edited = plan.score_edit, []

        def on_row(scores: "torch.Tensor") -> "torch.Tensor | None":
            result = edit(layer, scores, seen - k_len, q_len)  # key j is position seen - k_len + j (windows)
            edited.append(result is not None)
            return result

        probs = _selected_row_probs(query, key, attention_mask, scale, None, edit=on_row)
        if edited[0]:  # else SDPA's row stands (the edit declined this call)
            output = (_replace_last_row(output[0], probs, value), *output[1:])
    if layer in plan.capture_layers and layer not in plan.maps:
        plan.maps[layer] = (probs if probs is not None and plan.row_weights is None
                            else _selected_row_probs(query, key, attention_mask, scale, plan.row_weights))
    return output


def _replace_last_row(output: "torch.Tensor", probs: "torch.Tensor", value: "torch.Tensor") -> "torch.Tensor":
    """SDPA's output ``[batch, q, heads, dim]`` with the last query row recomputed from ``probs`` ``[batch, heads,
    keys]`` (float32) and ``value`` ``[batch, kv_heads, keys, dim]``, grouped-query heads without copying V."""
    import torch

    batch, heads, k_len = probs.shape
    kv_heads = value.shape[1]
    row = torch.matmul(probs.reshape(batch, kv_heads, heads // kv_heads, k_len), value.float())
    output = output.clone()
    output[:, -1] = row.reshape(batch, heads, -1).to(output.dtype)
    return output


_REGISTERED = False


def register_planned_attention() -> str:
    """Register :func:`planned_attention` (and the SDPA mask builder) under :data:`PLANNED`; idempotent."""
    global _REGISTERED
    if not _REGISTERED:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

        AttentionInterface.register(PLANNED, planned_attention)
        AttentionMaskInterface.register(PLANNED, sdpa_mask)
        _REGISTERED = True
    return PLANNED


@contextmanager
def attention_plan(model: Any, plan: AttentionPlan) -> Iterator[AttentionPlan]:
    """Run ``model``'s language model on the planned attention function with ``plan`` active; restore after."""
    register_planned_attention()
    text_config = model.config.get_text_config()
    previous = text_config._attn_implementation
    if previous not in ("sdpa", PLANNED):
        raise InvalidInputError(f"attention capture needs a model loaded with attn_implementation='sdpa', "
                                f"got {previous!r}", fix="load the model with attn_implementation='sdpa'")
    layers = int(text_config.num_hidden_layers)
    bad = sorted(i for i in plan.capture_layers | plan.edit_layers if not 0 <= i < layers)
    if bad:
        raise InvalidInputError(f"layer(s) {bad} do not exist in a {layers}-layer model",
                                fix=f"choose layers in 0..{layers - 1}")
    switch = previous != PLANNED  # nested plans (one outer switch for several passes) only swap the plan
    if switch:
        model.set_attn_implementation({"text_config": PLANNED})  # walks every module: ~1 ms, so once per outer
    token = _ACTIVE.set(plan)
    try:
        yield plan
    finally:
        _ACTIVE.reset(token)
        if switch:
            model.set_attn_implementation({"text_config": previous})


@contextmanager
def capture_attention(model: Any, *, layers: Iterable[int], row_weights: "torch.Tensor | None" = None
                      ) -> Iterator[AttentionPlan]:
    """Capture the last query row (or the ``row_weights`` mean of rows) of ``layers``; see the module docs."""
    with attention_plan(model, AttentionPlan(capture_layers=frozenset(int(i) for i in layers),
                                             row_weights=row_weights)) as plan:
        yield plan
