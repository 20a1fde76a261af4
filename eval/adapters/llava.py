"""LLaVA-1.5 (also LLaVA-Med in HF format): CLIP ViT, ``(image_size / patch)^2`` tokens after the CLS token is
dropped, on the image resized (shortest edge) and center-cropped, or padded to square and resized when the
image processor has ``do_pad`` (the HuatuoGPT-Vision / LLaVA ``expand2square`` preprocessing)."""

from __future__ import annotations

from typing import Any

from vgmed_data.eval.adapters.base import Adapter, ImageLayout
from vgmed_data.eval.adapters.family import Checkpoint, Family, InputRule, OfficialRoute
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


# HuatuoGPT-Vision-7B-hf, the authors' own transformers-LLaVA release of HuatuoGPT-Vision-7B (organisation
# FreedomIntelligence; model card at Hub commit a092ca6, README.md: "the Huggingface LLaVA version of
# HuatuoGPT-Vision-7B, compatible with VLLM"). The card serves it with an explicit ``--chat-template``: a user turn
# is "<|user|>\n" + content + "\n", the generation prompt "<|assistant|>\n"; vLLM puts the image placeholder and
# "\n" before the text, which gives the original bot's prompt (huatuogpt_vision.py). Its Qwen2 language model is
# the detection rule: the other transformers-LLaVA checkpoints this family loads are Llama/Vicuna/Mistral ones.
HUATUOGPT_VISION_HF = Checkpoint(
    name="huatuogpt_vision_7b_hf", repo="FreedomIntelligence/HuatuoGPT-Vision-7B-hf", commit="a092ca6",
    tiny="vgmed_data.eval.tiny:write_huatuogpt_vision_7b_hf",
    files=("config.json", "generation_config.json", "processor_config.json", "preprocessor_config.json",
           "added_tokens.json", "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json", "vocab.json",
           "merges.txt", "model-0000N-of-00004.safetensors", "model.safetensors.index.json"),
    detect=(("model_type", "llava"), ("text_config.model_type", "qwen2")),
    template="<|user|>\n{image}\n{text}\n<|assistant|>\n",
    unconfirmed="config.json, processor_config.json and preprocessor_config.json contents (written in the form "
                "transformers 4.44 saved LLaVA checkpoints: legacy weight names, no patch_size in the processor "
                "config); whether tokenizer_config.json carries a chat template (the card's template is used "
                "either way); whether the image is padded to a square as the original bot does")


@register
class LlavaAdapter(Adapter):
    descriptor = Family(
        name="llava", model_types=("llava",), box_format=BoxFormat.XYXY_NORM,
        template="USER: {image}\n{text} ASSISTANT:", input_rule=InputRule.CROP, official_route=OfficialRoute.HUATUO,
        output_format="llava", tiny="vgmed_data.eval.tiny:write_llava", checkpoints=(HUATUOGPT_VISION_HF,))
    image_placeholder = "<image>"
    prepend_bos = True

    @classmethod
    def load_processor(cls, path: str) -> Any:
        """The checkpoint's processor; a processor config saved before transformers 4.45 has no ``patch_size``
        (transformers then cannot expand ``<image>`` into its tokens): it is taken from the model config, with
        the CLS token counted and the config's feature strategy, as the model itself selects features."""
        from transformers import AutoConfig

        processor = super().load_processor(path)
        if getattr(processor, "patch_size", None) is None:
            config = AutoConfig.from_pretrained(path)
            processor.patch_size = int(config.vision_config.patch_size)
            processor.num_additional_image_tokens = 1
            processor.vision_feature_select_strategy = config.vision_feature_select_strategy
        return processor

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
