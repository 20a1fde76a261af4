"""Geometry: named box formats, IoU, polygons, masks and transforms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vgmed_data.errors import GeometryError, InvalidInputError
from vgmed_data.geometry import (
    BoxFormat,
    Transform,
    box_iou,
    convert_boxes,
    make_polygon,
    mask_dice,
    mask_iou,
    mask_to_boxes,
    mask_to_polygons,
    rasterize,
    validate_boxes,
)

sizes = st.tuples(st.integers(1, 4000), st.integers(1, 4000))


@st.composite
def image_and_boxes(draw: st.DrawFn) -> tuple[tuple[int, int], np.ndarray]:
    width, height = draw(sizes)
    count = draw(st.integers(1, 5))
    boxes = []
    for _ in range(count):
        x1 = draw(st.floats(0, width - 0.5))
        y1 = draw(st.floats(0, height - 0.5))
        x2 = draw(st.floats(x1 + 0.25, width))
        y2 = draw(st.floats(y1 + 0.25, height))
        boxes.append([x1, y1, x2, y2])
    return (width, height), np.array(boxes)


def _tolerance(fmt: BoxFormat, size: tuple[int, int]) -> float:
    # integer grids lose up to half a grid cell; everything else is exact up to float rounding
    return max(size) / 1000 * 0.5 + 1e-6 if fmt in (BoxFormat.XYXY_1000, BoxFormat.YXYX_1000) else 1e-6 * max(size)


PLAIN = [f for f in BoxFormat if f is not BoxFormat.INPUT_XYXY]


@settings(max_examples=60, deadline=None)
@given(data=image_and_boxes())
def test_every_pair_of_formats_round_trips(data: tuple[tuple[int, int], np.ndarray]) -> None:
    size, boxes = data
    transform = Transform.identity(size).pad_to_square().resize(448, 448)
    for src, dst in itertools.product([*PLAIN, BoxFormat.INPUT_XYXY], repeat=2):
        start = convert_boxes(boxes, src="xyxy", dst=src, image_size=size, transform=transform)
        there = convert_boxes(start, src=src, dst=dst, image_size=size, transform=transform)
        back = convert_boxes(there, src=dst, dst="xyxy", image_size=size, transform=transform)
        tolerance = max(_tolerance(src, size), _tolerance(dst, size)) * 2 + 1e-6 * max(size)
        np.testing.assert_allclose(back, boxes, atol=tolerance, err_msg=f"{src.value} -> {dst.value}")


def test_named_formats_match_hand_computed_values() -> None:
    box = [[10, 20, 30, 60]]
    size = (200, 100)
    expected = {
        "xywh": [10, 20, 20, 40], "cxcywh": [20, 40, 20, 40], "xyxy_norm": [0.05, 0.2, 0.15, 0.6],
        "cxcywh_norm": [0.1, 0.4, 0.1, 0.4], "xyxy_1000": [50, 200, 150, 600], "yxyx_1000": [200, 50, 600, 150],
        "ls_percent": [5, 20, 10, 40],
    }
    for name, values in expected.items():
        np.testing.assert_allclose(convert_boxes(box, src="xyxy", dst=name, image_size=size)[0], values)
    transform = Transform.identity(size).pad_to_square().resize(400, 400)  # pad 50 top/bottom, then x2
    np.testing.assert_allclose(
        convert_boxes(box, src=BoxFormat.XYXY, dst=BoxFormat.INPUT_XYXY, image_size=size, transform=transform)[0],
        [20, 140, 60, 220])


def test_unknown_format_and_missing_arguments_are_clear_errors() -> None:
    with pytest.raises(InvalidInputError, match="xyxy_norm"):
        convert_boxes([[0, 0, 1, 1]], src="xyxy", dst="normalised", image_size=(10, 10))
    with pytest.raises(InvalidInputError, match="image_size"):
        convert_boxes([[0, 0, 1, 1]], src="xyxy", dst="xyxy_norm", image_size=None)
    with pytest.raises(InvalidInputError, match="transform"):
        convert_boxes([[0, 0, 1, 1]], src="xyxy", dst="input_xyxy", image_size=(10, 10))


@settings(max_examples=100, deadline=None)
@given(a=image_and_boxes(), b=image_and_boxes())
def test_iou_is_symmetric_and_bounded(a: tuple, b: tuple) -> None:
    forward, backward = box_iou(a[1], b[1]), box_iou(b[1], a[1])
    np.testing.assert_allclose(forward, backward.T)
    assert np.all((forward >= 0) & (forward <= 1))
    np.testing.assert_allclose(np.diag(box_iou(a[1], a[1])), 1.0)


def test_iou_known_values_and_degenerate_boxes() -> None:
    assert box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])[0, 0] == pytest.approx(1 / 7)
    assert box_iou([[0, 0, 0, 5]], [[0, 0, 0, 5]])[0, 0] == 0.0  # zero area: 0, not a division by zero
    assert box_iou([[5, 5, 1, 1]], [[0, 0, 6, 6]])[0, 0] == 0.0  # inverted
    assert box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def test_validate_boxes_names_the_record_and_the_problem() -> None:
    with pytest.raises(GeometryError, match=r"record s1.*outside the 10x10 image"):
        validate_boxes([[0, 0, 11, 5]], image_size=(10, 10), record="s1")
    with pytest.raises(GeometryError, match="x2 <= x1"):
        validate_boxes([[5, 0, 2, 5]], image_size=(10, 10), record="s2")


@st.composite
def random_masks(draw: st.DrawFn) -> np.ndarray:
    height, width = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**31))
    density = draw(st.floats(0.05, 0.6))
    return np.random.default_rng(seed).random((height, width)) < density


@settings(max_examples=80, deadline=None)
@given(mask=random_masks())
def test_mask_boxes_and_polygons_are_consistent(mask: np.ndarray) -> None:
    boxes, counts = mask_to_boxes(mask)
    assert counts.sum() == mask.sum()
    covered = np.zeros_like(mask)
    for x1, y1, x2, y2 in boxes.astype(int):
        covered[y1:y2, x1:x2] = True
    assert np.all(covered[mask])  # every foreground pixel lies in some component box
    for x1, y1, x2, y2 in boxes.astype(int):  # each box is tight: its border rows/cols touch foreground
        crop = mask[y1:y2, x1:x2]
        assert crop[0].any() or crop[-1].any() or crop[:, 0].any()
    rebuilt = np.zeros_like(mask)
    for polygon in mask_to_polygons(mask):
        rebuilt |= rasterize(polygon, image_size=(mask.shape[1], mask.shape[0]))
    np.testing.assert_array_equal(rebuilt, mask)


def test_mask_to_boxes_minimum_sizes() -> None:
    mask = np.zeros((20, 20), bool)
    mask[1:3, 1:3] = True  # 4 pixels, 2x2
    mask[10:18, 5:15] = True  # 80 pixels, 10x8
    boxes, counts = mask_to_boxes(mask, min_pixels=5)
    np.testing.assert_array_equal(boxes, [[5, 10, 15, 18]])
    boxes, _ = mask_to_boxes(mask, min_size_mm=5, pixel_spacing_mm=(0.4, 0.4))  # 10 px * 0.4 = 4 mm < 5
    assert len(boxes) == 0


def test_self_intersecting_polygon_is_repaired_and_reported() -> None:
    polygon, report = make_polygon([[0, 0], [10, 10], [10, 0], [0, 10]])  # a bow tie
    assert report.repaired and "Self-intersection" in report.reason
    assert polygon.is_valid and polygon.area == pytest.approx(50.0)
    polygon, report = make_polygon([[0, 0], [4, 0], [4, 4]])
    assert not report.repaired and polygon.area == pytest.approx(8.0)
    with pytest.raises(GeometryError):
        make_polygon([[0, 0], [1, 1]])


def test_rasterize_uses_pixel_centres() -> None:
    polygon, _ = make_polygon([[1, 1], [4, 1], [4, 3], [1, 3]])
    mask = rasterize(polygon, image_size=(6, 5))
    expected = np.zeros((5, 6), bool)
    expected[1:3, 1:4] = True
    np.testing.assert_array_equal(mask, expected)


def test_mask_iou_and_dice_are_safe_on_empty_inputs() -> None:
    empty = np.zeros((4, 4), bool)
    full = np.ones((4, 4), bool)
    assert mask_iou(empty, empty) == 1.0 and mask_dice(empty, empty) == 1.0
    assert mask_iou(empty, full) == 0.0 and mask_dice(empty, full) == 0.0
    half = full.copy()
    half[:2] = False
    assert mask_iou(half, full) == 0.5 and mask_dice(half, full) == pytest.approx(2 * 8 / 24)


def test_transforms_carry_regions_with_the_image() -> None:
    image_size = (40, 20)
    mask = np.zeros((20, 40), bool)
    mask[5:9, 10:30] = True
    transform = Transform.identity(image_size).crop([4, 2, 36, 18]).pad(3, 1, 0, 2).pad_to_square().resize(70, 70)
    moved = transform.apply_mask(mask)
    assert moved.shape == (70, 70)
    boxes, _ = mask_to_boxes(moved)
    expected = transform.apply_boxes([[10, 5, 30, 9]])[0]
    np.testing.assert_allclose(boxes[0], expected, atol=1.0)  # nearest-neighbour resampling: within a pixel
    np.testing.assert_allclose(transform.inverse_boxes(transform.apply_boxes([[10, 5, 30, 9]])), [[10, 5, 30, 9]])
    assert Transform.from_json(transform.to_json()) == transform
    with pytest.raises(GeometryError):
        Transform.identity(image_size).crop([0, 0, 50, 10])


def test_empty_mask_is_a_clear_error_naming_the_record() -> None:
    from vgmed_data.geometry import check_mask

    with pytest.raises(GeometryError, match=r"case7/liver.*mask is empty.*--on-bad skip"):
        check_mask(np.zeros((8, 8), bool), record="case7/liver")
    boxes, counts = mask_to_boxes(np.zeros((8, 8), bool))
    assert boxes.shape == (0, 4) and counts.shape == (0,)
