"""An independent assembly of HuatuoGPT-Vision from its ORIGINAL checkpoint files, in plain torch.

Written from the authors' module structure (FreedomIntelligence/HuatuoGPT-Vision, commit a6476ac), without the
project's adapter or transformers' model classes: ``cli.py`` (expand2square, the prompt, tokenizer_image_token),
``llava_arch.py`` (the projected image features replace the ``-200`` placeholder), ``clip_encoder.py`` (hidden
state ``mm_vision_select_layer`` of the CLIP tower, CLS dropped), ``multimodal_projector/builder.py``
(``Linear, GELU, Linear``) and Qwen2's decoder (RMSNorm, rotary positions, grouped-query causal attention with
q/k/v biases, SwiGLU MLP). Weights are read by their original names from the shards the index names, in
float32.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file

IMAGE_TOKEN_INDEX = -200  # llava/constants.py


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    """Every weight of the sharded checkpoint (``model.safetensors.index.json``), as float32."""
    weight_map = _json(folder / "model.safetensors.index.json")["weight_map"]
    weights: dict[str, torch.Tensor] = {}
    for shard in sorted(set(weight_map.values())):
        weights.update(load_file(str(folder / shard)))
    assert set(weights) == set(weight_map)
    return {name: tensor.float() for name, tensor in weights.items()}


def pixels(folder: Path, image: Image.Image) -> torch.Tensor:
    """cli.py get_image_tensors: expand2square on the mean colour, then CLIP resize / crop / normalise."""
    config = _json(folder / "config.json")
    prep = _json(folder / config["mm_vision_tower"] / "preprocessor_config.json")
    mean, std, side = np.array(prep["image_mean"]), np.array(prep["image_std"]), int(prep["crop_size"])
    image = image.convert("RGB")
    width, height = image.size
    if width != height:
        square = Image.new("RGB", (max(width, height),) * 2, tuple(int(x * 255) for x in prep["image_mean"]))
        square.paste(image, (0, (width - height) // 2) if width > height else ((height - width) // 2, 0))
        image = square
    image = image.resize((side, side), Image.Resampling.BICUBIC)
    array = (np.asarray(image, dtype=np.float32) / 255.0 - mean) / std
    return torch.tensor(array.transpose(2, 0, 1), dtype=torch.float32)[None]


def input_ids(tokenizer, question: str) -> list[int]:  # noqa: ANN001
    """cli.py preprocess_huatuo + tokenizer_image_token for one turn with one image."""
    turn = f"<|user|>\n{('<image>' + chr(10) + question).strip()}\n<|assistant|>\n"
    chunks = [tokenizer(chunk, add_special_tokens=False).input_ids for chunk in turn.split("<image>")]
    return chunks[0] + [IMAGE_TOKEN_INDEX] + chunks[1]


def _layer_norm(x: torch.Tensor, w: dict, prefix: str, eps: float) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], w[f"{prefix}.weight"], w[f"{prefix}.bias"], eps)


def _linear(x: torch.Tensor, w: dict, prefix: str) -> torch.Tensor:
    return F.linear(x, w[f"{prefix}.weight"], w.get(f"{prefix}.bias"))


def vision_features(w: dict, vision: dict, pix: torch.Tensor, select_layer: int, *,
                    prefix: str = "model.vision_tower.vision_tower.vision_model") -> torch.Tensor:
    """clip_encoder.py: hidden state ``select_layer`` of the CLIP tower whose weights sit under ``prefix``."""
    p = prefix
    patches = F.conv2d(pix, w[f"{p}.embeddings.patch_embedding.weight"], stride=vision["patch_size"])
    x = patches.flatten(2).transpose(1, 2)
    cls = w[f"{p}.embeddings.class_embedding"].expand(1, 1, -1)
    x = torch.cat([cls, x], dim=1) + w[f"{p}.embeddings.position_embedding.weight"][None, : x.shape[1] + 1]
    eps = vision.get("layer_norm_eps", 1e-5)
    x = _layer_norm(x, w, f"{p}.pre_layrnorm", eps)
    hidden = [x]
    heads = vision["num_attention_heads"]
    for i in range(vision["num_hidden_layers"]):
        q_ = f"{p}.encoder.layers.{i}"
        h = _layer_norm(x, w, f"{q_}.layer_norm1", eps)
        n, d = h.shape[1], h.shape[2] // heads
        q, k, v = (_linear(h, w, f"{q_}.self_attn.{name}_proj").view(1, n, heads, d).transpose(1, 2)
                   for name in ("q", "k", "v"))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1) @ v
        x = x + _linear(att.transpose(1, 2).reshape(1, n, heads * d), w, f"{q_}.self_attn.out_proj")
        h = _linear(_layer_norm(x, w, f"{q_}.layer_norm2", eps), w, f"{q_}.mlp.fc1")
        x = x + _linear(h * torch.sigmoid(1.702 * h), w, f"{q_}.mlp.fc2")  # quick_gelu
        hidden.append(x)
    return hidden[select_layer][:, 1:]  # 'patch': drop CLS


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def _rotate(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def logits(folder: Path, image: Image.Image, question: str, tokenizer) -> torch.Tensor:  # noqa: ANN001
    """Next-token logits at every position of the spliced sequence, ``[sequence, vocab]``."""
    config = _json(folder / "config.json")
    vision = _json(folder / config["mm_vision_tower"] / "config.json")["vision_config"]
    w = load_weights(folder)
    feats = vision_features(w, vision, pixels(folder, image), config["mm_vision_select_layer"])
    feats = _linear(F.gelu(_linear(feats, w, "model.mm_projector.0")), w, "model.mm_projector.2")[0]
    ids = input_ids(tokenizer, question)
    return decoder_logits(w, config, splice(w, ids, feats))


def splice(w: dict, ids: list[int], feats: torch.Tensor) -> torch.Tensor:
    """llava_arch.py prepare_inputs_labels_for_multimodal: the text embeddings with the image features in place
    of the one ``-200`` id."""
    at = ids.index(IMAGE_TOKEN_INDEX)
    embed = w["model.embed_tokens.weight"]
    return torch.cat([embed[ids[:at]], feats, embed[ids[at + 1:]]])


def decoder_logits(w: dict, config: dict, x: torch.Tensor) -> torch.Tensor:
    """A Llama-style decoder (Qwen2 with q/k/v biases, Mistral without; no sliding window) over the embedded
    sequence ``x``: next-token logits at every position, ``[sequence, vocab]``."""
    n, heads, kv = x.shape[0], config["num_attention_heads"], config["num_key_value_heads"]
    d, eps = config["hidden_size"] // heads, config["rms_norm_eps"]
    inv = 1.0 / (config["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    angles = torch.arange(n, dtype=torch.float32)[:, None] * inv[None]
    cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()
    causal = torch.full((n, n), float("-inf")).triu(1)
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = _rms(x, w[f"{p}.input_layernorm.weight"], eps)
        q = _linear(h, w, f"{p}.self_attn.q_proj").view(n, heads, d).transpose(0, 1)
        k = _linear(h, w, f"{p}.self_attn.k_proj").view(n, kv, d).transpose(0, 1)
        v = _linear(h, w, f"{p}.self_attn.v_proj").view(n, kv, d).transpose(0, 1)
        q, k = q * cos + _rotate(q) * sin, k * cos + _rotate(k) * sin
        k, v = k.repeat_interleave(heads // kv, 0), v.repeat_interleave(heads // kv, 0)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + causal, dim=-1) @ v
        x = x + _linear(att.transpose(0, 1).reshape(n, heads * d), w, f"{p}.self_attn.o_proj")
        h = _rms(x, w[f"{p}.post_attention_layernorm.weight"], eps)
        x = x + _linear(F.silu(_linear(h, w, f"{p}.mlp.gate_proj")) * _linear(h, w, f"{p}.mlp.up_proj"), w,
                        f"{p}.mlp.down_proj")
    return _rms(x, w["model.norm.weight"], eps) @ w["lm_head.weight"].T


def assert_matches_authors(adapter, folder: Path, image: Image.Image, question: str, *,  # noqa: ANN001
                           ids: list[int], expected: torch.Tensor) -> None:
    """The adapter's tokens, pixels and logits for (image, question) against the authors' pipeline re-assembled:
    ``ids`` (their token ids, with :data:`IMAGE_TOKEN_INDEX` where the image goes) and ``expected`` (their logits)."""
    encoded = adapter.encode([image], [question])
    at, cells = ids.index(IMAGE_TOKEN_INDEX), (56 // 14) ** 2
    ours = encoded.inputs["input_ids"][0].tolist()
    assert ours[:at] == ids[:at] and ours[at + cells:] == ids[at + 1:]  # the same tokens around the image
    assert ours[at:at + cells] == [adapter.image_token_id] * cells
    torch.testing.assert_close(encoded.inputs["pixel_values"], pixels(folder, image), rtol=0, atol=1e-6)
    with torch.inference_mode():
        logits = adapter.model(**encoded.inputs).logits[0]
    assert logits.shape == expected.shape  # the published vocabulary: no row for the placeholder in the head
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)
