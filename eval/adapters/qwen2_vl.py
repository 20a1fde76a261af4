"""Qwen2-VL: boxes as ``(x1,y1),(x2,y2)`` on a 0-1000 grid; pixel budget default 256*28*28 (the usual
evaluation setting; the checkpoint default, 16384*28*28, blows up memory)."""

from __future__ import annotations

from vgmed_data.eval.adapters.family import Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.qwen_base import QWEN_TEMPLATE, QwenAdapter
from vgmed_data.eval.adapters.registry import register
from vgmed_data.geometry import BoxFormat


@register
class Qwen2VLAdapter(QwenAdapter):
    descriptor = Family(
        name="qwen2_vl", model_types=("qwen2_vl",), box_format=BoxFormat.XYXY_1000, template=QWEN_TEMPLATE,
        input_rule=InputRule.RESIZE, official_route=OfficialRoute.QWEN, max_pixels=256 * 28 * 28,
        min_pixels=4 * 28 * 28, output_format="qwen2_vl", tiny="vgmed_data.eval.tiny:write_qwen2_vl")
