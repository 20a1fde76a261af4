"""Step I, triage: score every image token with the K triage heads and choose the blocked set.

``S = mean over the K (layer, head) pairs of  att_question[layer, head] / (mean_heads att_general[layer] + 1e-10)``
(or the raw question maps without normalisation); blocked = tokens with ``S < percentile(S, p)`` (numpy's
linear interpolation, as the official code), or with ``(S - min S) / (max S - min S) < t`` (a constant ``S``
blocks nothing, as in the official code, and the triage says so in its ``note``).

Pure numpy on maps the implementations captured; the naive reference and the fast path share it, so any
difference between them comes from the attention they captured, never from the arithmetic here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vgmed_data.eval.vgrefine.options import GENERAL_EPS, VGRefineOptions
from vgmed_data.errors import InvalidInputError


@dataclass(frozen=True)
class Triage:
    """The triage of one sample. ``scores``: ``S`` per grid token (raster order). ``blocked``: flat grid
    indices (``y * cols + x``) of the blocked tokens, ascending. ``cut``: the score threshold used."""

    scores: NDArray[np.float64]
    blocked: NDArray[np.int64]
    cut: float
    note: str | None = None  # set when the rule is undefined on these scores (constant map, min-max threshold)


CONSTANT_MAP_NOTE = ("constant triage map: min-max normalisation is undefined (0/0; NaN in the official code, "
                     "where NaN < t is false), so nothing is blocked")


def triage_scores(question: Mapping[int, ArrayLike], general: Mapping[int, ArrayLike] | None, *,
                  options: VGRefineOptions) -> NDArray[np.float64]:
    """``S`` over N image tokens from per-layer maps ``layer -> [heads, N]`` (question and general prompt)."""
    per_head = []
    for layer, head in options.heads:
        if layer not in question:
            raise InvalidInputError(f"no question map captured for layer {layer}")
        q = np.asarray(question[layer], dtype=np.float64)[head]
        if options.normalise:
            if general is None or layer not in general:
                raise InvalidInputError(f"no general-prompt map for layer {layer}",
                                        fix="run the general prompt, or set normalise=False")
            q = q / (np.asarray(general[layer], dtype=np.float64).mean(axis=0) + GENERAL_EPS)
        per_head.append(q)
    return np.mean(per_head, axis=0)


def blocked_tokens(scores: ArrayLike, *, options: VGRefineOptions) -> tuple[NDArray[np.int64], float]:
    """Flat grid indices of the blocked tokens and the cut applied to ``scores``.

    A constant map under the min-max threshold blocks nothing (the official ``normalize`` divides 0 by 0 and
    NaN compares false); the cut is then the constant itself (no score lies under it)."""
    s = np.asarray(scores, dtype=np.float64)
    if options.threshold is None:
        cut = float(np.percentile(s, options.percentile))
        return np.flatnonzero(s < cut).astype(np.int64), cut
    low, high = float(s.min()), float(s.max())
    span = high - low
    if not span > 0:
        return np.zeros(0, dtype=np.int64), low
    normalised = (s - low) / span
    return np.flatnonzero(normalised < options.threshold).astype(np.int64), low + options.threshold * span


def triage(question: Mapping[int, ArrayLike], general: Mapping[int, ArrayLike] | None, *,
           options: VGRefineOptions) -> Triage:
    scores = triage_scores(question, general, options=options)
    blocked, cut = blocked_tokens(scores, options=options)
    constant = options.threshold is not None and not float(np.max(scores) - np.min(scores)) > 0
    return Triage(scores=scores, blocked=blocked, cut=cut, note=CONSTANT_MAP_NOTE if constant else None)
