"""Attention capture vs a plain SDPA forward: time ratio and extra peak memory, same inputs, same run.

    python bench/attention.py                       # tiny Qwen2-VL-shaped model on CPU, ~1k and ~4k tokens
    python bench/attention.py --device cuda --real-size --dtype bfloat16   # 7B shape (Qwen2.5-VL-7B text
                                                                           # model), random weights

The language model alone is timed (``inputs_embeds``; the vision tower is identical in both paths). Capture
keeps the last row of ``--layers`` (default: every layer, the official protocol).

Time: ``--repeats`` rounds after a warm-up, each running both variants back to back (order flipped every
round); the reported ratio is the median of the per-round ratios, so load from other processes that changes
between rounds cancels. Peak memory: CUDA ``max_memory_allocated`` on GPU; on CPU (Linux) the RSS high-water
mark of each call above the RSS before it (``/proc/self/status`` VmHWM, reset through ``/proc/self/clear_refs``,
with glibc's mmap threshold pinned at 64 KiB so freed tensors leave RSS), measured in a child process that sets
this before its first tensor (in the timing process it would distort times, and blocks already freed into the
heap would hide the peak); extra = capture's peak minus plain's, each the maximum over 3 calls. The load
average before and after the timing is printed: ratios from a loaded machine are noisier.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from vgmed_data.eval.capture import capture_attention


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


class _CpuPeak:
    """Extra resident memory of a call on CPU: the process's RSS high-water mark (``VmHWM``) during the call,
    reset before it through ``/proc/self/clear_refs``, minus the RSS before it.

    torch's CPU allocator takes tensors from glibc ``malloc``, which would keep freed blocks and hide a call's
    peak behind memory freed by the previous one; the mmap threshold is pinned at 64 KiB (``mallopt``) so every
    tensor above it is mapped on allocation and unmapped on free, and RSS follows the live tensors. Linux only;
    elsewhere ``available`` is False and no memory figure is reported."""

    M_MMAP_THRESHOLD = -3

    def __init__(self) -> None:
        self.available = False
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6")
            pinned = libc.mallopt(self.M_MMAP_THRESHOLD, 64 * 1024) == 1
            self.available = pinned and self._reset() and self._status("VmHWM") > 0
        except OSError:
            self.available = False

    @staticmethod
    def _status(field: str) -> int:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")  # reset the peak RSS to the current RSS
            return True
        except OSError:
            return False

    def measure(self, fn: Callable[[], None]) -> tuple[float, int]:
        """(seconds, extra peak bytes) of one call."""
        self._reset()
        base = self._status("VmRSS")
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
        return seconds, max(0, self._status("VmHWM") - base)


def _variants(tokens: int, *, model: Any, device: str, dtype: torch.dtype, layers: list[int]
              ) -> dict[str, Callable[[], None]]:
    hidden = model.config.text_config.hidden_size
    generator = torch.Generator().manual_seed(tokens)
    embeds = (torch.randn(1, tokens, hidden, generator=generator) * 0.02).to(device=device, dtype=dtype)
    ids = torch.zeros(1, tokens, dtype=torch.long, device=device)
    kwargs = {"inputs_embeds": embeds, "attention_mask": torch.ones_like(ids), "mm_token_type_ids": ids,
              "logits_to_keep": 1}

    def plain() -> None:
        with torch.inference_mode():
            model(**kwargs)

    def captured() -> None:
        with torch.inference_mode(), capture_attention(model, layers=layers):
            model(**kwargs)

    return {"plain": plain, "capture": captured}


def _timed(fn: Callable[[], None], *, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bench_time(tokens: int, *, model: Any, device: str, dtype: torch.dtype, repeats: int, layers: list[int]
               ) -> dict:
    runs = _variants(tokens, model=model, device=device, dtype=dtype, layers=layers)
    for fn in runs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    ratios = []
    for round_ in range(repeats):  # interleaved, the order flipped every round; one ratio per round
        order = ("plain", "capture") if round_ % 2 == 0 else ("capture", "plain")
        seconds = {name: _timed(runs[name], device=device) for name in order}
        for name, value in seconds.items():
            times[name].append(value)
        ratios.append(seconds["capture"] / seconds["plain"])
    return {"tokens": tokens, "plain_s": round(statistics.median(times["plain"]), 5),
            "capture_s": round(statistics.median(times["capture"]), 5),
            "time_ratio": round(statistics.median(ratios), 3),
            "time_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)], "rounds": repeats,
            "layers_captured": len(layers)}


def bench_memory(tokens: int, *, model: Any, device: str, dtype: torch.dtype, layers: list[int],
                 cpu_peak: _CpuPeak | None, rounds: int = 3) -> dict:
    """Peak memory of each variant (max over ``rounds`` calls): CUDA ``max_memory_allocated``; on CPU the RSS
    high-water above the RSS before the call. Run after the timing, as the CPU method changes the allocator."""
    runs = _variants(tokens, model=model, device=device, dtype=dtype, layers=layers)
    peaks: dict[str, int] = {}
    for name, fn in runs.items():
        fn()  # warm-up
        values = []
        for _ in range(rounds):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                fn()
                torch.cuda.synchronize()
                values.append(torch.cuda.max_memory_allocated())
            elif cpu_peak is not None and cpu_peak.available:
                values.append(cpu_peak.measure(fn)[1])
        if not values:
            return {}
        peaks[name] = max(values)
    return {"extra_peak_mib": round((peaks["capture"] - peaks["plain"]) / 2**20, 2),
            "peak_mib": {name: round(value / 2**20, 2) for name, value in peaks.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--real-size", action="store_true", help="7B-shaped language model (needs a GPU)")
    parser.add_argument("--tokens", default="1024,4096")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--layers", default="all", help="'all' or comma-separated indices")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # CPU memory is measured in a child process that pins the allocator before the first tensor exists
    cpu_peak = _CpuPeak() if args.memory_child else None
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    model = build_text_model(real_size=args.real_size, dtype=dtype, device=args.device)
    n_layers = model.config.text_config.num_hidden_layers
    layers = list(range(n_layers)) if args.layers == "all" else [int(v) for v in args.layers.split(",")]
    machine = {"device": args.device, "dtype": args.dtype, "torch": torch.__version__,
               "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
               "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
               "model": "Qwen2.5-VL-7B text shape" if args.real_size else "tiny (hidden 256, 4 layers, 8/2 heads)"}
    sizes = [int(n) for n in args.tokens.split(",")]
    if args.memory_child:  # CPU memory figures, in a fresh process whose allocator was set before any tensor
        print(json.dumps([bench_memory(n, model=model, device=args.device, dtype=dtype, layers=layers,
                                       cpu_peak=cpu_peak) for n in sizes]))
        return
    load_before = os.getloadavg()
    rows = [bench_time(n, model=model, device=args.device, dtype=dtype, repeats=args.repeats, layers=layers)
            for n in sizes]
    machine["loadavg_1min_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    if args.device.startswith("cuda"):
        machine["memory"] = "CUDA max_memory_allocated"
        memory = [bench_memory(n, model=model, device=args.device, dtype=dtype, layers=layers, cpu_peak=None)
                  for n in sizes]
    else:
        machine["memory"] = ("RSS high-water above RSS before the call (VmHWM, glibc mmap threshold 64 KiB), "
                             "in a separate process")
        child = subprocess.run([sys.executable, __file__, "--memory-child", *(argv or sys.argv[1:])],
                               capture_output=True, text=True, check=True)
        memory = json.loads(child.stdout.strip().splitlines()[-1])
    for row, extra in zip(rows, memory):
        row.update(extra)
    print(json.dumps({"machine": machine, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
