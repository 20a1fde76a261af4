"""LLaVA-1.5 (also LLaVA-Med in HF format): CLIP ViT, ``(image_size / patch)^2`` tokens after the CLS token is
dropped, on the image resized (shortest edge) and center-cropped, or padded to square and resized when the
image processor has ``do_pad`` (the HuatuoGPT-Vision / LLaVA ``expand2square`` preprocessing)."""

from __future__ import annotations

from typing import Any

from vgmed_data.eval.adapters.base import Adapter, ImageLayout
from vgmed_data.eval.adapters.family import Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.registry import register
from vgmed_data.errors import SchemaError
from vgmed_data.geometry import BoxFormat, Transform


def shortest_edge_then_crop(image_size: tuple[int, int], shortest: int, crop: tuple[int, int]) -> Transform:
    """CLIP preprocessing: resize so the short side is ``shortest`` (long side truncated as transformers
    does), then center-crop to ``crop`` = (width, height), top-left offset ``(size - crop) // 2``."""
    width, height = image_size
    if width <= height:
        new_w, new_h = shortest, int(shortest * height / width)
    else:
        new_w, new_h = int(shortest * width / height), shortest
    transform = Transform.identity(image_size).resize(new_w, new_h)
    crop_w, crop_h = crop
    if (new_w, new_h) != (crop_w, crop_h):
        left, top = (new_w - crop_w) // 2, (new_h - crop_h) // 2
        transform = transform.crop((left, top, left + crop_w, top + crop_h))
    return transform


@register
class LlavaAdapter(Adapter):
    descriptor = Family(
        name="llava", model_types=("llava",), box_format=BoxFormat.XYXY_NORM,
        template="USER: {image}\n{text} ASSISTANT:", input_rule=InputRule.CROP, official_route=OfficialRoute.HUATUO,
        output_format="llava", tiny="vgmed_data.eval.tiny:write_llava")
    image_placeholder = "<image>"
    prepend_bos = True

    @property
    def grid_side(self) -> int:
        vision = self.model.config.vision_config
        return int(vision.image_size) // int(vision.patch_size)

    def input_transform(self, image_size: tuple[int, int]) -> Transform:
        processor = self.processor.image_processor
        crop = processor.crop_size
        crop_wh = (int(crop["width"]), int(crop["height"]))
        if getattr(processor, "do_pad", False):
            return Transform.identity(image_size).pad_to_square().resize(*crop_wh)
        return shortest_edge_then_crop(image_size, int(processor.size["shortest_edge"]), crop_wh)

    def layout(self, ids: list[int], image_size: tuple[int, int], inputs: dict[str, Any], row: int, *,
               record: str) -> ImageLayout:
        positions = self.image_positions(ids, record=record)
        side = self.grid_side
        if positions.size != side * side:
            raise SchemaError(f"{positions.size} image tokens, expected {side}x{side}", record=record or None,
                              fix="use vision_feature_select_strategy='default' (CLS dropped)")
        return ImageLayout(positions=positions, grid=(side, side), transform=self.input_transform(image_size),
                           span=(int(positions[0]), int(positions[-1]) + 1))
