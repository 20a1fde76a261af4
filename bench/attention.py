"""Attention capture vs a plain SDPA forward: time ratio and extra peak memory, same inputs, same run.

    python bench/attention.py                       # tiny Qwen2-VL-shaped model on CPU, ~1k and ~4k tokens
    python bench/attention.py --device cuda --real-size --dtype bfloat16   # 7B shape (Qwen2.5-VL-7B text
                                                                           # model), random weights

The language model alone is timed (``inputs_embeds``; the vision tower is identical in both paths). Capture
keeps the last row of ``--layers`` (default: every layer, the official protocol). Peak memory: CUDA
``max_memory_allocated`` on GPU; on CPU the Python allocator is not tracked and only time is reported.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Any

import torch

from eval.capture import capture_attention


def build_text_model(*, real_size: bool, dtype: torch.dtype, device: str) -> Any:
    import transformers as t

    if real_size:  # Qwen2.5-VL-7B's language model: 28 layers, 28 heads over 4 KV heads, hidden 3584
        text = {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
                "num_key_value_heads": 4, "vocab_size": 152064,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]}}
    else:
        text = {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8,
                "num_key_value_heads": 2, "vocab_size": 512,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [4, 6, 6]}}
    config = t.Qwen2_5_VLConfig(text_config={**text, "max_position_embeddings": 32768},
                                vision_config={"depth": 1, "hidden_size": 32, "intermediate_size": 32, "num_heads": 2,
                                               "out_hidden_size": text["hidden_size"]})
    with torch.device(device):
        model = t.Qwen2_5_VLForConditionalGeneration._from_config(config, attn_implementation="sdpa", dtype=dtype)
    return model.eval()


def _time(fn: Any, *, repeats: int, device: str) -> tuple[float, int]:
    times = []
    peak = 0
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            peak = max(peak, torch.cuda.max_memory_allocated())
        times.append(time.perf_counter() - start)
    return statistics.median(times), peak


def bench(tokens: int, *, model: Any, device: str, dtype: torch.dtype, repeats: int, layers: list[int]) -> dict:
    hidden = model.config.text_config.hidden_size
    embeds = torch.randn(1, tokens, hidden, device=device, dtype=dtype) * 0.02
    ids = torch.zeros(1, tokens, dtype=torch.long, device=device)
    kwargs = {"inputs_embeds": embeds, "attention_mask": torch.ones_like(ids), "mm_token_type_ids": ids,
              "logits_to_keep": 1}

    def plain() -> None:
        with torch.inference_mode():
            model(**kwargs)

    def captured() -> None:
        with torch.inference_mode(), capture_attention(model, layers=layers):
            model(**kwargs)

    plain(), captured()  # warm-up
    # Interleave to share thermal/cache conditions; medians over repeats.
    t_plain, m_plain = _time(plain, repeats=repeats, device=device)
    t_cap, m_cap = _time(captured, repeats=repeats, device=device)
    t_plain2, m_plain2 = _time(plain, repeats=repeats, device=device)
    t_plain = min(t_plain, t_plain2)
    out = {"tokens": tokens, "plain_s": round(t_plain, 5), "capture_s": round(t_cap, 5),
           "time_ratio": round(t_cap / t_plain, 3), "layers_captured": len(layers)}
    if device.startswith("cuda"):
        out["extra_peak_mib"] = round((m_cap - max(m_plain, m_plain2)) / 2**20, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--real-size", action="store_true", help="7B-shaped language model (needs a GPU)")
    parser.add_argument("--tokens", default="1024,4096")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", default="all", help="'all' or comma-separated indices")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    model = build_text_model(real_size=args.real_size, dtype=dtype, device=args.device)
    n_layers = model.config.text_config.num_hidden_layers
    layers = list(range(n_layers)) if args.layers == "all" else [int(v) for v in args.layers.split(",")]
    machine = {"device": args.device, "dtype": args.dtype, "torch": torch.__version__,
               "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
               "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
               "model": "Qwen2.5-VL-7B text shape" if args.real_size else "tiny (hidden 256, 4 layers, 8/2 heads)"}
    rows = [bench(int(n), model=model, device=args.device, dtype=dtype, repeats=args.repeats, layers=layers)
            for n in args.tokens.split(",")]
    print(json.dumps({"machine": machine, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
