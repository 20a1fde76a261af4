"""Conversion of model boxes to the stored frame: smart resize, square padding, grids; round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vgmed_data.eval.boxes import InputPolicy, get_format, smart_resize


@pytest.mark.parametrize(("size", "pixels", "expected"), [
    ((500, 375), (3136, 12845056), (504, 364)),      # rounding only: 375/28 = 13.4 -> 13, 500/28 = 17.9 -> 18
    ((336, 336), (3136, 12845056), (336, 336)),      # 336 = 12 * 28: untouched
    ((1200, 900), (3136, 200704), (504, 364)),       # too many pixels: scale by sqrt(1.08e6/200704), round down
    ((20, 30), (3136, 12845056), (56, 84)),          # too few: scale up by sqrt(3136/600), round up
])
def test_smart_resize_golden(size: tuple[int, int], pixels: tuple[int, int], expected: tuple[int, int]) -> None:
    assert smart_resize(*size, factor=28, min_pixels=pixels[0], max_pixels=pixels[1]) == expected


def test_smart_resize_refuses_extreme_aspect() -> None:
    with pytest.raises(ValueError, match="aspect"):
        smart_resize(10000, 20, factor=28, min_pixels=3136, max_pixels=12845056)


def test_qwen2_5_vl_absolute_pixels_are_inverted_through_smart_resize() -> None:
    fmt = get_format("qwen2_5_vl")
    transform = fmt.policy.transform((500, 375))
    assert transform.dst_size == (504, 364)
    # stored (100, 50, 300, 200) seen on the 504x364 input
    on_input = [100 * 504 / 500, 50 * 364 / 375, 300 * 504 / 500, 200 * 364 / 375]
    assert np.allclose(fmt.to_stored(on_input, transform=transform), [100, 50, 300, 200])
    # the MedSG-Bench defect: reading those numbers as stored pixels is off by the resize
    assert not np.allclose(on_input, [100, 50, 300, 200], atol=1)


def test_llava_normalised_on_padded_square_is_unpadded() -> None:
    fmt = get_format("llava")
    transform = fmt.policy.transform((400, 300))  # pad 50 top/bottom -> 400x400 -> 336
    assert transform.dst_size == (336, 336)
    box = fmt.to_stored([0.25, 0.25, 0.75, 0.625], transform=transform)
    assert np.allclose(box, [100, 50, 300, 200])


def test_gemini_yxyx_grid() -> None:
    fmt = get_format("gemini")
    box = fmt.to_stored([200, 250, 500, 750], transform=fmt.policy.transform((400, 300)))
    assert np.allclose(box, [100, 60, 300, 150])


@pytest.mark.parametrize("name", ["qwen2_vl", "qwen3_vl"])
def test_grid_formats_are_relative_to_the_whole_image(name: str) -> None:
    fmt = get_format(name)
    box = fmt.to_stored([200, 400, 600, 800], transform=fmt.policy.transform((500, 375)))
    assert np.allclose(box, [100, 150, 300, 300])


def test_negative_and_inverted_boxes_pass_through_unchanged() -> None:
    fmt = get_format("pixel_xyxy")
    transform = fmt.policy.transform((100, 100))
    assert np.allclose(fmt.to_stored([-12, 5, 40, 60], transform=transform), [-12, 5, 40, 60])
    assert np.allclose(fmt.to_stored([40, 60, 10, 5], transform=transform), [40, 60, 10, 5])


@settings(max_examples=60, deadline=None)
@given(width=st.integers(30, 2000), height=st.integers(30, 2000),
       name=st.sampled_from(["qwen2_vl", "qwen2_5_vl", "qwen3_vl", "llava", "gemini", "pixel_xyxy"]),
       fractions=st.tuples(*(st.floats(0.0, 0.45),) * 2, *(st.floats(0.55, 1.0),) * 2))
def test_round_trip_through_every_format(width: int, height: int, name: str,
                                         fractions: tuple[float, float, float, float]) -> None:
    fmt = get_format(name)
    box = np.array([fractions[0] * width, fractions[1] * height, fractions[2] * width, fractions[3] * height])
    transform = fmt.policy.with_pixels(max_pixels=256 * 28 * 28).transform((width, height))
    written = fmt.from_stored(box, transform=transform)
    back = fmt.to_stored(written, transform=transform)
    # grid formats round to integers on the way out: at most half a grid step of the input, mapped back
    tolerance = 0.5 / 1000 * max(width, height) * 1.01 + 1e-6 if "1000" in fmt.numbers.value else 1e-6
    assert np.allclose(back, box, atol=tolerance)


def test_policy_with_pixels() -> None:
    policy = InputPolicy(kind="smart_resize").with_pixels(max_pixels=200704)
    assert policy.transform((1200, 900)).dst_size == (504, 364)
