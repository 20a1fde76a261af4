"""The two prompts of one VGRefine sample and the pieces the fast path feeds the model.

The question prompt and the general prompt share every token up to the end of the image (same chat template,
same image); :func:`encode_pair` checks that and records ``image_end``, the first token after the image, which
is both where the shared prefix stops and where the knockout rows start. Position ids are computed once for
each full prompt (Qwen's 3-D M-RoPE via the model's own ``get_rope_index``; plain ``0..T-1`` elsewhere) and
sliced, so a prefix pass, a suffix pass and decode steps see exactly the positions of one full forward.
The image goes through the image processor once: the general prompt reuses the question prompt's pixel values
(:func:`_image_features_once`; a 1008 px image costs about as much to preprocess as a tiny model's prefill
of its text).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

from vgmed_data.eval.adapters.base import GENERAL_PROMPT, Adapter, Encoded, ImageLayout
from vgmed_data.errors import SchemaError

if TYPE_CHECKING:
    import torch

SEQUENCE_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids")


@dataclass
class PromptPair:
    """A sample's question and general prompts, batch size 1 each, and where the image ends."""

    question: Encoded
    general: Encoded
    layout: ImageLayout
    image_end: int

    @property
    def question_length(self) -> int:
        return int(self.question.inputs["input_ids"].shape[1])

    @property
    def general_length(self) -> int:
        return int(self.general.inputs["input_ids"].shape[1])


def _flat_images(images: Any) -> list[Any]:
    if isinstance(images, (list, tuple)):
        return [leaf for item in images for leaf in _flat_images(item)]
    return [images]


def _image_key(images: Any) -> list[tuple[Any, ...]] | None:
    """Pixel-exact identity of PIL images (``None`` when they are anything else: no reuse)."""
    flat = _flat_images(images)
    if not all(isinstance(image, Image.Image) for image in flat):
        return None
    return [(image.mode, image.size, image.tobytes()) for image in flat]


@contextmanager
def _image_features_once(processor: Any) -> Iterator[None]:
    """Inside the context, a processor call on the same pixels with the same image settings reuses the first
    call's image-processor output (``ProcessorMixin._process_images``: pixel values, grids, and the image-token
    replacement text derived from them) instead of preprocessing the image again. Processors that do not go
    through ``_process_images`` simply preprocess twice."""
    original = getattr(processor, "_process_images", None)
    if original is None:
        yield
        return
    memo: dict[str, Any] = {}

    def once(images: Any, **kwargs: Any) -> Any:
        key = _image_key(images)
        if key is not None and "result" in memo:
            try:
                same = memo["key"] == key and memo["kwargs"] == kwargs
            except (TypeError, ValueError):  # settings holding arrays: compare nothing, recompute
                same = False
            if same:
                processed, replacements = memo["result"]
                return type(processed)(dict(processed)) if isinstance(processed, dict) else processed, \
                    list(replacements)
        result = original(images, **kwargs)
        if key is not None:
            memo.update(key=key, kwargs=dict(kwargs), result=result)
        return result

    processor._process_images = once  # instance attribute shadows the bound method
    try:
        yield
    finally:
        del processor._process_images


def encode_pair(adapter: Adapter, image: Image.Image, user_text: str, *, record_id: str = "") -> PromptPair:
    """Encode ``user_text`` and the general prompt on ``image``; check the shared image prefix."""
    ids = [record_id] if record_id else []
    with _image_features_once(adapter.processor):
        question = adapter.encode([image], [user_text], record_ids=ids)
        general = adapter.encode([image], [GENERAL_PROMPT], record_ids=ids)
    # The processor returns CPU tensors; every pass runs where the model is (and in its dtype on a GPU).
    device, dtype = adapter.model.device, adapter.model.dtype
    question, general = question.on(device, dtype=dtype), general.on(device, dtype=dtype)
    layout = question.layouts[0]
    image_end = layout.span[1]
    q_ids, g_ids = question.inputs["input_ids"][0], general.inputs["input_ids"][0]
    if (len(g_ids) <= image_end or len(q_ids) <= image_end or not bool((q_ids[:image_end] == g_ids[:image_end]).all())
            or general.layouts[0].span != layout.span):
        raise SchemaError(f"the {adapter.family} question and general prompts do not share the image prefix",
                          record=record_id or None,
                          fix="VGRefine needs the image before the text in the chat template")
    return PromptPair(question=question, general=general, layout=layout, image_end=image_end)


def position_ids(adapter: Adapter, inputs: dict[str, Any]) -> "torch.Tensor":
    """Position ids of a whole one-row prompt: ``[3, 1, T]`` for M-RoPE families, ``[1, T]`` otherwise."""
    import torch

    inner = adapter.model.model
    length = int(inputs["input_ids"].shape[1])
    if hasattr(inner, "get_rope_index") and "image_grid_thw" in inputs:
        extra = {key: inputs[key] for key in ("image_grid_thw", "attention_mask", "mm_token_type_ids")
                 if key in inputs}
        positions, _ = inner.get_rope_index(inputs["input_ids"], **extra)
        return positions
    return torch.arange(length, device=inputs["input_ids"].device)[None]


def piece(inputs: dict[str, Any], positions: "torch.Tensor", start: int, stop: int) -> dict[str, Any]:
    """Model keyword arguments for tokens ``[start, stop)`` after a cache holding ``[0, start)``.

    The prefix piece (``start == 0``) carries the pixels and the token-type ids (Gemma 3 builds its
    bidirectional image mask from them); later pieces carry text only, as ``generate`` does after prefill."""
    import torch

    ids = inputs["input_ids"]
    kwargs: dict[str, Any] = {
        "input_ids": ids[:, start:stop],
        "attention_mask": torch.ones(1, stop, dtype=inputs["attention_mask"].dtype, device=ids.device),
        "position_ids": positions[..., start:stop],
    }
    if start == 0:
        kwargs.update({key: value[:, :stop] for key, value in inputs.items()
                       if key in ("mm_token_type_ids", "token_type_ids")})
        kwargs.update({key: value for key, value in inputs.items() if key not in SEQUENCE_KEYS})
    return kwargs
