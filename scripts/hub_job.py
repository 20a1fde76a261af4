#!/usr/bin/env python
"""Run a VGMED evaluation as a Hugging Face Job on a GPU and publish its results to a results dataset.

Dry run (default) prints what would run; ``--submit`` starts the job with ``HfApi.run_job`` (needs a write
token with Jobs access: ``HF_TOKEN`` or ``hf auth login``; it is sent to the job as the secret ``HF_TOKEN``).

    python scripts/hub_job.py --model FreedomIntelligence/HuatuoGPT-Vision-7B-Qwen2.5VL \\
        --dataset my-lab/VGMED --results my-lab/vgmed-results --flavor a100-large --submit

Then follow it with ``hf jobs logs JOB_ID`` and open the leaderboard Space (space/README.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vgmed_data.errors import VgmedError  # noqa: E402
from vgmed_data.eval.results.jobs import DEFAULT_FLAVOR, DEFAULT_IMAGE, DEFAULT_TOOLKIT, HubJobSpec, describe, submit_job  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="checkpoint Hub id")
    parser.add_argument("--dataset", required=True, help="grounding dataset Hub id")
    parser.add_argument("--results", required=True, metavar="ORG/NAME", help="results dataset to append to")
    parser.add_argument("--config", default="vgmed")
    parser.add_argument("--split", default="test")
    parser.add_argument("--method", default="baseline", help="baseline, or baseline,vgrefine")
    parser.add_argument("--heads", default=None,
                        help="VGRefine heads (needed with vgrefine): heads.json from `vgmed eval select` (sent inside "
                             "the job's command) or preset:NAME; checked before anything is submitted")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="a CUDA PyTorch Docker image")
    parser.add_argument("--flavor", default=DEFAULT_FLAVOR, help="Jobs hardware, e.g. a10g-small, a100-large")
    parser.add_argument("--timeout", default="6h")
    parser.add_argument("--toolkit", default=DEFAULT_TOOLKIT, help="pip requirement that installs vgmed-data with its eval extra inside the job (the default is a "
                             "placeholder: --submit refuses it)")
    parser.add_argument("--namespace", help="run the job under this organisation (default: your user)")
    parser.add_argument("--endpoint", help="the Hub URL (default: HF_ENDPOINT or https://huggingface.co)")
    parser.add_argument("--submit", action="store_true", help="start the job (default: print it only)")
    parser.add_argument("extra", nargs="*", help="more `vgmed eval run` arguments, after --")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except VgmedError as error:  # one line naming the fix, as the vgmed CLI prints it
        print(f"hub_job.py: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    spec = HubJobSpec(model=args.model, dataset=args.dataset, results_repo=args.results, config=args.config,
                      split=args.split, method=args.method, limit=args.limit, dtype=args.dtype,
                      batch_size=args.batch_size, extra_args=tuple(args.extra), image=args.image,
                      flavor=args.flavor, timeout=args.timeout, toolkit=args.toolkit, heads=args.heads)
    for line in describe(spec):
        print(line)
    if args.toolkit == DEFAULT_TOOLKIT:
        print("note: --toolkit is a placeholder; --submit needs the pip requirement of your copy of vgmed-data")
    if not args.submit:
        print("dry run: add --submit to start it")
        return 0
    job = submit_job(spec, endpoint=args.endpoint, namespace=args.namespace)
    print(f"started job {job.id} ({job.status.stage}): {job.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
