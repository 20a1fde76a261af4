"""Tiny random-weight checkpoints of every supported family, built offline and saved like real ones.

No weights can be downloaded in tests or in the demo, so each family is built from a small config with random
weights (real transformers model classes), with a byte-level tokenizer built in code that carries the family's
special tokens, and saved with ``save_pretrained``. Loading the result by path goes through exactly the code
path a real checkpoint takes (:func:`vgmed_data.eval.adapters.load_model`).

    >>> from vgmed_data.eval.tiny import build_tiny_checkpoint
    >>> path = build_tiny_checkpoint("qwen2_vl", "/tmp/tiny-qwen2vl")   # doctest: +SKIP

The models are **random**: their answers and attention are noise. They exist to exercise shapes, token layouts,
prompt text, capture, metrics and the runner, never to produce meaningful scores.

Sizes are chosen so a forward pass over a 100-token prompt takes milliseconds on CPU: 2-3 decoder layers,
hidden size 64, 4 query heads over 2 key/value heads (grouped-query attention, as the real 7B models use).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.tiny_text import (TEXT_DIMS, byte_level_tokenizer, qwen2_bpe_tokenizer, write_json,
                                       write_qwen2_tokenizer_files)

# Special tokens per family: the processor looks these up by text.
_QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>", "<|box_start|>", "<|box_end|>"]
_LLAVA_SPECIALS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
_GEMMA_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>",
                   "<end_of_image>", "<image_soft_token>"]

def _token_ids(tokenizer: Any, names: list[str]) -> dict[str, int]:
    return {name: int(tokenizer.convert_tokens_to_ids(name)) for name in names}


def _qwen_text(vocab_size: int, ids: dict[str, int], head_dim: int) -> dict[str, Any]:
    # mrope_section must sum to head_dim / 2 (FACTS.md); split it over (temporal, height, width).
    half = head_dim // 2
    section = [half - 2 * (half * 3 // 8), half * 3 // 8, half * 3 // 8]
    return {**TEXT_DIMS, "vocab_size": vocab_size, "head_dim": head_dim,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": section},
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"]}


def _qwen_ids(ids: dict[str, int]) -> dict[str, int]:
    return {"image_token_id": ids["<|image_pad|>"], "video_token_id": ids["<|video_pad|>"],
            "vision_start_token_id": ids["<|vision_start|>"], "vision_end_token_id": ids["<|vision_end|>"]}


def _qwen_tokenizer():  # noqa: ANN202
    return byte_level_tokenizer(_QWEN_SPECIALS, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                bos_token=None)


# Qwen2-VL's chat layout (a default system turn; an image part is its vision run, text parts as written), so
# processors that build prompts with ``apply_chat_template`` (lmms-eval's qwen2_vl / qwen2_5_vl) can use the
# checkpoint; a string ``content`` (lmms-eval's system turn) is written as is.
QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _qwen_image_processor(t: Any) -> Any:
    return t.Qwen2VLImageProcessorPil(patch_size=14, merge_size=2, temporal_patch_size=2, min_pixels=28 * 28 * 4,
                                      max_pixels=28 * 28 * 64)


def _save_qwen(out: Path, *, family: str, config_class: Any, model_class: Any, vision: dict[str, Any],
               image_processor: Callable[[Any], Any] = _qwen_image_processor, mrope_interleaved: bool = False,
               chat_template: str | None = None, video_processor: str = "Qwen2VLVideoProcessor") -> None:
    """A tiny checkpoint of one Qwen-VL generation: the shared text config and tokenizer, the given vision tower.
    With ``chat_template`` it also gets the files ``AutoProcessor`` needs (see :func:`_write_video_config`)."""
    import transformers as t

    from vgmed_data.eval.adapters.qwen_processors import qwen_processor_class

    tokenizer = _qwen_tokenizer()
    ids = _token_ids(tokenizer, _QWEN_SPECIALS)
    text = _qwen_text(len(tokenizer), ids, 16)
    if mrope_interleaved:
        text["rope_parameters"]["mrope_interleaved"] = True
    config = config_class(text_config=text, vision_config=vision, **_qwen_ids(ids))
    _save(out, model_class, config, tokenizer,
          lambda: qwen_processor_class(family)(image_processor=image_processor(t), tokenizer=tokenizer,
                                              chat_template=chat_template))
    if chat_template is not None:
        _write_video_config(out, image_processor(t), video_processor=video_processor,  # the transformers class
                            processor=qwen_processor_class(family).__mro__[1].__name__)   # ours extends


def _write_video_config(out: Path, images: Any, *, video_processor: str = "Qwen2VLVideoProcessor",
                        processor: str = "Qwen2VLProcessor") -> None:
    """``video_preprocessor_config.json``: transformers' ``AutoProcessor`` (as lmms-eval's Qwen and InternVL models
    call it) loads these processors only with a video processor config; its sizes mirror the image processor's.
    (The video processor classes themselves need torchvision where they are loaded: docs/evaluation.md, lmms-eval
    export.)"""
    settings: dict[str, Any] = {"video_processor_type": video_processor, "processor_class": processor,
                                "size": dict(images.size), "image_mean": list(images.image_mean),
                                "image_std": list(images.image_std)}
    if hasattr(images, "merge_size"):  # the Qwen video processors tile like their image processors
        settings.update(patch_size=images.patch_size, merge_size=images.merge_size,
                        temporal_patch_size=images.temporal_patch_size)
    (out / "video_preprocessor_config.json").write_text(json.dumps(settings, indent=2) + "\n")


def write_qwen2_vl(out: Path) -> None:
    import transformers as t

    _save_qwen(out, family="qwen2_vl", config_class=t.Qwen2VLConfig, model_class=t.Qwen2VLForConditionalGeneration,
               vision={"depth": 2, "embed_dim": 32, "num_heads": 2, "hidden_size": 64, "mlp_ratio": 2,
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
               chat_template=QWEN2_CHAT_TEMPLATE)


# Qwen2-VL-Instruct's chat template as transformers' own tests hold it (tests/models/qwen2_vl/
# test_processing_qwen2_vl.py, ``prepare_processor_dict``, the template of Qwen/Qwen2-VL-7B-Instruct).
QWEN2_VL_INSTRUCT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content "
    "%}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}")


def write_medvlm_r1(out: Path) -> None:
    """MedVLM-R1 (JZPeterPan/MedVLM-R1, a GRPO fine-tune of Qwen2-VL-2B; qwen2_vl adapter) in the layout its Hub
    tree lists (commit bee6757): ONE ``model.safetensors`` (bfloat16), a flat ``config.json``, a
    ``preprocessor_config.json``, ``chat_template.json`` and Qwen2 tokenizer files. The config takes the flat form
    of Qwen2-VL-Instruct's published ``config.json`` (text keys at the top, ``rope_scaling`` ``mrope``, a
    ``vision_config`` with ``embed_dim`` / ``spatial_patch_size``) and tied embeddings, as the 2B model has; the
    chat template is Qwen2-VL-Instruct's (MedVLM-R1's file has its size, 1.05 kB)."""
    import torch
    import transformers as t


    tokenizer = _qwen_tokenizer()
    ids = _token_ids(tokenizer, _QWEN_SPECIALS)
    text = _qwen_text(len(tokenizer), ids, 16)
    vision = {"depth": 2, "embed_dim": 32, "mlp_ratio": 2, "num_heads": 2, "in_chans": 3, "hidden_size": 64,
              "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14, "temporal_patch_size": 2}
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = t.Qwen2VLForConditionalGeneration._from_config(
            t.Qwen2VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True, **_qwen_ids(ids)))
    model.to(torch.bfloat16).save_pretrained(out)
    rope = text.pop("rope_parameters")
    flat = {"architectures": ["Qwen2VLForConditionalGeneration"], "model_type": "qwen2_vl", **text,
            "hidden_act": "silu", "rms_norm_eps": 1e-06, "rope_theta": rope["rope_theta"],
            "rope_scaling": {"type": "mrope", "mrope_section": rope["mrope_section"]}, "tie_word_embeddings": True,
            "torch_dtype": "bfloat16", "transformers_version": "4.49.0", "use_cache": True,
            "use_sliding_window": False, "vision_config": vision, **_qwen_ids(ids)}
    write_json(out / "config.json", flat)
    write_json(out / "generation_config.json", {"bos_token_id": ids["<|endoftext|>"],
                                            "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
                                            "pad_token_id": ids["<|endoftext|>"], "transformers_version": "4.49.0"})
    images = _qwen_image_processor(t)
    write_json(out / "preprocessor_config.json", {
        "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": list(images.image_mean), "image_processor_type": "Qwen2VLImageProcessor",
        "image_std": list(images.image_std), "max_pixels": images.size["longest_edge"], "merge_size": 2,
        "min_pixels": images.size["shortest_edge"], "patch_size": 14, "processor_class": "Qwen2VLProcessor",
        "resample": 3, "rescale_factor": 1 / 255, "temporal_patch_size": 2})
    write_json(out / "chat_template.json", {"chat_template": QWEN2_VL_INSTRUCT_TEMPLATE})
    tokenizer.save_pretrained(out)
    write_qwen2_tokenizer_files(out, tokenizer, processor="Qwen2VLProcessor")


def write_qwen2_5_vl(out: Path) -> None:
    import transformers as t

    _save_qwen(out, family="qwen2_5_vl", config_class=t.Qwen2_5_VLConfig,
               model_class=t.Qwen2_5_VLForConditionalGeneration,
               vision={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 56,
                       "fullatt_block_indexes": [1]},
               chat_template=QWEN2_CHAT_TEMPLATE)  # Qwen2.5-VL-Instruct keeps Qwen2-VL's layout and video processor


# Qwen3-VL's layout (no default system turn, as the family's template), for apply_chat_template users.
QWEN3_CHAT_TEMPLATE = QWEN2_CHAT_TEMPLATE.replace(
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}", "")


def write_qwen3_vl(out: Path) -> None:
    import transformers as t

    _save_qwen(out, family="qwen3_vl", config_class=t.Qwen3VLConfig, model_class=t.Qwen3VLForConditionalGeneration,
               vision={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
                       "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "num_position_embeddings": 64, "deepstack_visual_indexes": [1]},
               mrope_interleaved=True, chat_template=QWEN3_CHAT_TEMPLATE, video_processor="Qwen3VLVideoProcessor",
               image_processor=lambda tf: tf.Qwen2VLImageProcessorPil(
                   patch_size=16, merge_size=2, temporal_patch_size=2,
                   size={"shortest_edge": 32 * 32 * 4, "longest_edge": 32 * 32 * 64},
                   image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]))


def _llama_text(vocab_size: int, ids: dict[str, int]) -> dict[str, Any]:
    return {**TEXT_DIMS, "model_type": "llama", "vocab_size": vocab_size, "bos_token_id": ids["<s>"],
            "eos_token_id": ids["</s>"], "pad_token_id": ids["<pad>"]}


_CLIP = {"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 2, "projection_dim": 32}


def _llava_tokenizer():  # noqa: ANN202
    return byte_level_tokenizer(_LLAVA_SPECIALS, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                unk_token="<unk>")


# LLaVA-1.5's one-turn layout as a chat template ("USER: <image>\n{text} ASSISTANT:", the adapter's own
# template), so processors that build prompts with ``apply_chat_template`` (lmms-eval's llava_hf) can use it.
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>\n{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %} ASSISTANT:{% endif %}")


def write_llava(out: Path) -> None:
    import transformers as t

    tokenizer = _llava_tokenizer()
    ids = _token_ids(tokenizer, _LLAVA_SPECIALS)
    # 56 px / 14 px patches = 4 x 4 = 16 image tokens (CLS dropped by the "default" feature strategy).
    config = t.LlavaConfig(text_config=_llama_text(len(tokenizer), ids),
                           vision_config={**_CLIP, "image_size": 56, "patch_size": 14},
                           image_token_index=ids["<image>"], image_seq_length=16, vision_feature_layer=-2)
    _save(out, t.LlavaForConditionalGeneration, config, tokenizer,
          lambda: t.LlavaProcessor(
              image_processor=t.CLIPImageProcessorPil(size={"shortest_edge": 56},
                                                      crop_size={"height": 56, "width": 56}),
              tokenizer=tokenizer, patch_size=14, num_additional_image_tokens=1,
              vision_feature_select_strategy="default", chat_template=LLAVA_CHAT_TEMPLATE))


# LLaVA-NeXT (Mistral) one-turn layout, the llava_next family's template ("[INST] <image>\n{text} [/INST]"; the
# adapter puts the BOS), for apply_chat_template users (lmms-eval's llava_hf); a system text leads the first turn.
LLAVA_NEXT_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}[INST] {% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>\n{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %} [/INST]{% elif message['role'] == 'assistant' %} {% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}</s>{% endif %}{% endfor %}")


def write_llava_next(out: Path) -> None:
    import transformers as t

    tokenizer = _llava_tokenizer()
    ids = _token_ids(tokenizer, _LLAVA_SPECIALS)
    pinpoints = [[56, 112], [112, 56], [112, 112]]
    config = t.LlavaNextConfig(text_config=_llama_text(len(tokenizer), ids),
                               vision_config={**_CLIP, "image_size": 56, "patch_size": 14},
                               image_token_index=ids["<image>"], image_grid_pinpoints=pinpoints,
                               image_seq_length=16, vision_feature_layer=-2)
    _save(out, t.LlavaNextForConditionalGeneration, config, tokenizer,
          lambda: t.LlavaNextProcessor(
              image_processor=t.LlavaNextImageProcessorPil(size={"shortest_edge": 56},
                                                           crop_size={"height": 56, "width": 56},
                                                           image_grid_pinpoints=pinpoints),
              tokenizer=tokenizer, patch_size=14, num_additional_image_tokens=1,
              vision_feature_select_strategy="default", chat_template=LLAVA_NEXT_CHAT_TEMPLATE))


# The gemma3 family's one-turn layout (eval/adapters/gemma3.py) as a chat template, so processors that build
# prompts with ``apply_chat_template`` (lmms-eval's gemma3) can use the checkpoint: BOS, "<start_of_turn>user\n",
# "<start_of_image>" per image, "<end_of_turn>\n", the assistant as "model"; a system turn's text is put before the
# first user turn's text (Gemma 3 has no system role).
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}{% set prefix = namespace(text='') %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set prefix.text = (message['content'] if message['content'] is string "
    "else message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | join) + '\n\n' %}"
    "{% else %}<start_of_turn>{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{{ prefix.text }}{% set prefix.text = '' %}{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'image' %}<start_of_image>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<end_of_turn>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")


def write_gemma3(out: Path) -> None:
    import transformers as t

    tokenizer = byte_level_tokenizer(
        _GEMMA_SPECIALS, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
        extra_special_tokens={"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                              "image_token": "<image_soft_token>"})
    ids = _token_ids(tokenizer, _GEMMA_SPECIALS)
    # 64 px / 16 px patches = 4 x 4 patches, pooled to 2 x 2 = 4 image tokens (mm_tokens_per_image).
    config = t.Gemma3Config(
        text_config={**TEXT_DIMS, "vocab_size": len(tokenizer), "head_dim": 16, "sliding_window": 256,
                     "layer_types": ["sliding_attention", "full_attention", "sliding_attention"],
                     "bos_token_id": ids["<bos>"], "eos_token_id": ids["<eos>"], "pad_token_id": ids["<pad>"]},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "image_size": 64, "patch_size": 16, "vision_use_head": False},
        mm_tokens_per_image=4, boi_token_index=ids["<start_of_image>"], eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"])
    _save(out, t.Gemma3ForConditionalGeneration, config, tokenizer,
          lambda: t.Gemma3Processor(
              image_processor=t.Gemma3ImageProcessorPil(size={"height": 64, "width": 64}),
              tokenizer=tokenizer, image_seq_length=4, chat_template=GEMMA3_CHAT_TEMPLATE))


# InternVL in transformers' format, as transformers' conversion script writes it
# (src/transformers/models/internvl/convert_internvl_weights_to_hf.py: ``write_tokenizer`` adds <img>, </img>,
# <IMG_CONTEXT> and names them with ``extra_special_tokens``; ``chat_template`` puts "<IMG_CONTEXT>\n" for an image
# part and no system turn; ``write_image_processor`` keeps 448-pixel tiles, ImageNet mean/std; the processor tiles
# with crop_to_patches, max 12 tiles). Tiny: 56-pixel tiles of 7-pixel patches, 16 tokens a tile, at most 4 tiles.
_INTERNVL_SPECIALS = [*_QWEN_SPECIALS, "<img>", "</img>", "<IMG_CONTEXT>", "<video>"]
INTERNVL_CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}{% if message['content'] is string %}"
    "{{ message['content'] }}{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "{{ '<IMG_CONTEXT>\n' }}{% elif content['type'] == 'video' %}{{ '<video>\n' }}{% elif content['type'] == 'text' %}"
    "{{ content['text'] }}{% endif %}{% endfor %}{% endif %}{{'<|im_end|>\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{'<|im_start|>assistant\n' }}{% endif %}")


def write_internvl(out: Path) -> None:
    import transformers as t

    from vgmed_data.eval.adapters.qwen_processors import qwen_processor_class

    tokenizer = byte_level_tokenizer(
        _INTERNVL_SPECIALS, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None,
        extra_special_tokens={"start_image_token": "<img>", "end_image_token": "</img>",
                              "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"})
    ids = _token_ids(tokenizer, _INTERNVL_SPECIALS)
    text = {**TEXT_DIMS, "model_type": "qwen2", "vocab_size": len(tokenizer), "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"]}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": [56, 56], "patch_size": [7, 7]}
    config = t.InternVLConfig(text_config=text, vision_config=vision, image_token_id=ids["<IMG_CONTEXT>"],
                              image_seq_length=16, downsample_ratio=0.5, vision_feature_layer=-1)
    image_processor = t.GotOcr2ImageProcessorPil(
        size={"height": 56, "width": 56}, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
        crop_to_patches=True, min_patches=1, max_patches=4)
    _save(out, t.InternVLForConditionalGeneration, config, tokenizer,
          lambda: qwen_processor_class("internvl")(image_processor=image_processor, tokenizer=tokenizer,
                                                  image_seq_length=16, chat_template=INTERNVL_CHAT_TEMPLATE))
    _write_video_config(out, image_processor, video_processor="InternVLVideoProcessor", processor="InternVLProcessor")


# HuatuoGPT-Vision-7B-hf (the authors' transformers-LLaVA release; eval/adapters/llava.py HUATUOGPT_VISION_HF) in
# the layout of a LLaVA checkpoint saved by transformers 4.4x, when it was published (Hub commit a092ca6, Oct 2024):
# four bfloat16 shards + index under the legacy names (``language_model.model.*``, ``language_model.lm_head``,
# ``vision_tower.vision_model.*``, ``multi_modal_projector.linear_1/2``), a flat ``config.json`` with a Qwen2
# ``text_config``, ``preprocessor_config.json`` (CLIPImageProcessor) beside a ``processor_config.json`` that names
# the class only (no ``patch_size``: the adapter takes it from the model config), generation eos = bos =
# ``<|endoftext|>``, ``<image>`` added after Qwen2's three tokens. Tiny: 56-pixel CLIP input, 4 x 4 = 16 tokens.
_LEGACY_LLAVA_NAMES = (("model.language_model.", "language_model.model."), ("lm_head.", "language_model.lm_head."),
                       ("model.vision_tower.", "vision_tower."),
                       ("model.multi_modal_projector.", "multi_modal_projector."))


def write_huatuogpt_vision_7b_hf(out: Path) -> None:
    import torch
    import transformers as t

    from vgmed_data.eval.tiny_original import CLIP_MEAN, CLIP_STD, QWEN_ADDED, write_shards

    tokenizer = qwen2_bpe_tokenizer([*QWEN_ADDED, "<image>"], eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                    bos_token=None)
    eos, image = (int(tokenizer.convert_tokens_to_ids(name)) for name in ("<|endoftext|>", "<image>"))
    text = {**TEXT_DIMS, "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "vocab_size": len(tokenizer),
            "bos_token_id": eos, "eos_token_id": eos, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
            "torch_dtype": "bfloat16"}
    vision = {**_CLIP, "image_size": 56, "patch_size": 14, "vocab_size": 32000}
    config = {"architectures": ["LlavaForConditionalGeneration"], "ignore_index": -100, "image_token_index": image,
              "model_type": "llava", "projector_hidden_act": "gelu", "text_config": text, "tie_word_embeddings": False,
              "torch_dtype": "bfloat16", "transformers_version": "4.44.2", "vision_config": vision,
              "vision_feature_layer": -2, "vision_feature_select_strategy": "default"}
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = t.LlavaForConditionalGeneration._from_config(t.LlavaConfig(**config))
    weights = {}
    for name, tensor in model.state_dict().items():
        for new, old in _LEGACY_LLAVA_NAMES:
            name = old + name[len(new):] if name.startswith(new) else name
        weights[name] = tensor.detach().contiguous()
    write_shards(out, weights, shards=4)
    write_json(out / "config.json", config)
    write_json(out / "generation_config.json", {"_from_model_config": True, "bos_token_id": eos, "eos_token_id": eos,
                                            "transformers_version": "4.44.2"})
    tokenizer.save_pretrained(out)
    write_qwen2_tokenizer_files(out, tokenizer, processor="LlavaProcessor")
    write_json(out / "processor_config.json", {"processor_class": "LlavaProcessor"})
    write_json(out / "preprocessor_config.json", {
        "crop_size": {"height": 56, "width": 56}, "do_center_crop": True, "do_convert_rgb": True,
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": CLIP_MEAN,
        "image_processor_type": "CLIPImageProcessor", "image_std": CLIP_STD, "processor_class": "LlavaProcessor",
        "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": 56}})


def _save(out: Path, model_class: Any, config: Any, tokenizer: Any, processor: Callable[[], Any]) -> None:
    import torch

    config.tie_word_embeddings = False
    if hasattr(config, "text_config"):
        config.text_config.tie_word_embeddings = False
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = model_class._from_config(config, attn_implementation="sdpa")
    model.eval()
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.save_pretrained(out)
    processor().save_pretrained(out)
    tokenizer.save_pretrained(out)


def tiny_writers() -> dict[str, str]:
    """``vgmed eval tiny`` name -> ``"module:function"`` writer: every registered family (its descriptor's
    ``tiny``) and every published checkpoint a family lists (a tiny copy of that published layout)."""
    from vgmed_data.eval.adapters import families

    writers: dict[str, str] = {}
    for family in families():
        writers[family.name] = family.tiny
        writers.update({checkpoint.name: checkpoint.tiny for checkpoint in family.checkpoints})
    return writers


def build_tiny_checkpoint(family: str, out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Build a tiny random-weight checkpoint of ``family`` (a family or published checkpoint name,
    :data:`TINY_FAMILIES`) into ``out_dir``.

    The folder then holds what the family's (or the published checkpoint's) files are: config, weights, tokenizer
    and processor files, and loads by path with :func:`vgmed_data.eval.adapters.load_adapter` exactly like a
    downloaded checkpoint. Weights are drawn from a fixed seed (0), so two builds are identical. An existing
    complete checkpoint is reused unless ``overwrite``. Returns the folder.
    """
    from vgmed_data.lazy import load_target

    writers = tiny_writers()
    if family not in writers:
        raise InvalidInputError(f"no tiny checkpoint for {family!r}", fix=f"use one of: {', '.join(writers)}")
    out = Path(out_dir)
    marker = out / "tiny_checkpoint.json"
    if marker.exists() and not overwrite:
        return out
    out.mkdir(parents=True, exist_ok=True)
    load_target(writers[family])(out)
    marker.write_text(json.dumps({"family": family, "random_weights": True, "seed": 0}) + "\n")
    return out


TINY_FAMILIES: tuple[str, ...] = tuple(tiny_writers())
