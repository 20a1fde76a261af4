"""``vgmed export lmms-eval`` and ``vgmed export vlmevalkit``: their arguments and what they run.

Registered by name in the format catalogue (:data:`vgmed_data.builders.formats.FORMATS`); the exporters are
imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vgmed_data.errors import InvalidInputError


def register_lmms_eval(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="dataset folder to export")
    parser.add_argument("--out", required=True, type=Path, help="folder for the tasks (lmms-eval --include_path)")
    parser.add_argument("--name", default=None,
                        help="task name, [a-z][a-z0-9_]{0,63} (default: vgmed_<folder name>; sequences: +_sequences)")
    parser.add_argument("--box-format", default="pixel_xyxy",
                        help="box output format of the models to evaluate on sequences (see docs/sequences.md)")
    parser.add_argument("--lmms-model", default=None,
                        help="the lmms-eval --model whose image frame sequences boxes are scored in: stored, "
                             "qwen2_vl, qwen2_5_vl, qwen3_vl (default: the box format's family, else stored; "
                             "docs/evaluation.md)")
    parser.add_argument("--min-pixels", type=int, default=None, help="min_pixels of your lmms-eval --model_args")
    parser.add_argument("--max-pixels", type=int, default=None, help="max_pixels of your lmms-eval --model_args")
    parser.add_argument("--split", default=None, help="split lmms-eval evaluates (default: test, else the first)")
    parser.set_defaults(func=_export_lmms)


def register_vlmevalkit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="dataset folder to export (vgmed configuration)")
    parser.add_argument("--out", required=True, type=Path, help="FILE.tsv (VLMEvalKit reads $LMUData/<name>.tsv)")
    parser.add_argument("--split", default="test", help="split to export (default: test)")
    parser.set_defaults(func=_export_vlmevalkit)


def _existing_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise InvalidInputError("dataset folder not found", path=folder)
    return folder


def _export_lmms(args: argparse.Namespace) -> int:
    from vgmed_data.eval.harness.lmms_eval_export import export_lmms_eval

    written = export_lmms_eval(_existing_folder(args.folder), out=args.out, name=args.name,
                               box_format=args.box_format, split=args.split, lmms_model=args.lmms_model,
                               min_pixels=args.min_pixels, max_pixels=args.max_pixels)
    tasks = ",".join(path.stem for path in written)
    print(f"wrote lmms-eval task(s) {tasks} to {args.out} (run: lmms-eval eval --tasks {tasks} "
          f"--include_path {args.out} ...; the task modules import vgmed_data; simple Qwen models need "
          "interleave_visuals=True in --model_args for labelled multi-image prompts)")
    return 0


def _export_vlmevalkit(args: argparse.Namespace) -> int:
    from vgmed_data.eval.harness.vlmevalkit_export import export_vlmevalkit

    report = export_vlmevalkit(_existing_folder(args.folder), out=args.out, split=args.split)
    print(f"wrote {report.rows} multiple-choice rows to {report.path}")
    for reason, count in sorted(report.not_exported.items()):
        print(f"not exported: {count} row(s): {reason}", file=sys.stderr)
    return 0
