"""Rotated rectangles follow Label Studio's own convention: rotation about the top-left corner (x, y), clockwise
on screen, in pixel space (not in percent space, which would shear on a non-square image).

References read for this (docs/annotation.md cites them): the editor's RectRegion (Konva ``<Rect x y width height
rotation>`` with the corner as origin, value.x/y "of the top left corner before rotation") and
``rotateBboxCoords`` (rotates about that corner after scaling percent to pixels); the SDK converter's
``convert_annotation_to_yolo_obb``, used below as an independent implementation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from label_studio_sdk.converter.utils import convert_annotation_to_yolo_obb

from vgmed_data.annotation.regions import region_from_result

WIDTH, HEIGHT = 64, 40  # non-square


@pytest.mark.parametrize("rotation", [0.0, 30.0, 90.0, 135.0, 270.0, 333.5])
def test_rotated_rectangle_matches_the_sdk_converter(rotation: float) -> None:
    value = {"x": 20 / WIDTH * 100, "y": 5 / HEIGHT * 100, "width": 16 / WIDTH * 100, "height": 8 / HEIGHT * 100,
             "rotation": rotation, "rectanglelabels": ["liver"]}
    result = {"from_name": "box", "to_name": "image", "type": "rectanglelabels", "original_width": WIDTH,
              "original_height": HEIGHT, "image_rotation": 0, "value": value}
    region = region_from_result(result)
    sdk = convert_annotation_to_yolo_obb({**value, "original_width": WIDTH, "original_height": HEIGHT},
                                         normalize=False)
    assert np.allclose(np.array(region.points), np.array(sdk), atol=1e-9)
    xs, ys = [p[0] for p in sdk], [p[1] for p in sdk]
    assert region.box == pytest.approx((min(xs), min(ys), max(xs), max(ys)), abs=1e-9)


def test_rotation_is_clockwise_on_screen_about_the_top_left_corner() -> None:
    # 90 degrees: the top edge (20,5)->(36,5) turns to point straight down from the fixed corner (20,5).
    value = {"x": 20 / WIDTH * 100, "y": 5 / HEIGHT * 100, "width": 16 / WIDTH * 100, "height": 8 / HEIGHT * 100,
             "rotation": 90.0, "rectanglelabels": ["liver"]}
    region = region_from_result({"type": "rectanglelabels", "original_width": WIDTH, "original_height": HEIGHT,
                                 "value": value})
    expected = [(20, 5), (20, 21), (12, 21), (12, 5)]
    assert np.allclose(region.points, expected, atol=1e-9)
    assert region.box == pytest.approx((12.0, 5.0, 20.0, 21.0), abs=1e-9)
    # side lengths stay 16 and 8 pixels (a percent-space rotation would not keep them on a 64x40 image)
    p = np.array(region.points)
    assert math.dist(p[0], p[1]) == pytest.approx(16.0) and math.dist(p[1], p[2]) == pytest.approx(8.0)
