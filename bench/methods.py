"""Each intervention's time per answer over the plain answer, same model, same image, one run.

    python bench/methods.py                                   # tiny-width Qwen2.5-VL-shaped model on CPU
    python bench/methods.py --device cuda --real-size --dtype bfloat16   # Qwen2.5-VL-7B shape (random weights)

Same model, image and answer definition as bench/vgrefine.py (encoding, vision tower, prefill(s) and
``--new-tokens`` greedy tokens, eos disabled so every method decodes the same number): plain ``generate``, then
VGRefine (fast path), PAI, VCD, AdaptVis and blind with their default (authors') parameters, each timed inside one
interleaved round (order reversed every other round); a ratio is the median of the per-round ratios over the
plain answer of the same round. Attention-changing methods run without capture layers (what an answer costs,
not the metrics after it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from vgrefine import QUESTION, build_adapter, timed, vgrefine_options  # bench/vgrefine.py, the same model

from vgmed_data.eval.methods import INTERVENTIONS
from vgmed_data.eval.vgrefine import vgrefine_fast


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--real-size", action="store_true", help="Qwen2.5-VL-7B shape (needs a GPU)")
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--side", type=int, default=1008, help="image side in pixels (1008 -> 1296 image tokens)")
    parser.add_argument("--new-tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    adapter = build_adapter(real_size=args.real_size, layers=args.layers, dtype=getattr(torch, args.dtype),
                            device=args.device, tokens_side=args.side // 28)
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (args.side, args.side, 3), dtype=np.uint8))
    settings = {**adapter.generation_settings(), "max_new_tokens": args.new_tokens}
    options = vgrefine_options(real_size=args.real_size, layers=adapter.num_layers)

    def plain() -> None:
        encoded = adapter.encode([image], [QUESTION]).on(args.device, dtype=adapter.model.dtype)
        with torch.inference_mode():
            adapter.model.generate(**encoded.inputs, **settings)

    runs: dict[str, Callable[[], Any]] = {"plain": plain, "vgrefine": lambda: vgrefine_fast(
        adapter, image, QUESTION, options=options, max_new_tokens=args.new_tokens)}
    for name, cls in INTERVENTIONS.items():
        method = cls()
        runs[name] = (lambda m=method: m.answer(adapter, image, QUESTION, max_new_tokens=args.new_tokens,
                                                sample_id="bench"))
    for fn in runs.values():  # warm-up
        fn()
    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for round_ in range(args.repeats):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(timed(runs[name], device=args.device))
    ratios = {name: statistics.median(t / p for t, p in zip(times[name], times["plain"])) for name in names[1:]}
    encoded = adapter.encode([image], [QUESTION])
    report = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else
        f"CPU, {torch.get_num_threads()} threads", "torch": torch.__version__, "dtype": args.dtype,
        "layers": adapter.num_layers, "hidden": adapter.text_config.hidden_size,
        "image_tokens": int(len(encoded.layouts[0].positions)),
        "prompt_tokens": int(encoded.inputs["input_ids"].shape[1]), "new_tokens": args.new_tokens,
        "repeats": args.repeats, "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "seconds": {name: round(statistics.median(values), 4) for name, values in times.items()},
        "over_plain": {name: round(value, 3) for name, value in ratios.items()},
        "over_plain_range": {name: [round(min(t / p for t, p in zip(times[name], times["plain"])), 3),
                                    round(max(t / p for t, p in zip(times[name], times["plain"])), 3)]
                             for name in names[1:]},
    }
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
