"""``vgmed eval ...``: run the reference evaluator, merge rank outputs, build tiny checkpoints.

torch and transformers are imported inside the command functions only, so ``vgmed --help`` stays light.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vgmed_data.errors import InvalidInputError

if TYPE_CHECKING:
    from vgmed_data.eval.config import EvalConfig
    from vgmed_data.eval.vgrefine.options import VGRefineOptions


def parse_layers(text: str | None) -> tuple[int, ...] | None:
    """``"all"``/None -> every layer; ``"10,16"`` and ranges ``"8-12"`` -> sorted unique indices."""
    if text is None or text.strip().lower() == "all":
        return None
    layers: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                low, high = (int(v) for v in part.split("-", 1))
                layers.update(range(low, high + 1))
            elif part:
                layers.add(int(part))
    except ValueError:
        raise InvalidInputError(f"cannot read layers {text!r}", fix="use 'all', '10,16' or '8-12'") from None
    return tuple(sorted(layers))


DEFAULT_MAX_NEW_TOKENS = 16


def config_from_args(args: argparse.Namespace, *, vgrefine: VGRefineOptions | None = None) -> EvalConfig:
    """The :class:`EvalConfig` of ``vgmed eval run``'s parsed arguments (the choices are already enums:
    eval/arguments.py). ``vgrefine``: the VGRefine options, where the caller has them already (the Hub job spec,
    whose heads file exists only inside the job); else read from ``--heads``. ``vgmed eval run`` and the Hub job
    spec (eval/results/jobs.py) build their configuration here, so a job is refused before it is submitted."""
    from vgmed_data.eval.config import VGREFINE, EvalConfig, parse_methods
    from vgmed_data.eval.methods import parse_method_params
    from vgmed_data.eval.protocol import refuse_fixed_flags
    from vgmed_data.eval.vgrefine.cli import options_from_args

    methods = parse_methods(args.method)
    refuse_fixed_flags(args.protocol, {"--max-new-tokens": args.max_new_tokens,
                                       "--percentile": getattr(args, "percentile", None)})
    if VGREFINE not in methods and args.heads:
        raise InvalidInputError("--heads is given but --method does not include vgrefine",
                                fix="add --method baseline,vgrefine (or drop --heads)")
    if VGREFINE in methods and vgrefine is None:
        vgrefine = options_from_args(args)
    return EvalConfig(methods=methods, task=args.task, vgrefine=vgrefine if VGREFINE in methods else None,
                      model=args.model, dataset=args.dataset, out=Path(args.out), config=args.config,
                      split=args.split, layers=parse_layers(args.layers), limit=args.limit,
                      batch_size=args.batch_size, dtype=args.dtype, device=args.device, max_pixels=args.max_pixels,
                      max_new_tokens=DEFAULT_MAX_NEW_TOKENS if args.max_new_tokens is None else args.max_new_tokens,
                      min_pixels=args.min_pixels, protocol=args.protocol,
                      query=args.query, attention_prompt=args.attention_prompt,
                      overlays=args.overlays, method_params=parse_method_params(args.method_param or ()),
                      on_bad_sample=args.on_bad_sample, progress=not args.quiet, overwrite=args.overwrite,
                      argv=("vgmed", *sys.argv[1:]) if sys.argv and "vgmed" in Path(sys.argv[0]).name else None)


def _run(args: argparse.Namespace) -> int:
    from vgmed_data.eval.config import Task

    cfg = config_from_args(args)
    if cfg.task == Task.BOXES:
        from vgmed_data.eval.boxes.generate import run_boxes

        summary: dict | None = run_boxes(cfg)
    else:
        from vgmed_data.eval.runner import run_eval

        summary = run_eval(cfg)
    if summary is not None and cfg.task == Task.BOXES:
        print(f"box scores: {cfg.out / 'summary.md'}; predictions: {cfg.out / 'predictions.jsonl'}")
    elif summary is not None:
        counts = summary["counts"]
        print(f"{counts['samples']} samples, {counts['grounded']} with grounding metrics; "
              f"report: {cfg.out / 'summary.md'}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from vgmed_data.eval.runner import merge

    summary = merge(args.out, overlays=args.overlays)
    print(json.dumps(summary["counts"], indent=2))
    return 0


def _tiny(args: argparse.Namespace) -> int:
    from vgmed_data.errors import require_extra

    require_extra("eval")
    from vgmed_data.eval.tiny import build_tiny_checkpoint

    path = build_tiny_checkpoint(args.family, args.out, overwrite=args.overwrite)
    print(f"tiny RANDOM-WEIGHT {args.family} checkpoint: {path}")
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    from vgmed_data.eval.arguments import add_choice, add_dtype_argument, add_protocol_arguments
    from vgmed_data.eval.choices import AttentionPrompt, QueryMode, Task
    from vgmed_data.eval.config import SkipPolicy
    from vgmed_data.eval.tiny import TINY_FAMILIES
    from vgmed_data.progress import add_quiet_argument

    sub = parser.add_subparsers(dest="eval_command", metavar="SUBCOMMAND")
    run = sub.add_parser("run", help="evaluate a model on a grounding dataset (attention metrics + answers)")
    run.add_argument("--model", required=True, help="checkpoint folder or Hub id")
    run.add_argument("--dataset", required=True, help="dataset folder or Hub dataset id")
    run.add_argument("--out", required=True, help="output folder (re-run with the same arguments to resume)")
    run.add_argument("--config", default="vgmed",
                     help="dataset configuration: vgmed, or sequences (with --task boxes)")
    run.add_argument("--split", default="test", help="split to evaluate")
    run.add_argument("--layers", default="all", help="'all' (default), '10,16' or '8-12'")
    run.add_argument("--limit", type=int, default=None, help="first N rows of the split")
    run.add_argument("--batch-size", type=int, default=1, help="samples per forward pass")
    add_dtype_argument(run)
    run.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (under torchrun: cuda = LOCAL_RANK)")
    run.add_argument("--max-pixels", type=int, default=None,
                     help="Qwen pixel budget (default: the family's, 256*28*28 / 256*32*32; 0: checkpoint's)")
    add_protocol_arguments(run)
    run.add_argument("--max-new-tokens", type=int, default=None,
                     help=f"answer length (default {DEFAULT_MAX_NEW_TOKENS}; --protocol official sets it per family)")
    add_choice(run, "--query", choices=QueryMode, default=QueryMode.LAST,
               help="attention query: the last prompt row (official) or the mean over the question rows")
    add_choice(run, "--attention-prompt", choices=AttentionPrompt, default=AttentionPrompt.OFFICIAL,
               help="prompt the grounding metrics of closed questions are captured on: official (default: the "
                    "official open prompt, one more forward per closed question) or answer (the lettered prompt "
                    "the answer is generated from, no extra forward)")
    run.add_argument("--overlays", type=int, default=8, help="heat-map overlays for the first N samples")
    add_choice(run, "--on-bad", "--on-bad-sample", dest="on_bad_sample", choices=SkipPolicy, default=SkipPolicy.SKIP,
               help="a sample that cannot be evaluated: skip (default: counted in the report by reason), warn "
                    "(skip and print it) or error (stop); --on-bad-sample is the old spelling")
    add_quiet_argument(run)
    run.add_argument("--overwrite", action="store_true",
                     help="start over in an --out folder that holds a run (its run files are removed first)")
    add_choice(run, "--task", choices=Task, default=Task.GROUNDING,
               help="grounding: attention metrics + answers (default); boxes: ask for boxes (sequences or vgmed "
                    "configuration), write predictions.jsonl and score them with the baselines")
    run.add_argument("--method", default="baseline",
                     help="comma-separated, side by side: baseline (default), vgrefine, pai, vcd, adaptvis, blind "
                          "(docs/methods.md); every method but the baseline runs one sample at a time")
    run.add_argument("--method-param", action="append", metavar="NAME.KEY=VALUE",
                     help="an intervention's parameter (repeatable), e.g. pai.alpha=0.5, vcd.noise_step=999, "
                          "adaptvis.threshold=0.3; defaults are the authors' published values")
    from vgmed_data.eval.vgrefine.cli import add_method_arguments

    add_method_arguments(run)
    run.set_defaults(func=_run)
    merge = sub.add_parser("merge", help="merge the rank outputs of a multi-GPU run into the final report")
    merge.add_argument("--out", required=True, help="the run folder the ranks wrote into")
    merge.add_argument("--overlays", type=int, default=8, help="heat-map overlays for the first N samples")
    merge.set_defaults(func=_merge)
    score = sub.add_parser("score", help="score box predictions (JSONL of raw model outputs) against a dataset")
    from vgmed_data.eval.boxes.cli import register_score

    register_score(score)
    tiny = sub.add_parser("tiny", help="build a tiny random-weight checkpoint (tests, demos)")
    tiny.add_argument("family", choices=TINY_FAMILIES, help="model family of the checkpoint")
    tiny.add_argument("--out", required=True, help="checkpoint folder to write")
    tiny.add_argument("--overwrite", action="store_true", help="replace a checkpoint already in --out")
    tiny.set_defaults(func=_tiny)
    from vgmed_data.eval.results.cli import register_publish, register_serve

    register_publish(sub.add_parser("publish", help="append a run's results to a results dataset on the Hub"))
    register_serve(sub.add_parser("serve", help="serve the leaderboard and attention viewer locally"))
    from vgmed_data.eval.vgrefine.cli import register_select

    register_select(sub.add_parser("select", help="choose VGRefine heads and masked layer(s) by grounding metrics"))
