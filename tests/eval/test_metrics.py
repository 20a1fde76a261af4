"""The metrics against a separate, straightforward implementation of the official formulas (FACTS.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vgmed_data.eval import metrics
from vgmed_data.errors import GeometryError, InvalidInputError
from vgmed_data.geometry import Transform


def ref_mask(boxes, input_size, stored_size, grid):  # noqa: ANN001, ANN201
    """The official rule: scale boxes to the input size, then cell indices with any overlap."""
    rows, cols = grid
    sx, sy = input_size[0] / stored_size[0], input_size[1] / stored_size[1]
    tw, th = input_size[0] / cols, input_size[1] / rows
    cells = set()
    for x1, y1, x2, y2 in boxes:
        x1, x2, y1, y2 = x1 * sx, x2 * sx, y1 * sy, y2 * sy
        for y in range(math.floor(y1 / th), min(math.ceil(y2 / th), rows)):
            for x in range(math.floor(x1 / tw), min(math.ceil(x2 / tw), cols)):
                cells.add(y * cols + x)
    flat = np.zeros(rows * cols, dtype=bool)
    flat[sorted(cells)] = True
    return flat


def ref_ar(a, gt):  # noqa: ANN001, ANN201
    n = len(a)
    return sum(a[i] for i in range(n) if gt[i]) / ((sum(a) / n) * sum(gt) + 1e-8)


def ref_kl(a, gt):  # noqa: ANN001, ANN201
    total = sum(a)
    att = [min(max(v / (total + 1e-8), 1e-12), 1.0) for v in a]
    g = [min(max((1.0 / sum(gt)) if m else 0.0, 1e-12), 1.0) for m in gt]
    return sum(gi * math.log(gi / ai) for gi, ai in zip(g, att))


def ref_js(a, gt):  # noqa: ANN001, ANN201
    total = sum(a)
    att = [v / (total + 1e-8) for v in a]
    g = [(1.0 / sum(gt)) if m else 0.0 for m in gt]
    m = [(x + y) / 2 for x, y in zip(att, g)]
    return 0.5 * (sum(x * math.log((x + 1e-8) / (mi + 1e-8)) for x, mi in zip(att, m))
                  + sum(y * math.log((y + 1e-8) / (mi + 1e-8)) for y, mi in zip(g, m)))


@pytest.mark.parametrize("seed", range(8))
def test_metrics_match_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 60))
    attn = rng.random((3, 2, n)) ** 3
    gt = rng.random(n) < 0.3
    gt[rng.integers(0, n)] = True
    ar, kl, js = metrics.attention_ratio(attn, gt), metrics.kl_divergence(attn, gt), metrics.js_divergence(attn, gt)
    assert ar.shape == kl.shape == js.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            row = list(attn[i, j])
            assert ar[i, j] == pytest.approx(ref_ar(row, gt), rel=1e-10)
            assert kl[i, j] == pytest.approx(ref_kl(row, gt), rel=1e-10)
            assert js[i, j] == pytest.approx(ref_js(row, gt), rel=1e-9, abs=1e-12)


def test_uniform_map_has_ar_one_and_concentrated_map_scores_best() -> None:
    gt = np.array([True, False, False, False])
    assert metrics.attention_ratio(np.ones(4), gt) == pytest.approx(1.0)
    focused = np.array([1.0, 0.0, 0.0, 0.0])
    assert metrics.attention_ratio(focused, gt) == pytest.approx(4.0)
    assert metrics.kl_divergence(focused, gt) == pytest.approx(0.0, abs=1e-7)
    assert metrics.js_divergence(focused, gt) == pytest.approx(0.0, abs=1e-7)
    assert metrics.pointing_game(focused, gt) == 1.0
    assert metrics.pointing_game(np.array([0.0, 1.0, 0, 0]), gt) == 0.0
    assert metrics.energy_pointing_game(np.array([1.0, 1.0, 1.0, 1.0]), gt) == pytest.approx(0.25)


def test_metrics_broadcast_gt_per_row() -> None:
    attn = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    gt = np.array([[True, False, False], [True, False, False]])
    np.testing.assert_allclose(metrics.attention_ratio(attn, gt), [0.5, 1.5], rtol=1e-7)


def test_empty_ground_truth_and_shape_mismatch_raise() -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        metrics.attention_ratio(np.ones(4), np.zeros(4, bool))
    with pytest.raises(InvalidInputError, match="covers 4 tokens"):
        metrics.kl_divergence(np.ones(4), np.ones(5, bool))


@pytest.mark.parametrize("seed", range(20))
def test_boxes_to_token_mask_matches_official_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    stored = (int(rng.integers(20, 400)), int(rng.integers(20, 400)))
    grid = (int(rng.integers(1, 20)), int(rng.integers(1, 20)))
    unit = 28
    input_size = (grid[1] * unit, grid[0] * unit)
    boxes = []
    for _ in range(int(rng.integers(1, 4))):
        x1, y1 = rng.uniform(0, stored[0] - 1), rng.uniform(0, stored[1] - 1)
        boxes.append([x1, y1, rng.uniform(x1 + 0.5, stored[0]), rng.uniform(y1 + 0.5, stored[1])])
    mask = metrics.boxes_to_token_mask(boxes, image_size=stored, grid=grid)
    assert mask.shape == grid
    np.testing.assert_array_equal(mask.reshape(-1), ref_mask(boxes, input_size, stored, grid))


def test_boxes_to_token_mask_golden_cells() -> None:
    # 112 x 56 image, 2 x 4 grid of 28 px cells; a box on [28, 0, 57, 28) touches columns 1 and 2 of row 0.
    mask = metrics.boxes_to_token_mask([[28, 0, 57, 28]], image_size=(112, 56), grid=(2, 4))
    assert mask.tolist() == [[False, True, True, False], [False, False, False, False]]


def test_box_outside_image_raises() -> None:
    with pytest.raises(GeometryError, match="outside"):
        metrics.boxes_to_token_mask([[10, 10, 130, 20]], image_size=(112, 56), grid=(2, 4))


def test_padding_aware_mapping_differs_from_official_for_square_padding() -> None:
    # A 200 x 100 image padded to 200 x 200 (50 px top and bottom) then resized to 56; grid 4 x 4.
    transform = Transform.identity((200, 100)).pad_to_square().resize(56, 56)
    box = [[0, 0, 50, 25]]  # top-left quarter-width, top quarter-height of the content
    aware = metrics.boxes_to_token_mask_padding_aware(box, transform=transform, grid=(4, 4))
    official = metrics.boxes_to_token_mask(box, image_size=(200, 100), grid=(4, 4))
    # On the padded input the box spans y 50..75 of 200 -> rows 1 only; x 0..50 -> column 0.
    assert np.argwhere(aware).tolist() == [[1, 0]]
    assert np.argwhere(official).tolist() == [[0, 0]]


def test_grounding_metrics_layer_and_head_shapes() -> None:
    rng = np.random.default_rng(0)
    q, g = rng.random((3, 4, 12)), rng.random((3, 4, 12)) + 0.1
    gt = np.zeros(12, bool)
    gt[[1, 2]] = True
    result = metrics.grounding_metrics(q, g, gt)
    assert result["layer"]["ar"].shape == (3,)
    assert result["head"]["kl"].shape == (3, 4)
    layer_map = q.mean(axis=1) / g.mean(axis=1)
    assert result["layer"]["ar"][2] == pytest.approx(ref_ar(list(layer_map[2]), gt))


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_metrics_equal_the_per_metric_functions(seed: int) -> None:
    """map_metrics (all metrics at once, float32 corrections outside G) equals the per-metric functions, which
    compute each formula directly in float64, within 1e-9 on attention-like maps."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([36, 144, 576]))
    q = rng.dirichlet(np.full(n, 0.3), size=(3, 5)).astype(np.float32)
    g = rng.dirichlet(np.ones(n), size=(3, 5)).astype(np.float32)
    gt = np.zeros(n, bool)
    gt[rng.choice(n, size=int(rng.integers(1, n // 2)), replace=False)] = True
    layer_map, head_map = metrics.layer_and_head_maps(q, g)
    for values in (layer_map, head_map, head_map[0, 0]):
        fast = metrics.map_metrics(values, gt)
        for name, fn in metrics.METRICS.items():
            np.testing.assert_allclose(fast[name], fn(values, gt), atol=1e-9, rtol=0)
