"""Grounding metrics, exactly as the official VGMED code defines them (shared/FACTS.md), plus clearly named
additions.

Official definitions (``A`` = attention over the N image tokens, ``G`` = the ground-truth token set):

* normalised map: ``A = att_question / att_general`` element-wise (:func:`normalised_map`);
* box -> token cells: every cell with ANY overlap, ``x0 = floor(x1 / tw)``, ``y0 = floor(y1 / th)``,
  ``x1' = min(ceil(x2 / tw), cols)``, ``y1' = min(ceil(y2 / th), rows)``, union over boxes, flat index
  ``y * cols + x`` (:func:`boxes_to_token_mask`), where ``tw, th`` is one cell's size in the frame of the boxes;
* Attention Ratio ``AR = sum_G A / ((sum A / N) * |G| + 1e-8)``: 1 = uniform, higher is better;
* ``KL(gt || att)`` with ``att = A / (sum A + 1e-8)``, ``gt = 1/|G|`` on G, both clipped to ``[1e-12, 1]``;
* ``JS = 0.5 * (sum att log((att + 1e-8) / (m + 1e-8)) + sum gt log((gt + 1e-8) / (m + 1e-8)))``,
  ``m = (att + gt) / 2`` (unclipped distributions); KL and JS: lower is better.

Additions (not in the official code): :func:`pointing_game` (is the arg-max cell inside G),
:func:`energy_pointing_game` (share of the map's mass inside G), and
:func:`boxes_to_token_mask_padding_aware`, which maps boxes through the model's real input transform
(square padding included); the official rule scales boxes to the input size and ignores padding, which is
wrong for square-padded models (LLaVA ``expand2square``, HuatuoGPT-Vision).

All map functions take ``attn`` of shape ``(..., N)`` and ``gt`` boolean of shape ``(N,)`` or broadcastable,
and return arrays of shape ``(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vgmed_data.errors import GeometryError, InvalidInputError
from vgmed_data.geometry import Transform, as_boxes

AR_EPS = 1e-8
CLIP_MIN = 1e-12
JS_EPS = 1e-8


def _prepare(attn: ArrayLike, gt: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    a = np.asarray(attn, dtype=np.float64)
    g = np.asarray(gt).astype(bool)
    if a.ndim == 0 or g.ndim == 0:
        raise InvalidInputError("attn and gt need a token axis", fix="pass attn (..., N) and gt (N,)")
    if g.shape[-1] != a.shape[-1]:
        raise InvalidInputError(f"attn covers {a.shape[-1]} tokens but gt covers {g.shape[-1]}",
                                fix="build gt on the same token grid as the attention map")
    if not np.any(g):
        raise InvalidInputError("the ground-truth token set is empty",
                                fix="skip samples without boxes (the runner counts them)")
    if np.any(~np.any(g, axis=-1)):
        raise InvalidInputError("a ground-truth token set is empty", fix="skip samples without boxes")
    return a, g


def normalised_map(att_question: ArrayLike, att_general: ArrayLike, *, eps: float = 0.0) -> NDArray[np.float64]:
    """Official normalised map ``att_question / (att_general + eps)`` (eps 0 as in the metrics code; the
    VGRefine triage uses 1e-10)."""
    q = np.asarray(att_question, dtype=np.float64)
    g = np.asarray(att_general, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = q / (g + eps)
    return np.nan_to_num(out, nan=0.0, posinf=0.0)


def attention_ratio(attn: ArrayLike, gt: ArrayLike) -> NDArray[np.float64]:
    """AR = sum over G of A / ((sum A / N) * |G| + 1e-8)."""
    a, g = _prepare(attn, gt)
    n = a.shape[-1]
    inside = np.sum(np.where(g, a, 0.0), axis=-1)
    return inside / ((a.sum(axis=-1) / n) * g.sum(axis=-1) + AR_EPS)


def _distributions(a: NDArray[np.float64], g: NDArray[np.bool_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    att = a / (a.sum(axis=-1, keepdims=True) + AR_EPS)
    gt = np.where(g, 1.0, 0.0) / g.sum(axis=-1, keepdims=True)
    return att, np.broadcast_to(gt, np.broadcast_shapes(gt.shape, att.shape))


def kl_divergence(attn: ArrayLike, gt: ArrayLike) -> NDArray[np.float64]:
    """KL(gt || att), both distributions clipped to [1e-12, 1]."""
    a, g = _prepare(attn, gt)
    att, target = _distributions(a, g)
    att = np.clip(att, CLIP_MIN, 1.0)
    target = np.clip(target, CLIP_MIN, 1.0)
    return np.sum(target * np.log(target / att), axis=-1)


def js_divergence(attn: ArrayLike, gt: ArrayLike) -> NDArray[np.float64]:
    """Jensen-Shannon divergence with the official 1e-8 smoothing inside the logs."""
    a, g = _prepare(attn, gt)
    att, target = _distributions(a, g)
    m = (att + target) / 2
    return 0.5 * (np.sum(att * np.log((att + JS_EPS) / (m + JS_EPS)), axis=-1)
                  + np.sum(target * np.log((target + JS_EPS) / (m + JS_EPS)), axis=-1))


def pointing_game(attn: ArrayLike, gt: ArrayLike) -> NDArray[np.float64]:
    """Addition: 1.0 where the map's arg-max cell lies in G, else 0.0."""
    a, g = _prepare(attn, gt)
    index = np.argmax(a, axis=-1)
    g_full = np.broadcast_to(g, np.broadcast_shapes(g.shape, a.shape))
    return np.take_along_axis(g_full, index[..., None], axis=-1)[..., 0].astype(np.float64)


