"""Grounding metrics, exactly as the official VGMED code defines them (Guimeng-Leo-Liu/Medical-MLLMs-Fail @ c7263dd), plus clearly named
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
    q, g = np.asarray(att_question), np.asarray(att_general)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.divide(q, np.add(g, eps, dtype=np.float64) if eps else g, dtype=np.float64)
        if np.isfinite(out.sum()):  # one cheap pass; nan_to_num costs 3x more and is rarely needed
            return out
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


def boxes_to_token_mask(boxes_xyxy: ArrayLike, *, image_size: Sequence[float], grid: Sequence[int],
                        clip: bool = False) -> NDArray[np.bool_]:
    """Official box -> token-cell rule: the ``(rows, cols)`` mask of cells any box overlaps.

    ``boxes_xyxy``: internal pixel xyxy in the frame of ``image_size`` = (width, height), the image the
    ``grid`` = (rows, cols) tiles (the official code scales boxes to the model input first; scaling the cell
    size instead is the same map). Boxes outside the image, empty or inverted raise :class:`GeometryError`;
    with ``clip`` (the official protocol) nothing is refused: each box's cell range is clamped to the grid
    as measure_attention.py ``get_tokens_covering_bbox`` does, so a box outside the image adds no cell (the
    caller decides what an empty mask means; the official code raises).
    """
    rows, cols = _grid(grid)
    width, height = (float(v) for v in image_size)
    if width <= 0 or height <= 0:
        raise GeometryError(f"image_size must be positive, got {tuple(image_size)}")
    boxes = as_boxes(boxes_xyxy)
    mask = np.zeros((rows, cols), dtype=bool)
    tol = 1e-6
    for x1, y1, x2, y2 in boxes:
        if not clip and (x2 <= x1 or y2 <= y1):
            raise GeometryError(f"box {[x1, y1, x2, y2]} is empty or inverted", fix="use xyxy with x2 > x1, y2 > y1")
        if not clip and (x1 < -tol or y1 < -tol or x2 > width + tol or y2 > height + tol):
            raise GeometryError(f"box {[x1, y1, x2, y2]} lies outside the {width:g}x{height:g} image",
                                fix="clip or repair the box in the dataset (vgmed validate lists them), or "
                                    "use --protocol official (boxes clipped to the image)")
        tw, th = width / cols, height / rows
        # Round before floor/ceil so a box edge exactly on a cell edge is not pushed by float error.
        c0 = max(math.floor(round(x1 / tw, 9)), 0)
        r0 = max(math.floor(round(y1 / th, 9)), 0)
        c1 = min(math.ceil(round(x2 / tw, 9)), cols)
        r1 = min(math.ceil(round(y2 / th, 9)), rows)
        if r1 > r0 and c1 > c0:
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
# The official VGMED metrics, in this order everywhere: the runner's <id>__head_metrics arrays, the report's plots,
# head and layer selection (vgrefine/select.py).
HEAD_METRICS = ("ar", "kl", "js")
LOWER_IS_BETTER = frozenset({"kl", "js"})
_LOG_CLIP_MIN = math.log(CLIP_MIN)


def map_metrics(maps: ArrayLike, gt: ArrayLike) -> dict[str, NDArray[np.float64]]:
    """All of :data:`METRICS` for every map of ``maps`` (``(..., N)``) against one ground-truth set ``gt``
    (``(N,)``), in a few passes over the array: the same values as the per-metric functions (within 1e-12 on
    attention maps; tests hold it to 1e-9), about 7x less CPU time on ``[28, 28, 576]`` (bench/metrics.py).

    Terms over G are computed exactly in float64. Outside G the official formulas reduce to closed forms plus
    two corrections of at most ``1e-8`` per token, which are summed in float32 (relative error 1e-7 on a sum
    below ``N * 1e-8``): KL's clipped target is ``1e-12`` there, adding ``1e-12 * (log 1e-12 - log att)``;
    JS's target is 0 there, so ``m = att / 2`` and ``att * log((att + e) / (att / 2 + e))`` equals
    ``att * (log 2 + log1p(-e / (att + 2e)))``.
    """
    a = np.asarray(maps, dtype=np.float64)
    mask = np.asarray(gt).astype(bool).reshape(-1)
    _prepare(a[(0,) * (a.ndim - 1)] if a.ndim > 1 else a, mask)
    n = a.shape[-1]
    inside = np.flatnonzero(mask)
    k = inside.size
    a_in = a[..., inside]
    total = a.sum(axis=-1)
    total_in = a_in.sum(axis=-1)
    negative = bool(a.min() < 0)
    out: dict[str, NDArray[np.float64]] = {"ar": total_in / ((total / n) * k + AR_EPS)}
    denom = total + AR_EPS
    att_in = a_in / denom[..., None]
    target = 1.0 / k
    # KL(gt || att): inside G exactly; outside, target 1e-12 against the clipped att (float32 correction).
    kl = np.sum(target * (math.log(target) - np.log(np.clip(att_in, CLIP_MIN, 1.0))), axis=-1)
    att32 = np.multiply(a, (1.0 / denom)[..., None], dtype=np.float32)
    # KL outside G: target 1e-12 against att clipped to [1e-12, 1] (att <= 1 unless the map has negatives).
    work = np.maximum(att32, np.float32(CLIP_MIN))
    if negative:
        np.minimum(work, np.float32(1.0), out=work)
    np.log(work, out=work)
    out_log = work.sum(axis=-1, dtype=np.float64) - work[..., inside].sum(axis=-1, dtype=np.float64)
    out["kl"] = kl + CLIP_MIN * ((n - k) * _LOG_CLIP_MIN - out_log)
    # JS: inside G exactly; outside, att * log 2 plus att * log1p(-e / (att + 2e)) (float32 correction).
    m_in = (att_in + target) / 2
    js_in = (np.sum(att_in * np.log((att_in + JS_EPS) / (m_in + JS_EPS)), axis=-1)
             + np.sum(target * np.log((target + JS_EPS) / (m_in + JS_EPS)), axis=-1))
    eps32 = np.float32(JS_EPS)
    np.add(att32, 2 * eps32, out=work)
    np.divide(-eps32, work, out=work)
    np.log1p(work, out=work)
    work *= att32
    corr_out = work.sum(axis=-1, dtype=np.float64) - work[..., inside].sum(axis=-1, dtype=np.float64)
    mass_out = (total - total_in) / denom
    out["js"] = 0.5 * (js_in + math.log(2.0) * mass_out + corr_out)
    out["pg"] = mask[np.argmax(a, axis=-1)].astype(np.float64)
    if negative:  # energy pointing game counts non-negative mass only
        clipped = np.clip(a, 0.0, None)
        total, total_in = clipped.sum(axis=-1), clipped[..., inside].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["epg"] = np.where(total > 0, total_in / np.where(total > 0, total, 1.0), 0.0)
    return out


def layer_and_head_maps(question_maps: ArrayLike, general_maps: ArrayLike
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The official normalised maps of one sample from ``[layers, heads, N]`` question and general maps.

    Per layer (measure_attention.py ``get_attention_qwen`` + ``compute_metrics``): the head mean of each
    prompt first, then the ratio, ``mean_h(question[l]) / mean_h(general[l])``. Per head
    (measure_attention_head.py): each head over the SAME head of the general prompt,
    ``question[l, h] / general[l, h]``. No epsilon in either (a 0/0 or x/0 cell becomes 0). This is not the
    VGRefine triage's normalisation, which divides every head by its layer's head-mean general map plus 1e-10
    (``vgrefine.triage``)."""
    q, g = np.asarray(question_maps), np.asarray(general_maps)
    if q.shape != g.shape or q.ndim != 3:
        raise InvalidInputError(f"question maps {q.shape} and general maps {g.shape} differ or are not "
                                "[layers, heads, N]", fix="capture both prompts on the same layers and image grid")
    # float64 arithmetic straight from the captured dtype (no float64 copies of the inputs)
    return (normalised_map(q.mean(axis=1, dtype=np.float64), g.mean(axis=1, dtype=np.float64)),
            normalised_map(q, g))


def grounding_metrics(question_maps: ArrayLike, general_maps: ArrayLike, gt: ArrayLike) -> dict[str, Any]:
    """All metrics for one sample, per layer and per head, on the official normalised maps
    (:func:`layer_and_head_maps`).

    ``question_maps``/``general_maps``: ``[layers, heads, N]`` last-row attention over the image grid for the
    question prompt and the general prompt. Returns ``{"layer": {metric: [L]}, "head": {metric: [L, H]}}``.
    """
    layer_map, head_map = layer_and_head_maps(question_maps, general_maps)
    mask = np.asarray(gt, dtype=bool).reshape(-1)
    return {"layer": map_metrics(layer_map, mask), "head": map_metrics(head_map, mask)}
