"""Throughput of the whole evaluator (samples per second) at batch 1 and batch 8.

    python bench/runner.py                          # tiny random Qwen2-VL on CPU, 32 synthetic samples
    python bench/runner.py --model PATH_OR_ID --dataset FOLDER --device cuda --dtype bfloat16 --limit 200

Each setting runs into a fresh output folder (no resume), all layers captured, question + general pass,
greedy answers; reports samples/s of ``run_eval`` end to end (model loading excluded, reports included).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import torch

    from vgmed_data.eval.adapters import AdapterOptions, load_adapter
    from vgmed_data.eval.runner import EvalConfig, run_eval
    from vgmed_data.eval.tiny import build_tiny_checkpoint
    from tests.eval.data import write_tiny_dataset

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="default: a tiny random Qwen2-VL built on the fly")
    parser.add_argument("--dataset", default=None, help="default: synthetic samples")
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--max-new-tokens", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vgmed-bench-runner-"))
    model = args.model or str(build_tiny_checkpoint("qwen2_vl", work / "tiny-qwen2-vl"))
    dataset = args.dataset or str(write_tiny_dataset(work / "data", args.limit))
    adapter = load_adapter(model, dtype=args.dtype, device=args.device,
                           options=AdapterOptions(max_new_tokens=args.max_new_tokens))
    rows = []
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        cfg = EvalConfig(model=model, dataset=dataset, out=work / f"out-b{batch}", limit=args.limit,
                         batch_size=batch, dtype=args.dtype, device=args.device, progress=False, overlays=0,
                         max_new_tokens=args.max_new_tokens)
        start = time.perf_counter()
        summary = run_eval(cfg, adapter=adapter)
        elapsed = time.perf_counter() - start
        rows.append({"batch_size": batch, "samples": summary["counts"]["samples"], "seconds": round(elapsed, 2),
                     "samples_per_s": round(summary["counts"]["samples"] / elapsed, 2)})
    machine = {"device": args.device, "dtype": args.dtype, "torch": torch.__version__,
               "cpu": platform.machine(), "threads": torch.get_num_threads(),
               "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
               "model": model if args.model else "tiny random Qwen2-VL (3 layers, hidden 64)"}
    print(json.dumps({"machine": machine, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
