"""Geometry: one internal box format (pixel xyxy, x2/y2 exclusive), named formats, polygons, masks, transforms."""

from vgmed_data.geometry.boxes import (
    BoxFormat,
    as_boxes,
    box_area,
    box_iou,
    box_text,
    clip_boxes,
    convert_boxes,
    reference_phrase,
    union_box,
    validate_boxes,
)
from vgmed_data.geometry.shapes import (
    RepairReport,
    check_mask,
    label_components,
    make_polygon,
    mask_dice,
    mask_iou,
    mask_to_boxes,
    mask_to_polygons,
    rasterize,
)
from vgmed_data.geometry.transforms import Step, Transform

__all__ = [
    "BoxFormat", "RepairReport", "Step", "Transform", "as_boxes", "box_area", "box_iou", "box_text", "check_mask",
    "clip_boxes", "convert_boxes", "label_components", "make_polygon", "mask_dice", "mask_iou", "mask_to_boxes",
    "mask_to_polygons", "rasterize", "reference_phrase", "union_box", "validate_boxes",
]
