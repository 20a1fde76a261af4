"""Command-line arguments shared by ``vgmed eval run`` (eval/cli.py) and ``vgmed eval select``
(eval/vgrefine/cli.py), kept below both so neither command module imports the other.

Options that take one choice are parsed into their enum (:mod:`vgmed_data.eval.choices`) by argparse itself
(:func:`choice_type`): the command line is where text becomes the vocabulary, once."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from vgmed_data.eval.choices import Dtype, Protocol

C = TypeVar("C", bound=StrEnum)


def choice_type(choices: type[C]) -> Callable[[str], C]:
    """An argparse ``type=`` that turns the text into a member of ``choices`` (argparse prints the choices
    when it is not one of them)."""

    def convert(text: str) -> C:
        try:
            return choices(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from "
                                             f"{', '.join(choices)})") from None

    convert.__name__ = choices.__name__
    return convert


def add_choice(parser: argparse.ArgumentParser, *flags: str, choices: type[C], default: C, help: str,
               **kwargs: Any) -> None:
    """``flags`` taking one member of ``choices`` (parsed into the enum), ``default`` when not given."""
    parser.add_argument(*flags, type=choice_type(choices), choices=list(choices), default=default, help=help,
                        **kwargs)


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """``--protocol`` and ``--min-pixels`` (``vgmed eval run`` and ``vgmed eval select``)."""
    add_choice(parser, "--protocol", choices=Protocol, default=Protocol.DEFAULT,
               help="default: the project's settings; official: every measurement and VGRefine setting as the "
                    "official VGMED code sets it for the model's family (pixel budgets, answer suffix, generation "
                    "length, percentile 80, boxes clipped; docs/evaluation.md)")
    parser.add_argument("--min-pixels", type=int, default=None,
                        help="Qwen minimum pixel budget (default: the family's, 4*28*28 / 4*32*32; 0: checkpoint's)")


def add_dtype_argument(parser: argparse.ArgumentParser, *, default: Dtype = Dtype.FLOAT32) -> None:
    """``--dtype`` (``vgmed eval run`` and ``vgmed eval select``)."""
    add_choice(parser, "--dtype", choices=Dtype, default=default,
               help=f"model dtype (default {default}; attention is captured in float32 either way)")
