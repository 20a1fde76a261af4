"""The fast path: the image prefix computed once and shared through the KV cache.

Passes (batch size 1; ``E`` = first token after the image, ``m`` = first masked layer, ``t`` = highest triage
layer):

1. prefix ``[0, E)`` with the pixels, all layers, kernel SDPA -> cache ``C``;
2. general suffix on a fork of ``C``, capturing the triage layers' selected rows (all heads: the normaliser is
   the head mean) through :func:`vgmed_data.eval.capture.capture_attention`, layers above ``t`` skipped (nothing there is
   used); skipped altogether when ``normalise=False``;
3. question suffix on a fork of ``C``, capturing the triage rows (only the K heads' rows are kept), keeping
   the input of layer ``m`` for the suffix rows; layers above ``max(t, m - 1)`` skipped unless the plain answer
   is wanted too (then its last logits are the plain answer's first step);
4. triage (numpy, shared with the reference);
5. knockout: the question suffix again on a fork of ``C``, layers below ``m`` skipped (their output is the
   input of layer ``m`` kept in 3, their cache is the question pass's, spliced in afterwards: nothing below
   ``m`` changes), layers from ``m`` up on SDPA with the boolean mask edited in the masked layers;
6. greedy decoding from that cache, as ``generate`` would.

A fork (:func:`fork_cache`) is a new cache object whose layers point at the same prefix tensors: dynamic cache
layers grow by ``torch.cat`` into new tensors and never write into the ones they hold, so the prefix is never
copied (a deep copy of the whole prefix cache per pass cost more than the layers it fed at small widths).

Every pass gets its slice of the full prompt's position ids (:mod:`vgmed_data.eval.vgrefine.inputs`), so the result is
the naive reference's (tests: same blocked set, first-step logits within 1e-4 in float32, same text).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image

from vgmed_data.eval.adapters.base import Adapter
from vgmed_data.eval.capture import AttentionPlan, attention_plan, capture_attention
from vgmed_data.eval.vgrefine.inputs import PromptPair, encode_pair, piece, position_ids
from vgmed_data.eval.vgrefine.knockout import Knockout
from vgmed_data.eval.vgrefine.options import VGRefineOptions
from vgmed_data.eval.vgrefine.result import Answer, VGRefineAnswer
from vgmed_data.eval.vgrefine.triage import triage


def _hidden_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[0] if args else kwargs["hidden_states"]


@contextmanager
def keep_layer_input(layers: Any, index: int, store: dict[str, Any]) -> Iterator[None]:
    """Keep the hidden states entering decoder layer ``index`` in ``store["hidden"]``."""
    def keep(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        store["hidden"] = _hidden_of(args, kwargs)

    handle = layers[index].register_forward_pre_hook(keep, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def resume_at_layer(layers: Any, index: int, hidden: Any) -> Iterator[None]:
    """Skip decoder layers ``< index`` (they pass their input through, touching no cache) and feed layer
    ``index`` with ``hidden`` instead of what arrives."""
    def passthrough(hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
        return hidden_states

    def substitute(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                   ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if args:
            return (hidden, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": hidden}

    for layer in layers[:index]:
        layer.forward = passthrough  # instance attribute shadows the class method
    handle = layers[index].register_forward_pre_hook(substitute, with_kwargs=True) if index > 0 else None
    try:
        yield
    finally:
        for layer in layers[:index]:
            del layer.forward
        if handle is not None:
            handle.remove()


@contextmanager
def skip_layers_above(layers: Any, index: int) -> Iterator[None]:
    """Skip decoder layers ``> index`` (they pass their input through, touching no cache): a pass whose
    outputs above ``index`` are not used. The final norm and the one kept logits row still run (cheap)."""
    def passthrough(hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
        return hidden_states

    skipped = list(layers[index + 1:])
    for layer in skipped:
        layer.forward = passthrough
    try:
        yield
    finally:
        for layer in skipped:
            del layer.forward


_FORKABLE: tuple[type, ...] | None = None


def _forkable_layer_types() -> tuple[type, ...]:
    global _FORKABLE
    if _FORKABLE is None:
        from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

        _FORKABLE = (DynamicLayer, DynamicSlidingWindowLayer)
    return _FORKABLE


def fork_cache(cache: Any) -> Any:
    """A cache that starts where ``cache`` stands and grows independently of it, without copying tensors.

    ``DynamicLayer`` / ``DynamicSlidingWindowLayer`` rebind their tensors on every update (``torch.cat``, then a
    slice for the window) and never write into them, so new layer objects pointing at the same tensors are
    independent. Any other layer type (static, offloaded, linear-attention) gets a deep copy."""
    layers = getattr(cache, "layers", None)
    kinds = _forkable_layer_types()
    if (layers is None or getattr(cache, "offloading", False)
            or not all(type(layer) in kinds for layer in layers)):
        return copy.deepcopy(cache)
    forked = copy.copy(cache)
    forked.layers = [copy.copy(layer) for layer in layers]
    return forked


def _fork_layer(layer: Any) -> Any:
    return copy.copy(layer) if type(layer) in _forkable_layer_types() else copy.deepcopy(layer)


def _image_columns(maps: dict[int, Any], positions: np.ndarray, total: int, heads: dict[int, list[int]] | None
                   ) -> dict[int, np.ndarray]:
    """``layer -> [heads, N]`` over the image tokens from captured ``[1, heads, keys]`` rows.

    Key ``j`` of ``k`` is position ``total - k + j`` (a sliding-window cache holds only the last keys); image
    tokens outside the window get 0, as in a full forward."""
    out = {}
    for layer, row in maps.items():
        probs = row[0].float().cpu().numpy()
        k_len = probs.shape[-1]
        columns = positions - (total - k_len)
        inside = columns >= 0
        values = np.zeros((probs.shape[0], len(positions)), dtype=np.float64)
        values[:, inside] = probs[:, columns[inside]]
        out[layer] = values if heads is None else _keep_heads(values, heads[layer])
    return out


def _keep_heads(values: np.ndarray, heads: list[int]) -> np.ndarray:
    kept = np.full_like(values, np.nan)
    kept[heads] = values[heads]
    return kept


class _Greedy:
    """Greedy decoding from a filled cache, one token at a time, the way ``generate`` does it.

    ``min_new_tokens`` (adapter options) keeps end-of-sequence tokens out until that many tokens exist, as
    ``generate``'s min-new-tokens processor does. With ``checkpoint_generation`` the checkpoint's repetition
    penalty is applied over the prompt and the tokens so far (transformers' own processor) before the arg-max:
    with the top-k = 1 sampling settings Qwen chat checkpoints ship, that is what ``generate`` picks; a
    checkpoint that really samples (top-k > 1) is decoded greedily here."""

    def __init__(self, adapter: Adapter, *, max_new_tokens: int, prompt_ids: Any = None) -> None:
        config = adapter.model.generation_config
        eos = config.eos_token_id
        self.adapter = adapter
        self.eos = set(eos if isinstance(eos, list) else [eos]) - {None}
        self.max_new_tokens = max_new_tokens
        self.min_new_tokens = adapter.options.min_new_tokens or 0
        penalty = getattr(config, "repetition_penalty", None) if adapter.options.checkpoint_generation else None
        self.penalty = None
        if penalty is not None and float(penalty) != 1.0 and prompt_ids is not None:
            from transformers import RepetitionPenaltyLogitsProcessor

            self.penalty = RepetitionPenaltyLogitsProcessor(float(penalty))
        self.prompt_ids = prompt_ids

    def _choose(self, logits: Any, tokens: list[int]) -> int:
        import torch

        if self.penalty is None and len(tokens) >= self.min_new_tokens:
            return int(logits.argmax())
        scores = logits.float()[None].clone()
        if self.penalty is not None:
            seen = torch.cat([self.prompt_ids.reshape(-1).to(scores.device),
                              torch.tensor(tokens, dtype=torch.long, device=scores.device)])
            scores = self.penalty(seen[None], scores)
        if len(tokens) < self.min_new_tokens and self.eos:
            scores[0, sorted(self.eos)] = -float("inf")
        return int(scores[0].argmax())

    def __call__(self, first_logits: Any, cache: Any, *, total: int, next_position: Any) -> Answer:
        import torch

        model = self.adapter.model
        token = self._choose(first_logits, [])
        tokens = [token]
        while token not in self.eos and len(tokens) < self.max_new_tokens:
            step = len(tokens)
            ids = torch.tensor([[token]], device=model.device)
            out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1,
                        attention_mask=torch.ones(1, total + step, dtype=torch.long, device=model.device),
                        position_ids=next_position + step - 1)
            token = self._choose(out.logits[0, -1], tokens)
            tokens.append(token)
        text = self.adapter.tokenizer.decode(tokens, skip_special_tokens=True).strip()
        return Answer(tokens=tokens, text=text, first_logits=first_logits.float().cpu())


def vgrefine_fast(adapter: Adapter, image: Image.Image, user_text: str, *, options: VGRefineOptions,
                  max_new_tokens: int | None = None, with_plain: bool = False, record_id: str = ""
                  ) -> VGRefineAnswer:
    """Answer ``user_text`` on ``image`` with VGRefine at close to the cost of one plain answer.

    ``with_plain`` also decodes the plain answer from the question pass (no extra prefill)."""
    import torch

    options.check_model(layers=adapter.num_layers, heads=adapter.num_heads)
    pair = encode_pair(adapter, image, user_text, record_id=record_id)
    greedy = _Greedy(adapter, max_new_tokens=max_new_tokens or adapter.options.max_new_tokens,
                     prompt_ids=pair.question.inputs["input_ids"])
    timings: dict[str, float] = {}
    # One switch to the planned attention function for every pass (an empty plan is plain SDPA); the passes
    # then only swap plans instead of re-walking the model's modules each time.
    with torch.inference_mode(), attention_plan(adapter.model, AttentionPlan()):
        start = time.perf_counter()
        plan = _FastPlan(adapter, pair, options)
        result, hidden, cache_q, logits_q = plan.triage(full_question=with_plain)
        timings["triage_s"] = time.perf_counter() - start
        blocked_positions = pair.layout.positions[result.blocked]
        cache_k, logits_k = plan.knockout(blocked_positions, hidden, cache_q, keep_question_cache=with_plain)
        answer = greedy(logits_k, cache_k, total=pair.question_length, next_position=plan.next_position)
        plain = (greedy(logits_q, cache_q, total=pair.question_length, next_position=plan.next_position)
                 if with_plain else None)
        timings["total_s"] = time.perf_counter() - start
    return VGRefineAnswer(answer=answer, triage=result, blocked_positions=blocked_positions, layout=pair.layout,
                          options=options, implementation="fast", plain=plain, timings=timings)


class _FastPlan:
    """The passes of :func:`vgrefine_fast` over one :class:`PromptPair`."""

    def __init__(self, adapter: Adapter, pair: PromptPair, options: VGRefineOptions) -> None:
        self.adapter, self.pair, self.options = adapter, pair, options
        self.model = adapter.model
        self.layers = self.model.get_decoder().layers
        self.positions_q = position_ids(adapter, pair.question.inputs)
        self.next_position = self.positions_q[..., -1:] + 1  # of the first generated token
        out = self.model(**piece(pair.question.inputs, self.positions_q, 0, pair.image_end), use_cache=True,
                         logits_to_keep=1)
        self.prefix_cache = out.past_key_values

    def _row_weights(self, length: int) -> Any:
        import torch

        if self.options.rows == "last":
            return None
        suffix = length - self.pair.image_end
        return torch.full((1, suffix), 1.0 / suffix, device=self.model.device)

    def _suffix(self, inputs: dict[str, Any], positions: Any, cache: Any, *, last_layer: int | None = None
                ) -> tuple[Any, Any]:
        """The text after the image on ``cache``, capturing the triage rows; layers above ``last_layer`` skipped
        (the logits are then meaningless)."""
        length = int(inputs["input_ids"].shape[1])
        kwargs = piece(inputs, positions, self.pair.image_end, length)
        top = self.adapter.num_layers - 1 if last_layer is None else last_layer
        with capture_attention(self.model, layers=self.options.triage_layers,
                               row_weights=self._row_weights(length)) as record, \
                skip_layers_above(self.layers, top):
            out = self.model(**kwargs, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return record.maps, out.logits[0, -1]

    def triage(self, *, full_question: bool = True) -> tuple[Any, Any, Any, Any]:
        """Steps 2-4. ``full_question=False``: the question pass stops where the knockout takes over (its logits
        and its cache above the first masked layer are then not the plain answer's and must not be used)."""
        pair, options = self.pair, self.options
        top_triage = max(options.triage_layers)
        general = None
        if options.normalise:
            positions_g = position_ids(self.adapter, pair.general.inputs)
            maps, _ = self._suffix(pair.general.inputs, positions_g, fork_cache(self.prefix_cache),
                                   last_layer=top_triage)
            general = _image_columns(maps, pair.layout.positions, pair.general_length, None)
        store: dict[str, Any] = {}
        cache_q = fork_cache(self.prefix_cache)
        last = None if full_question else max(top_triage, options.first_masked_layer - 1, 0)
        with keep_layer_input(self.layers, options.first_masked_layer, store):
            maps, logits_q = self._suffix(pair.question.inputs, self.positions_q, cache_q, last_layer=last)
        heads: dict[int, list[int]] = {}
        for layer, head in options.heads:
            heads.setdefault(layer, []).append(head)
        question = _image_columns(maps, pair.layout.positions, pair.question_length, heads)
        return triage(question, general, options=options), store["hidden"], cache_q, logits_q

    def knockout(self, blocked_positions: np.ndarray, hidden: Any, cache_q: Any, *, keep_question_cache: bool
                 ) -> tuple[Any, Any]:
        pair, first = self.pair, self.options.first_masked_layer
        knockout = Knockout(first_row=pair.image_end, prompt_length=pair.question_length,
                            blocked_positions=blocked_positions, layers=frozenset(self.options.masked_layers))

        def edit(layer: int, mask: Any, query: Any, key: Any) -> Any:
            return knockout.edit_sdpa_mask(mask, q_len=query.shape[2], k_len=key.shape[2], device=query.device)

        cache = fork_cache(self.prefix_cache)
        kwargs = piece(pair.question.inputs, self.positions_q, pair.image_end, pair.question_length)
        plan = AttentionPlan(mask_edit=edit, edit_layers=knockout.layers)
        with attention_plan(self.model, plan), resume_at_layer(self.layers, first, hidden):
            out = self.model(**kwargs, past_key_values=cache, use_cache=True, logits_to_keep=1)
        for index in range(first):  # layers below the first masked one: the question pass's cache, unchanged
            layer = cache_q.layers[index]
            cache.layers[index] = _fork_layer(layer) if keep_question_cache else layer
        return cache, out.logits[0, -1]
