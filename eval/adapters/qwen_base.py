"""Shared behaviour of the Qwen-VL families (one file per family builds on this).

Layout (FACTS.md): one contiguous ``<|image_pad|>`` run per image; the processor smart-resizes the stored image
to multiples of ``patch * merge`` pixels within the pixel budget, and ``image_grid_thw`` gives the patch grid
``(t, h, w)``. The language model sees ``(h / merge) x (w / merge)`` tokens in raster order, each covering
``patch * merge`` pixels of the resized image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


from PIL import Image

from vgmed_data.eval.adapters.base import Adapter, ImageLayout
from vgmed_data.eval.adapters.qwen_processors import qwen_processor_class
from vgmed_data.eval.boxes.model_input import smart_resize
from vgmed_data.errors import SchemaError
from vgmed_data.geometry import Transform

QWEN_TEMPLATE = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                 "<|im_start|>user\n{image}{text}<|im_end|>\n<|im_start|>assistant\n")


class QwenAdapter(Adapter):
    image_placeholder: ClassVar[str] = "<|vision_start|><|image_pad|><|vision_end|>"
    unit: ClassVar[int] = 28  # patch * merge: the resize multiple

    @classmethod
    def load_processor(cls, path: str) -> Any:
        return qwen_processor_class(cls.family).from_pretrained(path)

    def configure_processor(self) -> None:
        image_processor = self.processor.image_processor
        if not hasattr(self, "_checkpoint_size"):  # what "0: keep the checkpoint's" returns to on later calls
            self._checkpoint_size = dict(image_processor.size) if image_processor.size else {}
        size = dict(self._checkpoint_size)
        for key, option, default in (("longest_edge", self.options.max_pixels, self.default_max_pixels),
                                     ("shortest_edge", self.options.min_pixels, self.default_min_pixels)):
            if option == 0:
                continue
            value = option if option is not None else default
            if value is not None:
                size[key] = int(value)
        image_processor.size = size

    def prepare_image(self, image: Image.Image) -> Image.Image:
        """With :attr:`AdapterOptions.pre_resize`, the official measurement scripts' first resize: qwen_vl_utils
        ``fetch_image`` (QwenLM/Qwen3-VL qwen-vl-utils/src/qwen_vl_utils/vision_process.py) smart-resizes to
        multiples of ``patch * merge`` within 4 and 16384 tokens with PIL's default (bicubic) resampling; the
        processor then applies its own budget to that image."""
        if not self.options.pre_resize:
            return image
        factor = self.patch * self.merge
        width, height = smart_resize(image.width, image.height, factor=factor, min_pixels=4 * factor * factor,
                                     max_pixels=16384 * factor * factor)
        return image if (width, height) == image.size else image.resize((width, height), Image.Resampling.BICUBIC)

    @property
    def merge(self) -> int:
        return int(self.processor.image_processor.merge_size)

    @property
    def patch(self) -> int:
        return int(self.processor.image_processor.patch_size)

    def layout(self, ids: list[int], image_size: tuple[int, int], inputs: dict[str, Any], row: int, *,
               record: str) -> ImageLayout:
        positions = self.image_positions(ids, record=record)
        _, grid_h, grid_w = (int(v) for v in inputs["image_grid_thw"][row])
        rows, cols = grid_h // self.merge, grid_w // self.merge
        if positions.size != rows * cols or positions[-1] - positions[0] + 1 != positions.size:
            raise SchemaError(f"{positions.size} image tokens do not form one {rows}x{cols} run", record=record or None,
                              fix="pass one image per prompt")
        transform = self.grid_transform(image_size, grid_h=grid_h, grid_w=grid_w)
        return ImageLayout(positions=positions, grid=(rows, cols), transform=transform,
                           span=(int(positions[0]), int(positions[-1]) + 1))

    max_images: ClassVar[int] = 16  # each image is its own <|image_pad|> run; 16 bounds a prompt's size

    def grid_transform(self, image_size: tuple[int, int], *, grid_h: int, grid_w: int) -> Transform:
        """Stored image -> the smart-resized input the processor made (``grid * patch`` pixels a side)."""
        return Transform.identity(image_size).resize(grid_w * self.patch, grid_h * self.patch)

    def image_transforms(self, sizes: Sequence[tuple[int, int]], inputs: dict[str, Any]) -> list[Transform]:
        grids = inputs["image_grid_thw"]
        if len(grids) != len(sizes):
            raise SchemaError(f"{len(grids)} image grids for {len(sizes)} images")
        return [self.grid_transform(size, grid_h=int(grid[1]), grid_w=int(grid[2])) for size, grid in zip(sizes, grids)]

    def describe(self) -> dict[str, Any]:
        size = self.processor.image_processor.size
        return {**super().describe(), "patch": self.patch, "merge": self.merge,
                "min_pixels": size.get("shortest_edge"), "max_pixels": size.get("longest_edge")}
