"""Gemma 3 (also MedGemma): SigLIP on the image resized to a fixed square (aspect ratio not kept, no
pan-and-scan by default), pooled to ``mm_tokens_per_image`` tokens (16 x 16 at 896 px) between
``<start_of_image>`` and ``<end_of_image>``."""

from __future__ import annotations

import math
from typing import Any

from vgmed_data.eval.adapters.base import Adapter, ImageLayout
from vgmed_data.eval.adapters.family import Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.registry import register
from vgmed_data.errors import SchemaError
from vgmed_data.geometry import BoxFormat, Transform


@register
class Gemma3Adapter(Adapter):
    # no official path of its own: a single-image, fixed-grid model like LLaVA, so it follows the bot's settings
    descriptor = Family(
        name="gemma3", model_types=("gemma3",), box_format=BoxFormat.YXYX_1000,
        template="<bos><start_of_turn>user\n{image}{text}<end_of_turn>\n<start_of_turn>model\n",
        input_rule=InputRule.RESIZE, official_route=OfficialRoute.HUATUO, tiny="vgmed_data.eval.tiny:write_gemma3")
    image_placeholder = "<start_of_image>"
    prepend_bos = True
    nest_images = True

    def layout(self, ids: list[int], image_size: tuple[int, int], inputs: dict[str, Any], row: int, *,
               record: str) -> ImageLayout:
        positions = self.image_positions(ids, record=record)
        tokens = int(self.model.config.mm_tokens_per_image)
        side = math.isqrt(tokens)
        if positions.size != tokens or side * side != tokens:
            raise SchemaError(f"{positions.size} image tokens, expected {tokens} (a square grid)",
                              record=record or None, fix="pass one image per prompt, without pan-and-scan")
        size = self.processor.image_processor.size
        transform = Transform.identity(image_size).resize(int(size["width"]), int(size["height"]))
        return ImageLayout(positions=positions, grid=(side, side), transform=transform,
                           span=(int(positions[0]), int(positions[-1]) + 1))
