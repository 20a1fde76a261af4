"""Qwen processors that build and load without torchvision.

The stock Qwen2-VL / Qwen2.5-VL / Qwen3-VL processors type-check a ``video_processor`` argument whose class
cannot be built without torchvision (FACTS.md), so ``AutoProcessor`` fails on a saved Qwen processor on machines
without it. These subclasses drop the ``video_processor`` parameter (the parent receives ``None``); images go
through the PIL image processor. The evaluator never feeds video.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_PARENTS = {"qwen2_vl": "Qwen2VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor", "qwen3_vl": "Qwen3VLProcessor",
            "internvl": "InternVLProcessor"}


@cache
def qwen_processor_class(family: str) -> type[Any]:
    """The image-only processor class for ``family`` (``qwen2_vl``, ``qwen2_5_vl``, ``qwen3_vl``; ``internvl``,
    whose processor type-checks a video processor the same way)."""
    import transformers

    parent = getattr(transformers, _PARENTS[family])

    class ImageOnlyProcessor(parent):  # type: ignore[misc, valid-type]
        attributes = ["image_processor", "tokenizer"]
        image_processor_class = "AutoImageProcessor"

        def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                     **kwargs: Any) -> None:
            super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                             chat_template=chat_template, **kwargs)

    ImageOnlyProcessor.__name__ = ImageOnlyProcessor.__qualname__ = parent.__name__
    return ImageOnlyProcessor
