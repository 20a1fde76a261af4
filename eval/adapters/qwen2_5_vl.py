"""Qwen2.5-VL (also Lingshu and HuatuoGPT-Vision's Qwen2.5-VL release): boxes in absolute pixels of the
smart-resized input (``input_xyxy``); pixel budget default 256*28*28."""

from __future__ import annotations

from vgmed_data.eval.adapters.family import Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.qwen_base import QWEN_TEMPLATE, QwenAdapter
from vgmed_data.eval.adapters.registry import register
from vgmed_data.geometry import BoxFormat


@register
class Qwen25VLAdapter(QwenAdapter):
    descriptor = Family(
        name="qwen2_5_vl", model_types=("qwen2_5_vl",), box_format=BoxFormat.INPUT_XYXY, template=QWEN_TEMPLATE,
        input_rule=InputRule.RESIZE, official_route=OfficialRoute.QWEN, max_pixels=256 * 28 * 28,
        min_pixels=4 * 28 * 28, output_format="qwen2_5_vl", tiny="vgmed_data.eval.tiny:write_qwen2_5_vl")
