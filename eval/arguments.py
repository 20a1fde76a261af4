"""Command-line arguments shared by ``vgmed eval run`` (eval/cli.py) and ``vgmed eval select``
(eval/vgrefine/cli.py), kept below both so neither command module imports the other."""

from __future__ import annotations

import argparse


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """``--protocol`` and ``--min-pixels`` (``vgmed eval run`` and ``vgmed eval select``)."""
    from vgmed_data.eval.protocol import Protocol

    parser.add_argument("--protocol", default=Protocol.DEFAULT.value, choices=[p.value for p in Protocol],
                        help="default: the project's settings; official: every measurement and VGRefine setting as "
                             "the official VGMED code sets it for the model's family (pixel budgets, answer suffix, "
                             "generation length, percentile 80, boxes clipped; docs/evaluation.md)")
    parser.add_argument("--min-pixels", type=int, default=None,
                        help="Qwen minimum pixel budget (default: the family's, 4*28*28 / 4*32*32; 0: checkpoint's)")
