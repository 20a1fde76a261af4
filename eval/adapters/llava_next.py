"""LLaVA-NeXT: the base view (the whole image resized to the square crop size, ``g x g`` tokens) comes first,
then the high-resolution tiles, unpadded, with a newline token after each row. Grounding maps use the base
view (its tokens tile the whole image with one known transform); the span keeps every image token so the
capture covers the tiles too."""

from __future__ import annotations

from typing import Any

from vgmed_data.eval.adapters.base import ImageLayout
from vgmed_data.eval.adapters.family import Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.llava import LlavaAdapter
from vgmed_data.eval.adapters.registry import register
from vgmed_data.geometry import BoxFormat, Transform


@register
class LlavaNextAdapter(LlavaAdapter):
    descriptor = Family(
        name="llava_next", model_types=("llava_next",), box_format=BoxFormat.XYXY_NORM,
        template="[INST] {image}\n{text} [/INST]", input_rule=InputRule.CROP, official_route=OfficialRoute.HUATUO,
        output_format="llava_next", tiny="vgmed_data.eval.tiny:write_llava_next")

    def input_transform(self, image_size: tuple[int, int]) -> Transform:
        processor = self.processor.image_processor
        size = processor.size
        side = int(size.get("shortest_edge") or size["height"])
        crop = processor.crop_size
        transform = Transform.identity(image_size).resize(side, side)
        crop_w, crop_h = int(crop["width"]), int(crop["height"])
        if (crop_w, crop_h) != (side, side):
            left, top = (side - crop_w) // 2, (side - crop_h) // 2
            transform = transform.crop((left, top, left + crop_w, top + crop_h))
        return transform

    def layout(self, ids: list[int], image_size: tuple[int, int], inputs: dict[str, Any], row: int, *,
               record: str) -> ImageLayout:
        positions = self.image_positions(ids, record=record)
        side = self.grid_side
        base = positions[: side * side]
        return ImageLayout(positions=base, grid=(side, side), transform=self.input_transform(image_size),
                           span=(int(positions[0]), int(positions[-1]) + 1))
