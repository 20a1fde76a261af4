"""Per-layer and per-head metrics against a transcription of the official VGMED code, written here without the
project's modules: measure_attention.py (layer metrics: head mean of each prompt, then the ratio) and
measure_attention_head.py (head metrics: each head over the SAME head of the general prompt), with the
official ``attention_ratio_vectorized`` / ``kl_divergence_vectorized`` / ``js_divergence_vectorized`` and
``get_tokens_covering_bbox`` rules (Guimeng-Leo-Liu/Medical-MLLMs-Fail @ c7263dd).

The transcription works on a list of ``(x, y)`` cells as the official code does and in float64 (the official
code runs the same formulas on float32 arrays; float64 isolates the formulas from that rounding).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.eager import eager_last_rows
from vgmed_data.eval.metrics import grounding_metrics
from vgmed_data.eval.runner import EvalConfig, run_eval

TOL = 1e-6


# ---- the official formulas, transcribed ---------------------------------------------------------------------
def official_cells(box_xyxy, stored_size, input_size, grid):  # noqa: ANN001, ANN201
    """Scale an xyxy box to the input size, then every (x, y) cell it overlaps, the range clamped to the grid."""
    (w0, h0), (w1, h1) = stored_size, input_size
    rows, cols = grid
    x1, y1, x2, y2 = box_xyxy[0] * w1 / w0, box_xyxy[1] * h1 / h0, box_xyxy[2] * w1 / w0, box_xyxy[3] * h1 / h0
    cw, ch = w1 / cols, h1 / rows
    xs = range(int(max(math.floor(x1 / cw), 0)), int(min(math.ceil(x2 / cw), cols)))
    ys = range(int(max(math.floor(y1 / ch), 0)), int(min(math.ceil(y2 / ch), rows)))
    return [(x, y) for x in xs for y in ys]


def official_three(A, cells, cols):  # noqa: ANN001, ANN201
    """AR, KL, JS over the last axis of the normalised map ``A`` for the ground-truth cells ``cells``."""
    n = A.shape[-1]
    index = np.array(sorted({y * cols + x for x, y in cells}))
    ar = A[..., index].sum(-1) / (A.sum(-1) / n * len(index) + 1e-8)
    dist = A / (A.sum(-1, keepdims=True) + 1e-8)
    target = np.zeros(n)
    target[index] = 1.0
    target = target / target.sum()
    kl = (np.clip(target, 1e-12, 1) * np.log(np.clip(target, 1e-12, 1) / np.clip(dist, 1e-12, 1))).sum(-1)
    mid = (dist + target) / 2
    js = 0.5 * ((dist * np.log((dist + 1e-8) / (mid + 1e-8))).sum(-1)
                + (target * np.log((target + 1e-8) / (mid + 1e-8))).sum(-1))
    return {"ar": ar, "kl": kl, "js": js}


def official_layer(question, general, cells, cols):  # noqa: ANN001, ANN201
    per_layer = [question[layer].mean(axis=0) / general[layer].mean(axis=0) for layer in range(len(question))]
    return official_three(np.array(per_layer), cells, cols)


def official_head(question, general, cells, cols):  # noqa: ANN001, ANN201
    return official_three(question / general, cells, cols)


# ---- random maps ------------------------------------------------------------------------------------------------
def _random_case(seed: int):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    layers, heads = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    q = rng.dirichlet(np.full(rows * cols, 0.4), size=(layers, heads))
    g = rng.dirichlet(np.ones(rows * cols), size=(layers, heads)) + 1e-6
    size = (int(rng.integers(30, 400)), int(rng.integers(30, 400)))
    x1, y1 = rng.uniform(0, size[0] * 0.7), rng.uniform(0, size[1] * 0.7)
    box = [x1, y1, rng.uniform(x1 + 1, size[0]), rng.uniform(y1 + 1, size[1])]
    cells = official_cells(box, size, (cols * 28, rows * 28), (rows, cols))
    mask = np.zeros(rows * cols, bool)
    for x, y in cells:
        mask[y * cols + x] = True
    return q, g, cells, cols, mask


@pytest.mark.parametrize("seed", range(12))
def test_random_maps_equal_the_official_code(seed: int) -> None:
    q, g, cells, cols, mask = _random_case(seed)
    ours = grounding_metrics(q, g, mask)
    layer, head = official_layer(q, g, cells, cols), official_head(q, g, cells, cols)
    for name in ("ar", "kl", "js"):
        np.testing.assert_allclose(ours["layer"][name], layer[name], atol=TOL, rtol=0)
        np.testing.assert_allclose(ours["head"][name], head[name], atol=TOL, rtol=0)


def test_head_rule_is_same_head_not_layer_mean() -> None:
    """Guard against the old rule (each head over its layer's head-mean general map): it gives other values."""
    q, g, cells, cols, mask = _random_case(3)
    ours = grounding_metrics(q, g, mask)["head"]["kl"]
    layer_mean_rule = official_three(q / g.mean(axis=1, keepdims=True), cells, cols)["kl"]
    assert np.max(np.abs(ours - layer_mean_rule)) > 1e-3


# ---- a tiny model's real maps -----------------------------------------------------------------------------------
def _eager_image_rows(adapter, image, text: str) -> np.ndarray:  # noqa: ANN001
    """``[layers, heads, N]`` last-row attention over the image tokens, from eager ``output_attentions``."""
    rows, positions = eager_last_rows(adapter, image, text)
    return np.stack([layer[:, positions] for layer in rows])


def test_tiny_model_maps_and_runner_records_equal_the_official_code(tiny_checkpoint, tmp_path) -> None:  # noqa: ANN001
    from tests.eval.data import tiny_samples, write_tiny_dataset

    from vgmed_data.eval.adapters import GENERAL_PROMPT, load_adapter, question_prompt

    folder = write_tiny_dataset(tmp_path / "data", 3)
    samples = tiny_samples(3)
    model = tiny_checkpoint("qwen2_vl")
    out = tmp_path / "run"
    run_eval(EvalConfig(model=str(model), dataset=str(folder), out=out, progress=False, overlays=0,
                        max_new_tokens=1))
    records = [r for r in map(__import__("json").loads, (out / "samples.jsonl").read_text().splitlines())]
    stored = {}
    for shard in sorted((out / "attention").glob("*.npz")):
        with np.load(shard) as data:
            stored.update({key: data[key] for key in data.files if key.endswith("__head_metrics")})
    adapter = load_adapter(model)
    for sample, record in zip(samples, records):
        image = sample.image.convert("RGB")
        q = _eager_image_rows(adapter, image, question_prompt(sample.question))
        g = _eager_image_rows(adapter, image, GENERAL_PROMPT)
        rows, cols = record["grid"]
        cells = set()
        for box in sample.boxes:
            cells.update(official_cells(box, image.size, (cols * 28, rows * 28), (rows, cols)))
        mask = np.zeros(rows * cols, bool)
        for x, y in cells:
            mask[y * cols + x] = True
        layer, head = official_layer(q, g, list(cells), cols), official_head(q, g, list(cells), cols)
        ours = grounding_metrics(q, g, mask)  # the metrics on these very maps
        for name in ("ar", "kl", "js"):
            np.testing.assert_allclose(ours["layer"][name], layer[name], atol=TOL, rtol=0)
            np.testing.assert_allclose(ours["head"][name], head[name], atol=TOL, rtol=0)
        # What the runner recorded (its own capture; layer figures rounded to 6 decimals, head figures float32)
        assert record["gt_tokens"] == len(cells)
        for i, name in enumerate(("ar", "kl", "js")):
            np.testing.assert_allclose(record["metrics"][name], layer[name], atol=2e-6, rtol=0)
            np.testing.assert_allclose(stored[f"{sample.id}__head_metrics"][i], head[name], atol=2e-6, rtol=1e-6)


def test_boxes_outside_the_image_are_clipped_under_the_official_rule() -> None:
    from vgmed_data.errors import GeometryError
    from vgmed_data.eval.metrics import boxes_to_token_mask

    size, grid = (330, 190), (6, 10)
    for box in ([-20.0, 150.0, 120.0, 230.0], [300.0, -5.0, 400.0, 50.0], [400.0, 10.0, 500.0, 40.0]):
        mask = boxes_to_token_mask([box], image_size=size, grid=grid, clip=True).reshape(-1)
        expected = np.zeros(60, bool)
        for x, y in official_cells(box, size, (280, 168), grid):
            expected[y * 10 + x] = True
        np.testing.assert_array_equal(mask, expected)
        with pytest.raises(GeometryError, match="outside"):
            boxes_to_token_mask([box], image_size=size, grid=grid)
    assert not boxes_to_token_mask([[400.0, 10.0, 500.0, 40.0]], image_size=size, grid=grid, clip=True).any()
