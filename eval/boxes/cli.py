"""``vgmed eval score``: score box predictions made anywhere (API models included) against a dataset folder."""

from __future__ import annotations

import argparse


def register_score(parser: argparse.ArgumentParser) -> None:
    from vgmed_data.eval.boxes.formats import OutputFormatName

    parser.add_argument("--dataset", required=True, help="dataset folder (sequences or vgmed configuration)")
    parser.add_argument("--predictions", required=True,
                        help='JSONL, one {"id": ..., "output": "<raw model text>"} per line')
    parser.add_argument("--format", required=True, choices=sorted(f.value for f in OutputFormatName),
                        help="the box output format the model speaks (see docs/sequences.md)")
    parser.add_argument("--config", default="sequences", choices=("sequences", "vgmed"),
                        help="dataset configuration the predictions answer")
    parser.add_argument("--split", default="test", help="split to score (default: test)")
    parser.add_argument("--baseline-split", default=None,
                        help="split the mean-box baseline is fitted on (default: train, else validation)")
    parser.add_argument("--min-pixels", type=int, default=None, help="the model processor's min_pixels (Qwen)")
    parser.add_argument("--max-pixels", type=int, default=None, help="the model processor's max_pixels (Qwen)")
    parser.add_argument("--out", default=None, help="folder for scores.jsonl and summary.json")
    parser.set_defaults(func=run_score)


def run_score(args: argparse.Namespace) -> int:
    from vgmed_data.eval.boxes.report import format_table, score_predictions, write_report

    report = score_predictions(args.dataset, args.predictions, fmt=args.format, config=args.config,
                               split=args.split, baseline_split=args.baseline_split, min_pixels=args.min_pixels,
                               max_pixels=args.max_pixels)
    print(format_table(report))
    if args.out:
        print(f"wrote {write_report(report, args.out)}")
    return 0