def energy_pointing_game(attn: ArrayLike, gt: ArrayLike) -> NDArray[np.float64]:
    """Addition: the share of the (non-negative) map's mass inside G (energy-based pointing game)."""
    a, g = _prepare(attn, gt)
    a = np.clip(a, 0.0, None)
    total = a.sum(axis=-1)
    inside = np.sum(np.where(g, a, 0.0), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1.0), 0.0)


def _grid(grid: Sequence[int]) -> tuple[int, int]:
    rows, cols = (int(v) for v in grid)
    if rows <= 0 or cols <= 0:
        raise GeometryError(f"grid must be positive (rows, cols), got {tuple(grid)}")
    return rows, cols


def boxes_to_token_mask(boxes_xyxy: ArrayLike, *, image_size: Sequence[float], grid: Sequence[int]
                        ) -> NDArray[np.bool_]:
    """Official box -> token-cell rule: the ``(rows, cols)`` mask of cells any box overlaps.

    ``boxes_xyxy``: internal pixel xyxy in the frame of ``image_size`` = (width, height), the image the
    ``grid`` = (rows, cols) tiles (the official code scales boxes to the model input first; scaling the cell
    size instead is the same map). Boxes outside the image raise :class:`GeometryError`.
    """
    rows, cols = _grid(grid)
    width, height = (float(v) for v in image_size)
    if width <= 0 or height <= 0:
        raise GeometryError(f"image_size must be positive, got {tuple(image_size)}")
    boxes = as_boxes(boxes_xyxy)
    mask = np.zeros((rows, cols), dtype=bool)
    tol = 1e-6
    for x1, y1, x2, y2 in boxes:
        if x2 <= x1 or y2 <= y1:
            raise GeometryError(f"box {[x1, y1, x2, y2]} is empty or inverted", fix="use xyxy with x2 > x1, y2 > y1")
        if x1 < -tol or y1 < -tol or x2 > width + tol or y2 > height + tol:
            raise GeometryError(f"box {[x1, y1, x2, y2]} lies outside the {width:g}x{height:g} image",
                                fix="clip or repair the box in the dataset (vgmed validate lists them)")
        tw, th = width / cols, height / rows
        # Round before floor/ceil so a box edge exactly on a cell edge is not pushed by float error.
        c0 = max(math.floor(round(x1 / tw, 9)), 0)
        r0 = max(math.floor(round(y1 / th, 9)), 0)
        c1 = min(math.ceil(round(x2 / tw, 9)), cols)
        r1 = min(math.ceil(round(y2 / th, 9)), rows)
        mask[r0:r1, c0:c1] = True
    return mask


def boxes_to_token_mask_padding_aware(boxes_xyxy: ArrayLike, *, transform: Transform, grid: Sequence[int]
                                      ) -> NDArray[np.bool_]:
    """Addition: map stored-image boxes through the model's input ``transform`` (pad, resize, crop), clip to
    the input, then apply the official cell rule on the input frame. Boxes cropped away entirely give no cells."""
    boxes = transform.apply_boxes(as_boxes(boxes_xyxy))
    width, height = transform.dst_size
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    if not np.any(keep):
        return np.zeros(_grid(grid), dtype=bool)
    return boxes_to_token_mask(boxes[keep], image_size=(width, height), grid=grid)


METRICS = {"ar": attention_ratio, "kl": kl_divergence, "js": js_divergence, "pg": pointing_game,
           "epg": energy_pointing_game}


def grounding_metrics(question_maps: ArrayLike, general_maps: ArrayLike, gt: ArrayLike) -> dict[str, Any]:
    """All metrics for one sample.

    ``question_maps``/``general_maps``: ``[layers, heads, N]`` last-row attention over the image grid for the
    question prompt and the general prompt. Per layer (official): ``A = mean_h(question) / mean_h(general)``.
    Per head: ``A = question[l, h] / mean_h(general)[l]`` (each head normalised by its layer's head-mean
    general map, as the VGRefine triage does). Returns ``{"layer": {metric: [L]}, "head": {metric: [L, H]}}``.
    """
    q = np.asarray(question_maps, dtype=np.float64)
    g = np.asarray(general_maps, dtype=np.float64)
    mask = np.asarray(gt, dtype=bool).reshape(-1)
    general_mean = g.mean(axis=1)
    layer_map = normalised_map(q.mean(axis=1), general_mean)
    head_map = normalised_map(q, general_mean[:, None, :])
    return {"layer": {name: fn(layer_map, mask) for name, fn in METRICS.items()},
            "head": {name: fn(head_map, mask) for name, fn in METRICS.items()}}
