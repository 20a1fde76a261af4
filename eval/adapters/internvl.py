"""InternVL3 / InternVL3.5 in transformers' native format (``model_type`` ``internvl``,
:class:`transformers.InternVLForConditionalGeneration`; no remote code).

Layout (transformers 5.25 ``InternVLProcessor.replace_image_token`` and ``GotOcr2ImageProcessorPil.crop_image_to_patches``):
the image is resized to a canvas of ``cols x rows`` tiles of ``tile`` pixels (the grid closest to its aspect ratio
within ``min_patches..max_patches``, ``get_optimal_tiled_canvas``), cut into the tiles in raster order, and, when
there is more than one tile, followed by a thumbnail (the whole image resized to one tile). Each tile becomes
``image_seq_length`` tokens (``(tile / patch)^2 * downsample_ratio^2``, a ``g x g`` raster after the pixel
shuffle) between ``<img>`` and ``</img>``. The grounding grid is the whole canvas, ``rows * g`` x ``cols * g``
cells, re-ordered from tile-major to raster order; it tiles the image resized to the canvas (a pure resize,
aspect ratio not kept exactly); the thumbnail's tokens are in the captured span but not mapped.

Boxes: InternVL writes ``<box>[[x1, y1, x2, y2]]</box>`` on a 0-1000 grid of the image (``xyxy_1000``). Prompt:
the checkpoint's chat template (transformers' conversion writes one: ``<|im_start|>user\\n<IMG_CONTEXT>\\n...``);
the family's own one-turn format repeats it.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from vgmed_data.eval.adapters.base import Adapter, ImageLayout
from vgmed_data.eval.adapters.family import Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.qwen_processors import qwen_processor_class
from vgmed_data.eval.adapters.registry import register
from vgmed_data.errors import SchemaError
from vgmed_data.geometry import BoxFormat, Transform

INTERNVL_TEMPLATE = "<|im_start|>user\n{image}\n{text}<|im_end|>\n<|im_start|>assistant\n"


@register
class InternVLAdapter(Adapter):
    # The official VGMED code never ran InternVL; like the Qwen models it is a chat-template model with a
    # checkpoint generation config, so --protocol official follows the Qwen path (its pixel budget does not apply:
    # InternVL tiles, it has no max_pixels).
    descriptor = Family(
        name="internvl", model_types=("internvl",), box_format=BoxFormat.XYXY_1000, template=INTERNVL_TEMPLATE,
        input_rule=InputRule.RESIZE, official_route=OfficialRoute.QWEN,
        tiny="vgmed_data.eval.tiny:write_internvl")
    image_placeholder: ClassVar[str] = "<IMG_CONTEXT>"

    @classmethod
    def load_processor(cls, path: str) -> Any:
        """The processor without a video processor (no torchvision here); its tokens per tile are the model
        config's ``image_seq_length``, which the processor must agree with."""
        from vgmed_data.eval.adapters.llava_original import read_json

        processor = qwen_processor_class("internvl").from_pretrained(path)
        processor.image_seq_length = int(read_json(path, "config.json").get("image_seq_length", 256))
        return processor

    @property
    def tile(self) -> tuple[int, int]:
        size = self.processor.image_processor.size
        return int(size["width"]), int(size["height"])

    def canvas(self, image_size: tuple[int, int], tiles: int) -> tuple[int, int]:
        """(cols, rows) of the canvas the processor tiled an image of ``image_size`` into, given the number of
        tiles its tokens hold (one: no tiling; else the canvas plus a thumbnail)."""
        from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import get_optimal_tiled_canvas

        if tiles == 1:
            return 1, 1
        prep = self.processor.image_processor
        width, height = image_size
        cols, rows = get_optimal_tiled_canvas((height, width), self.tile[::-1], prep.min_patches, prep.max_patches)
        return int(cols), int(rows)

    def layout(self, ids: list[int], image_size: tuple[int, int], inputs: dict[str, Any], row: int, *,
               record: str) -> ImageLayout:
        positions = self.image_positions(ids, record=record)
        per_tile = int(self.processor.image_seq_length)
        side = math.isqrt(per_tile)
        tiles = positions.size // per_tile
        cols, rows = self.canvas(image_size, tiles)
        if (side * side != per_tile or positions.size != tiles * per_tile or tiles != cols * rows + (tiles > 1)
                or positions[-1] - positions[0] + 1 != positions.size):
            raise SchemaError(f"{positions.size} image tokens do not form one run of {cols}x{rows} tiles "
                              f"(+ thumbnail) x {per_tile}", record=record or None, fix="pass one image per prompt")
        r, c = np.divmod(np.arange(rows * side * cols * side), cols * side)  # canvas cells, raster order
        tile_of = (r // side) * cols + c // side
        order = positions[0] + tile_of * per_tile + (r % side) * side + c % side
        tile_w, tile_h = self.tile
        transform = Transform.identity(image_size).resize(cols * tile_w, rows * tile_h)
        return ImageLayout(positions=order.astype(np.int64), grid=(rows * side, cols * side), transform=transform,
                           span=(int(positions[0]), int(positions[-1]) + 1))

    def describe(self) -> dict[str, Any]:
        prep = self.processor.image_processor
        return {**super().describe(), "tile": list(self.tile), "tokens_per_tile": int(self.processor.image_seq_length),
                "min_patches": int(prep.min_patches), "max_patches": int(prep.max_patches)}
