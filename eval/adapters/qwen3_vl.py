"""Qwen3-VL: 16-pixel patches merged 2x2 (32-pixel cells), boxes back on the 0-1000 grid, no default system
prompt; pixel budget default 256*32*32."""

from __future__ import annotations

from vgmed_data.eval.adapters.family import Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.qwen_base import QwenAdapter
from vgmed_data.eval.adapters.registry import register
from vgmed_data.geometry import BoxFormat


@register
class Qwen3VLAdapter(QwenAdapter):
    descriptor = Family(
        name="qwen3_vl", model_types=("qwen3_vl",), box_format=BoxFormat.XYXY_1000,
        template="<|im_start|>user\n{image}{text}<|im_end|>\n<|im_start|>assistant\n", input_rule=InputRule.RESIZE,
        official_route=OfficialRoute.QWEN, max_pixels=256 * 32 * 32, min_pixels=4 * 32 * 32,
        output_format="qwen3_vl", tiny="vgmed_data.eval.tiny:write_qwen3_vl")
