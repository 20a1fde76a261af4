"""VGRefine answer vs plain answer, fast path and naive reference, same model, same image, same run.

    python bench/vgrefine.py                                  # tiny-width Qwen2.5-VL-shaped model on CPU
    python bench/vgrefine.py --device cuda --real-size --dtype bfloat16   # Qwen2.5-VL-7B language-model shape
                                                                          # (random weights)

The model is Qwen2.5-VL-shaped, not HuatuoGPT-Vision-7B: that model's base is Qwen2-7B with a CLIP tower, and
only the decoder dimensions agree (see ``text_dims``). One "answer" is what a user waits for: encoding the prompt(s), the vision tower, prefill(s) and greedy decoding
of ``--new-tokens`` tokens (eos disabled so every path decodes the same number of tokens). The image is
``--side`` pixels square with the pixel budget set so the model sees ``(side / 28)^2`` image tokens (1008 px ->
1296 tokens). Heads: the published HuatuoGPT-Vision-7B preset (K = 20, masked layer 16) at the real size; on the
tiny-width model 20 heads drawn with a fixed seed from layers 0-19 and masked layer 16 of 28 (same proportions).

Prints (and writes with ``--out``) the median seconds of plain / fast / naive and the ratios fast/plain (goal
<= 1.25) and naive/plain (the reference, ~3x). After a warm-up, ``--repeats`` rounds each run every variant
once (order reversed every other round); a ratio is the median of the per-round ratios, so load from other
processes that changes between rounds cancels (the 1-minute load average before and after is printed too).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vgmed_data.eval.adapters import AdapterOptions, question_prompt
from vgmed_data.eval.adapters.qwen2_5_vl import Qwen25VLAdapter
from vgmed_data.eval.adapters.qwen_processors import qwen_processor_class
from vgmed_data.eval.tiny import build_tiny_checkpoint
from vgmed_data.eval.vgrefine import VGRefineOptions, vgrefine_fast, vgrefine_naive
from vgmed_data.eval.vgrefine.presets import preset

QUESTION = question_prompt("Is there an abnormality in the left lower lobe of the lung?")


def text_dims(*, real_size: bool, layers: int | None) -> dict[str, Any]:
    # Qwen2.5-VL-7B's language model. HuatuoGPT-Vision-7B's base is Qwen2-7B (not Qwen2.5-VL), whose decoder has
    # the same dimensions (28 layers x 28 heads, 4 KV heads, hidden 3584, vocab 152064), so the published heads
    # fit; the vision tower (Qwen's ViT, not CLIP) and the 3D M-RoPE positions are Qwen2.5-VL's.
    if real_size:
        dims = {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
                "num_key_value_heads": 4, "vocab_size": 152064,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]}}
    else:
        dims = {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 28, "num_attention_heads": 8,
                "num_key_value_heads": 4, "vocab_size": 512,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [4, 6, 6]}}
    if layers is not None:
        dims["num_hidden_layers"] = layers
    return dims


def build_adapter(*, real_size: bool, layers: int | None, dtype: torch.dtype, device: str, tokens_side: int) -> Any:
    import transformers as t

    folder = build_tiny_checkpoint("qwen2_5_vl", Path(tempfile.gettempdir()) / "vgmed-bench-tiny-qwen2_5_vl")
    processor = qwen_processor_class("qwen2_5_vl").from_pretrained(folder)
    tiny = t.AutoConfig.from_pretrained(folder)
    ids = {key: getattr(tiny, key) for key in ("image_token_id", "video_token_id", "vision_start_token_id",
                                               "vision_end_token_id")}
    dims = text_dims(real_size=real_size, layers=layers)
    text = {**dims, "max_position_embeddings": 32768, "bos_token_id": tiny.text_config.bos_token_id,
            "eos_token_id": tiny.text_config.eos_token_id, "pad_token_id": tiny.text_config.pad_token_id}
    vision = ({"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16}
              if real_size else {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2})
    config = t.Qwen2_5_VLConfig(text_config=text, vision_config={
        **vision, "out_hidden_size": dims["hidden_size"], "patch_size": 14, "spatial_merge_size": 2,
        "temporal_patch_size": 2, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31]}, **ids)
    torch.manual_seed(0)
    with torch.device(device):
        model = t.Qwen2_5_VLForConditionalGeneration._from_config(config, attn_implementation="sdpa", dtype=dtype)
    model.eval()
    model.generation_config.eos_token_id = None  # same number of new tokens on every path
    model.generation_config.pad_token_id = tiny.text_config.pad_token_id
    pixels = tokens_side * tokens_side * 28 * 28
    return Qwen25VLAdapter(model, processor, options=AdapterOptions(max_pixels=pixels, min_pixels=pixels))


def vgrefine_options(*, real_size: bool, layers: int) -> VGRefineOptions:
    if real_size and layers == 28:
        return preset("huatuogpt-vision-7b")
    rng = np.random.default_rng(0)
    top = max(1, round(layers * 20 / 28))
    pairs = {(int(rng.integers(0, top)), int(rng.integers(0, 8))) for _ in range(200)}
    return VGRefineOptions(heads=sorted(pairs)[:: max(1, len(pairs) // 20)][:20],
                           masked_layers=[min(layers - 1, round(layers * 16 / 28))])


def timed(fn: Callable[[], Any], *, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--real-size", action="store_true", help="Qwen2.5-VL-7B shape (needs a GPU)")
    parser.add_argument("--layers", type=int, default=None, help="override the number of decoder layers")
    parser.add_argument("--side", type=int, default=1008, help="image side in pixels (1008 -> 1296 image tokens)")
    parser.add_argument("--new-tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-naive", action="store_true", help="the reference needs full attention tensors")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    adapter = build_adapter(real_size=args.real_size, layers=args.layers, dtype=dtype, device=args.device,
                            tokens_side=args.side // 28)
    options = vgrefine_options(real_size=args.real_size, layers=adapter.num_layers)
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (args.side, args.side, 3), dtype=np.uint8))
    settings = {**adapter.generation_settings(), "max_new_tokens": args.new_tokens}

    def plain() -> None:
        encoded = adapter.encode([image], [QUESTION])
        inputs = {k: v.to(args.device) if hasattr(v, "to") else v for k, v in encoded.inputs.items()}
        with torch.inference_mode():
            adapter.model.generate(**inputs, **settings)

    def fast() -> None:
        vgrefine_fast(adapter, image, QUESTION, options=options, max_new_tokens=args.new_tokens)

    def naive() -> None:
        vgrefine_naive(adapter, image, QUESTION, options=options, max_new_tokens=args.new_tokens)

    runs: dict[str, Callable[[], None]] = {"plain": plain, "fast": fast}
    if not args.skip_naive:
        runs["naive"] = naive
    for fn in runs.values():  # warm-up
        fn()
    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {name: [] for name in runs}
    ratios: dict[str, list[float]] = {name: [] for name in runs if name != "plain"}
    names = list(runs)
    for round_ in range(args.repeats):  # interleaved rounds, order reversed every other round
        order = names if round_ % 2 == 0 else names[::-1]
        seconds = {name: timed(runs[name], device=args.device) for name in order}
        for name, value in seconds.items():
            times[name].append(value)
        for name in ratios:
            ratios[name].append(seconds[name] / seconds["plain"])
    medians = {name: statistics.median(values) for name, values in times.items()}
    encoded = adapter.encode([image], [QUESTION])
    report = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else
        f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__, "dtype": args.dtype, "real_size": args.real_size, "layers": adapter.num_layers,
        "hidden": adapter.text_config.hidden_size, "image_tokens": int(len(encoded.layouts[0].positions)),
        "prompt_tokens": int(encoded.inputs["input_ids"].shape[1]), "new_tokens": args.new_tokens,
        "heads": len(options.heads), "masked_layers": list(options.masked_layers), "repeats": args.repeats,
        "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "seconds": medians, "fast_over_plain": statistics.median(ratios["fast"]),
        "fast_over_plain_range": [min(ratios["fast"]), max(ratios["fast"])],
    }
    if "naive" in ratios:
        report["naive_over_plain"] = statistics.median(ratios["naive"])
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
