"""Tiny random-weight checkpoints written in the ORIGINAL LLaVA-code layouts: HuatuoGPT-Vision-7B (below),
HuatuoGPT-Vision-34B (:func:`build_huatuogpt_vision_34b`) and LLaVA-Med v1.5 (:func:`build_llava_med`).

Not a transformers ``save_pretrained`` folder: the files the authors' repository and Hub checkpoint hold
(see :mod:`vgmed_data.eval.adapters.huatuogpt_vision`), at toy size:

* ``config.json``: the Qwen2 config plus the LLaVA keys, ``model_type`` ``llava_qwen2``, ``architectures``
  ``["LlavaQwen2ForCausalLM"]``, ``mm_vision_tower`` pointing into ``vit/``;
* four bfloat16 shards ``model-0000N-of-00004.safetensors`` and ``model.safetensors.index.json`` (Hub commit 159f69d
  has four shards + index, ``torch_dtype`` bfloat16), under the original weight names (``model.layers.*``,
  ``model.embed_tokens``, ``model.norm``, ``lm_head``, ``model.vision_tower.vision_tower.vision_model.*``,
  ``model.mm_projector.0/2.*``);
* ``vit/clip_vit_tiny_patch14_56/config.json`` (a full CLIP config, as the real tower folder has) and its
  ``preprocessor_config.json`` in the old integer form (``"size": 56``, ``"crop_size": 56``);
* the tokenizer: Qwen2's form, a byte-level BPE with merges (trained on a few prompt sentences,
  :func:`~vgmed_data.eval.tiny_text.qwen2_bpe_tokenizer`) and Qwen2's three added tokens, ``<|endoftext|>`` as eos
  and pad, no bos, in ``tokenizer.json`` beside ``vocab.json``, ``merges.txt``, ``added_tokens.json``,
  ``special_tokens_map.json`` and a ``tokenizer_config.json`` naming ``Qwen2Tokenizer``; the vocabulary of the
  config is larger than the tokenizer, as in the real checkpoint (152064 rows for 151646 tokens).

Weights are drawn with seed 0 from transformers' Qwen2 and CLIP modules and a ``Sequential(Linear, GELU,
Linear)`` projector, then saved under the original names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vgmed_data.eval.tiny_text import write_json

TOWER = "vit/clip_vit_tiny_patch14_56"
QWEN_ADDED = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# three tower layers, so the selected hidden state -2 is the output of layer 2, not the embeddings' first layer
VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 2,
          "image_size": 56, "patch_size": 14, "projection_dim": 32, "hidden_act": "quick_gelu",
          "layer_norm_eps": 1e-5, "num_channels": 3}
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def original_config(*, vocab_size: int, eos: int) -> dict[str, Any]:
    from vgmed_data.eval.tiny_text import TEXT_DIMS

    return {
        "_name_or_path": "HuatuoGPT-Vision-7B-tiny", "architectures": ["LlavaQwen2ForCausalLM"],
        "attention_dropout": 0.0, "bos_token_id": eos, "eos_token_id": eos, "hidden_act": "silu",
        "hidden_size": TEXT_DIMS["hidden_size"], "image_aspect_ratio": "pad", "initializer_range": 0.02,
        "intermediate_size": TEXT_DIMS["intermediate_size"],
        "max_position_embeddings": TEXT_DIMS["max_position_embeddings"],
        "max_window_layers": TEXT_DIMS["num_hidden_layers"], "mm_hidden_size": VISION["hidden_size"],
        "mm_projector_type": "mlp2x_gelu", "mm_vision_select_feature": "patch", "mm_vision_select_layer": -2,
        "mm_vision_tower": f"./{TOWER}", "model_type": "llava_qwen2",
        "num_attention_heads": TEXT_DIMS["num_attention_heads"], "num_hidden_layers": TEXT_DIMS["num_hidden_layers"],
        "num_key_value_heads": TEXT_DIMS["num_key_value_heads"], "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
        "sliding_window": TEXT_DIMS["max_position_embeddings"], "tie_word_embeddings": False,
        "tokenizer_model_max_length": 4096, "tokenizer_padding_side": "right", "torch_dtype": "bfloat16",
        "transformers_version": "4.40.0.dev0", "tune_mm_mlp_adapter": False, "use_cache": False,
        "use_mm_proj": True, "use_sliding_window": False, "vocab_size": vocab_size,
    }


def original_weights(config: dict[str, Any]) -> dict[str, Any]:
    """Seeded random weights under the original names (the language model of ``config``'s model type)."""
    import torch
    import transformers as t
    from torch import nn

    from vgmed_data.eval.adapters.llava_original import TEXT_MODEL_TYPES

    text = {k: config[k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                   "num_attention_heads", "num_key_value_heads", "rms_norm_eps", "rope_theta",
                                   "max_position_embeddings", "tie_word_embeddings")}
    with torch.random.fork_rng():
        torch.manual_seed(0)
        text_config = t.AutoConfig.for_model(TEXT_MODEL_TYPES[config["model_type"]], **text)
        language = t.AutoModelForCausalLM.from_config(text_config)
        tower = t.CLIPVisionModel._from_config(t.CLIPVisionConfig(**VISION))
        projector = nn.Sequential(nn.Linear(VISION["hidden_size"], config["hidden_size"]), nn.GELU(),
                                  nn.Linear(config["hidden_size"], config["hidden_size"]))
    weights = dict(language.state_dict())
    # transformers 4.x's CLIPVisionModel (the authors' version) keeps its transformer under ``vision_model``
    weights.update({f"model.vision_tower.vision_tower.vision_model.{k}": v for k, v in tower.state_dict().items()})
    weights.update({f"model.mm_projector.{k}": v for k, v in projector.state_dict().items()})
    return {name: tensor.detach().contiguous() for name, tensor in weights.items()}


def build_huatuogpt_vision(out: Path) -> None:
    """Write the tiny original-layout checkpoint into ``out``."""
    from vgmed_data.eval.tiny_text import qwen2_bpe_tokenizer, write_qwen2_tokenizer_files

    tokenizer = qwen2_bpe_tokenizer(QWEN_ADDED, eos_token="<|endoftext|>", pad_token="<|endoftext|>", bos_token=None)
    eos = int(tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    config = original_config(vocab_size=len(tokenizer) + 13, eos=eos)
    write_json(out / "config.json", config)
    write_json(out / "generation_config.json", {"bos_token_id": eos, "eos_token_id": eos, "pad_token_id": eos})
    write_shards(out, original_weights(config), shards=4)
    tokenizer.save_pretrained(out)
    write_qwen2_tokenizer_files(out, tokenizer, processor=None)
    write_tower_files(out / TOWER)


def write_tower_files(folder: Path) -> None:
    """The ``vit/`` tower folder's two files the loaders read: a full CLIP ``config.json`` and the old integer
    ``preprocessor_config.json`` (the tower's weights are in the main shards)."""
    text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
            "vocab_size": 64, "max_position_embeddings": 16}
    write_json(folder / "config.json", {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 32,
                                        "text_config": text, "vision_config": VISION})
    write_json(folder / "preprocessor_config.json", {
        "crop_size": VISION["image_size"], "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
        "resample": 3, "size": VISION["image_size"]})


def write_shards(out: Path, weights: dict[str, Any], *, shards: int) -> None:
    """``weights`` in bfloat16 as ``model-0000N-of-0000M.safetensors`` (names in order, split evenly) and the
    ``model.safetensors.index.json`` transformers reads (``weight_map``, ``metadata.total_size``)."""
    import torch
    from safetensors.torch import save_file

    names = list(weights)
    weight_map: dict[str, str] = {}
    total = 0
    for index in range(shards):
        part = names[index * len(names) // shards:(index + 1) * len(names) // shards]
        filename = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {name: weights[name].to(torch.bfloat16).contiguous() for name in part}
        save_file(tensors, str(out / filename), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, filename))
        total += sum(t.numel() * t.element_size() for t in tensors.values())
    write_json(out / "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})




# LLaVA-Med v1.5 (microsoft/llava-med-v1.5-mistral-7b; facts and sources in eval/adapters/llava_med.py)
LLAVA_MED_TOWER = "clip-vit-large-patch14-336-tiny"


def llava_med_config(*, vocab_size: int, tower: str) -> dict[str, Any]:
    """The published ``config.json`` keys and values (read from a vendored copy, see the adapter's docs) at toy
    size; ``mm_vision_tower`` names ``tower`` (the Hub file names ``openai/clip-vit-large-patch14-336``)."""
    from vgmed_data.eval.tiny_text import TEXT_DIMS

    return {
        "_name_or_path": "mistralai/Mistral-7B-Instruct-v0.2", "architectures": ["LlavaMistralForCausalLM"],
        "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "feature_outs": "encoder+decoder",
        "freeze_mm_mlp_adapter": False, "hidden_act": "silu", "hidden_size": TEXT_DIMS["hidden_size"],
        "image_aspect_ratio": "pad", "img_size": 640, "initializer_range": 0.02,
        "intermediate_size": TEXT_DIMS["intermediate_size"],
        "max_position_embeddings": TEXT_DIMS["max_position_embeddings"], "mm_hidden_size": VISION["hidden_size"],
        "mm_projector_lr": None, "mm_projector_type": "mlp2x_gelu", "mm_use_im_patch_token": False,
        "mm_use_im_start_end": False, "mm_vision_select_feature": "patch", "mm_vision_select_layer": -2,
        "mm_vision_tower": tower, "model_type": "llava_mistral",
        "num_attention_heads": TEXT_DIMS["num_attention_heads"], "num_hidden_layers": TEXT_DIMS["num_hidden_layers"],
        "num_key_value_heads": TEXT_DIMS["num_key_value_heads"], "proj_vis_to_txt_tokens": False,
        "prompt_segtok_w_instruct": False, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
        "segtok_posembed": "sincos", "sliding_window": None, "tie_word_embeddings": False,
        "tokenizer_model_max_length": 2048, "tokenizer_padding_side": "right", "torch_dtype": "bfloat16",
        "transformers_version": "4.36.2", "tune_mm_mlp_adapter": False, "tune_vision_tokenizer": "none",
        "use_cache": True, "use_mm_proj": True, "vision_backbone": "convnextlarge", "vision_tokenizer_lr": None,
        "vocab_size": vocab_size,
    }


def build_llava_med(out: Path) -> None:
    """A tiny LLaVA-Med v1.5 checkpoint in its published layout: ``config.json`` (the published keys), four
    bfloat16 shards + index under the original names (the tower's copy included, as the published index lists
    it), a SentencePiece ``tokenizer.model`` with ``tokenizer_config.json`` and ``special_tokens_map.json``
    (no ``tokenizer.json``), ``generation_config.json``.

    The tower (the published config names the Hub repo ``openai/clip-vit-large-patch14-336``) is written as a
    CLIP checkpoint of its own, in that repository's form (a full CLIP ``config.json``, weights, the old integer
    ``preprocessor_config.json``), in ``LLAVA_MED_TOWER`` inside ``out``; ``mm_vision_tower`` is its absolute
    path, as in a local copy (the authors' builder accepts an existing path, ``builder.py`` l.6-8). Its weights
    are drawn from another seed than the shards' tower copy, so a loader that read the copy (the authors' does
    not) would give other logits."""
    import torch
    import transformers as t

    from vgmed_data.eval.tiny_text import sentencepiece_model

    (out / "tokenizer.model").write_bytes(sentencepiece_model(vocab_size=600))
    special = {"0": "<unk>", "1": "<s>", "2": "</s>"}
    write_json(out / "tokenizer_config.json", {
        "add_bos_token": True, "add_eos_token": False, "additional_special_tokens": [],
        "added_tokens_decoder": {index: {"content": token, "lstrip": False, "normalized": False, "rstrip": False,
                                         "single_word": False, "special": True} for index, token in special.items()},
        "bos_token": "<s>", "clean_up_tokenization_spaces": False, "eos_token": "</s>", "legacy": True,
        "model_max_length": 2048, "pad_token": "<unk>", "padding_side": "right", "sp_model_kwargs": {},
        "spaces_between_special_tokens": False, "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>",
        "use_default_system_prompt": False})
    write_json(out / "special_tokens_map.json", {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<unk>",
                                                 "unk_token": "<unk>"})
    import sentencepiece

    vocab = sentencepiece.SentencePieceProcessor(model_proto=(out / "tokenizer.model").read_bytes()).vocab_size()
    tower = out / LLAVA_MED_TOWER
    config = llava_med_config(vocab_size=vocab, tower=str(tower.resolve()))
    write_json(out / "config.json", config)
    write_json(out / "generation_config.json", {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2,
                                                "transformers_version": "4.36.2"})
    write_shards(out, original_weights(config), shards=4)
    text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
            "vocab_size": 64, "max_position_embeddings": 16}
    with torch.random.fork_rng():
        torch.manual_seed(1)
        clip = t.CLIPModel._from_config(t.CLIPConfig(text_config=text, vision_config=VISION, projection_dim=32))
    clip.save_pretrained(tower)
    write_json(tower / "preprocessor_config.json", {
        "crop_size": VISION["image_size"], "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
        "resample": 3, "size": VISION["image_size"]})


# HuatuoGPT-Vision-34B (FreedomIntelligence/HuatuoGPT-Vision-34B at Hub commit f04c5e3; facts and sources in
# eval/adapters/huatuogpt_vision.py): the 7B's original layout on a Yi-34B (Llama) language model
YI_SPECIALS = {"unk_token": "<unk>", "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>"}
HUATUO_34B_TOWER = "vit/clip_vit_large_patch14_336"  # the published folder name (the tower in it is tiny)


def huatuogpt_vision_34b_config(*, vocab_size: int) -> dict[str, Any]:
    """The published ``config.json`` (Hub commit f04c5e3: every key, these values) at toy size."""
    from vgmed_data.eval.tiny_text import TEXT_DIMS

    return {
        "_flash_attn_2_enabled": True, "_name_or_path": "HuatuoGPT-Vision-34B",
        "architectures": ["LlavaLlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": TEXT_DIMS["hidden_size"],
        "image_aspect_ratio": "pad", "initializer_range": 0.02, "intermediate_size": TEXT_DIMS["intermediate_size"],
        "max_position_embeddings": 4096, "mm_hidden_size": VISION["hidden_size"], "mm_projector_type": "mlp2x_gelu",
        "mm_vision_select_feature": "patch", "mm_vision_select_layer": -2, "mm_vision_tower": f"./{HUATUO_34B_TOWER}",
        "model_type": "llava_llama", "num_attention_heads": TEXT_DIMS["num_attention_heads"],
        "num_hidden_layers": TEXT_DIMS["num_hidden_layers"], "num_key_value_heads": TEXT_DIMS["num_key_value_heads"],
        "pad_token_id": 0, "pretraining_tp": 1, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 5000000.0,
        "tie_word_embeddings": False, "tokenizer_model_max_length": 4096, "tokenizer_padding_side": "left",
        "torch_dtype": "bfloat16", "transformers_version": "4.40.0.dev0", "tune_mm_mlp_adapter": False,
        "use_cache": False, "use_mm_proj": True, "vocab_size": vocab_size,
    }


def build_huatuogpt_vision_34b(out: Path) -> None:
    """A tiny HuatuoGPT-Vision-34B checkpoint in its published layout (file list of Hub commit f04c5e3):
    ``config.json``, ``generation_config.json``, 15 bfloat16 shards + ``model.safetensors.index.json`` under the
    original names (the tower's weights included), Yi's tokenizer as ``tokenizer.model`` (SentencePiece BPE with
    byte fallback; ``<unk>`` 0, ``<|startoftext|>`` 1, ``<|endoftext|>`` 2) plus its ``tokenizer.json``,
    ``tokenizer_config.json`` (``LlamaTokenizer``, no BOS added, as 01-ai's Llama-compatible Yi files have it)
    and ``special_tokens_map.json``, and ``vit/clip_vit_large_patch14_336/`` with the tower's config files."""
    import tempfile

    import sentencepiece
    import transformers

    from vgmed_data.eval.tiny_text import sentencepiece_model

    (out / "tokenizer.model").write_bytes(sentencepiece_model(
        vocab_size=600, bos_piece=YI_SPECIALS["bos_token"], eos_piece=YI_SPECIALS["eos_token"]))
    with tempfile.TemporaryDirectory() as scratch:  # LlamaTokenizer reads tokenizer.model from a folder
        (Path(scratch) / "tokenizer.model").write_bytes((out / "tokenizer.model").read_bytes())
        converted = transformers.LlamaTokenizer.from_pretrained(scratch, legacy=True, **YI_SPECIALS)
    converted.backend_tokenizer.save(str(out / "tokenizer.json"))
    settings = {"add_bos_token": False, "add_eos_token": False, **YI_SPECIALS, "pad_token": "<unk>",
                "clean_up_tokenization_spaces": False, "legacy": True, "model_max_length": 4096,
                "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer"}
    write_json(out / "tokenizer_config.json", settings)
    write_json(out / "special_tokens_map.json", {**YI_SPECIALS, "pad_token": "<unk>"})
    vocab = sentencepiece.SentencePieceProcessor(model_proto=(out / "tokenizer.model").read_bytes()).vocab_size()
    config = huatuogpt_vision_34b_config(vocab_size=vocab)
    write_json(out / "config.json", config)
    write_json(out / "generation_config.json", {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2,
                                                "pad_token_id": 0, "transformers_version": "4.40.0.dev0"})
    write_shards(out, original_weights(config), shards=15)
    write_tower_files(out / HUATUO_34B_TOWER)
