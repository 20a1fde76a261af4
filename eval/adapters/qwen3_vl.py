"""Qwen3-VL: 16-pixel patches merged 2x2 (32-pixel cells), boxes back on the 0-1000 grid, no default system
prompt; pixel budget default 256*32*32."""

from __future__ import annotations

from vgmed_data.eval.adapters.qwen_base import QwenAdapter
from vgmed_data.eval.adapters.registry import register
from vgmed_data.geometry import BoxFormat


@register
class Qwen3VLAdapter(QwenAdapter):
    family = "qwen3_vl"
    model_types = ("qwen3_vl",)
    box_format = BoxFormat.XYXY_1000
    default_template = "<|im_start|>user\n{image}{text}<|im_end|>\n<|im_start|>assistant\n"
    default_max_pixels = 256 * 32 * 32
    default_min_pixels = 4 * 32 * 32
