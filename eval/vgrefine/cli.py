"""``vgmed eval select`` and the VGRefine flags of ``vgmed eval run``. torch is imported only when a command
runs (``vgmed --help`` stays light)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vgmed_data.eval.vgrefine.options import DEFAULT_PERCENTILE, OFFICIAL_PERCENTILE, ROWS, VGRefineOptions
from vgmed_data.errors import InvalidInputError
from vgmed_data.jsonl import read_json_file

PRESET_PREFIX = "preset:"


def _select(args: argparse.Namespace) -> int:
    from vgmed_data.eval.choices import Protocol
    from vgmed_data.eval.config import EvalConfig
    from vgmed_data.eval.vgrefine.select import select_heads

    out = Path(args.out)
    work = Path(args.work) if args.work else out.with_name(out.stem + "-run")
    cfg = EvalConfig(model=args.model, dataset=args.dataset, out=work, config=args.config, split=args.split,
                     limit=args.limit, batch_size=args.batch_size, dtype=args.dtype, device=args.device,
                     max_pixels=args.max_pixels, min_pixels=args.min_pixels, protocol=args.protocol,
                     max_new_tokens=1, progress=not args.quiet, overwrite=args.overwrite,
                     # the official measurement scripts generate nothing (and its answers would be 64 tokens on
                     # the checkpoint's processor); default runs keep their 1-token answers (and fingerprint)
                     answers=args.protocol is not Protocol.OFFICIAL)
    chosen = select_heads(cfg, k=args.k, layer_metric=args.layer_metric, masked_layers=args.num_masked_layers)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(chosen, indent=2) + "\n")
    print(f"{len(chosen['heads'])} heads, masked layer(s) {chosen['masked_layers']} from {chosen['samples']} "
          f"samples -> {out}")
    return 0


def register_select(parser: argparse.ArgumentParser) -> None:
    from vgmed_data.eval.arguments import add_dtype_argument, add_protocol_arguments
    from vgmed_data.eval.metrics import HEAD_METRICS
    from vgmed_data.progress import add_quiet_argument

    parser.description = ("Rank heads by KL on a grounding dataset you choose (the paper used natural images, to "
                          "keep medical test data out of the method) and write the top-K heads and the masked "
                          "layer(s) with the figures that chose them.")
    parser.add_argument("--model", required=True, help="checkpoint folder or Hub id")
    parser.add_argument("--dataset", required=True, help="dataset folder or Hub id in our schema (boxes needed)")
    parser.add_argument("--out", required=True, help="heads.json to write")
    parser.add_argument("--work", default=None, help="evaluator output folder (default: <out>-run/; resumable)")
    parser.add_argument("--config", default="vgmed", help="dataset configuration (default: vgmed)")
    parser.add_argument("--split", default="validation",
                        help="split to rank heads on (default: validation; never the split you report on, "
                             "docs/vgrefine.md)")
    parser.add_argument("--limit", type=int, default=None, help="first N rows of the split (default: all)")
    parser.add_argument("--k", type=int, default=20, help="number of triage heads (paper: 20)")
    parser.add_argument("--layer-metric", default="kl", choices=HEAD_METRICS,
                        help="layer metric that chooses the masked layer(s) (default: kl)")
    parser.add_argument("--num-masked-layers", type=int, default=1, help="how many masked layers (default: 1)")
    parser.add_argument("--batch-size", type=int, default=1, help="samples per forward pass (default: 1)")
    add_dtype_argument(parser)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help="Qwen pixel budget (default: the family's; 0: the checkpoint's)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start the work folder's run over when it holds a run with other settings")
    add_protocol_arguments(parser)
    add_quiet_argument(parser)
    parser.set_defaults(func=_select)


def add_method_arguments(parser: argparse.ArgumentParser) -> None:
    """The VGRefine flags of ``vgmed eval run`` (used with ``--method vgrefine`` or ``baseline,vgrefine``)."""
    parser.add_argument("--heads", default=None,
                        help="heads.json from `vgmed eval select`, or a preset name (huatuogpt-vision-7b; "
                             "also written preset:NAME)")
    parser.add_argument("--masked-layers", default=None, help="override the masked layers, e.g. '16' or '15,16'")
    parser.add_argument("--percentile", type=float, default=None,
                        help=f"blocked = under this percentile (default {DEFAULT_PERCENTILE:g}, paper; "
                             f"{OFFICIAL_PERCENTILE:g} = official code)")
    parser.add_argument("--threshold", type=float, default=None, help="min-max threshold t instead of a percentile")
    parser.add_argument("--no-normalise", action="store_true", help="triage on raw maps (no general prompt)")
    parser.add_argument("--vgrefine-rows", default=None, choices=ROWS,
                        help="triage rows: last prompt row (official) or mean over the question rows")


def options_from_args(args: argparse.Namespace) -> VGRefineOptions:
    """:class:`VGRefineOptions` from the flags of :func:`add_method_arguments`."""
    if not getattr(args, "heads", None):
        raise InvalidInputError("--method vgrefine needs --heads",
                                fix="pass a heads.json from `vgmed eval select` or preset:huatuogpt-vision-7b")
    masked = None
    if args.masked_layers:
        try:
            masked = tuple(int(v) for v in args.masked_layers.split(","))
        except ValueError:
            raise InvalidInputError(f"cannot read masked layers {args.masked_layers!r}", fix="use '16' or '15,16'") \
                from None
    overrides = {"masked_layers": masked, "percentile": args.percentile, "threshold": args.threshold,
                 "normalise": False if args.no_normalise else None, "rows": args.vgrefine_rows}
    return load_heads(args.heads, **overrides)


def preset_name(heads: str) -> str | None:
    """The preset a ``--heads`` value names (``NAME`` or ``preset:NAME``; a file of that name wins), else None."""
    from vgmed_data.eval.vgrefine.presets import PRESETS

    name = heads.removeprefix(PRESET_PREFIX)
    return name if heads.startswith(PRESET_PREFIX) or (name in PRESETS and not Path(heads).exists()) else None


def load_heads(heads: str, **overrides: object) -> VGRefineOptions:
    """:class:`VGRefineOptions` from a ``--heads`` value: a preset, or a heads.json from `vgmed eval select`."""
    from vgmed_data.eval.vgrefine.presets import PRESETS, preset

    name = preset_name(heads)
    if name is not None:
        return preset(name, **overrides)
    path = Path(heads)
    if not path.exists():
        raise InvalidInputError(f"heads file not found and {heads!r} is not a preset", path=path,
                                fix=f"run `vgmed eval select --out heads.json`, or use a preset: "
                                    f"{', '.join(sorted(PRESETS))}")
    data = read_json_file(path, what="heads file", fix="pass the file `vgmed eval select --out heads.json` wrote")
    if not isinstance(data, dict) or not data.get("heads"):
        raise InvalidInputError("not a heads.json: expected an object with a non-empty 'heads' list", path=path,
                                fix="pass the file `vgmed eval select --out heads.json` wrote")
    return VGRefineOptions.from_dict(data, **overrides)
