"""Progress bars for long commands, shown the way ``huggingface_hub`` and ``datasets`` show theirs: tqdm on stderr,
so stdout stays clean for results and pipes.

A bar is drawn only when stderr is a terminal: logs, CI and pipes get no carriage-return noise. ``--quiet`` on
a command (:func:`add_quiet_argument`; ``--no-progress`` is the same switch, every command takes both), ``quiet=True`` in the API, or ``VGMED_DISABLE_PROGRESS_BARS=1`` in the
environment (like ``HF_HUB_DISABLE_PROGRESS_BARS``) turn it off on a terminal too. Used by ``build vgmed``,
``build sequences``, ``sources fetch``, ``hydrate``, ``annotate push``, ``annotate pull``, ``eval run`` and
``eval select``; ``publish`` applies
the same rule to huggingface_hub's upload bars (:func:`hub_progress`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

DISABLE_VARIABLE = "VGMED_DISABLE_PROGRESS_BARS"
T = TypeVar("T")


def progress_enabled(*, quiet: bool = False) -> bool:
    if quiet or os.environ.get(DISABLE_VARIABLE, "").strip().lower() in ("1", "true", "yes"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced stderr
        return False


def progress(iterable: Iterable[T] | None = None, *, desc: str, unit: str, total: int | None = None,
             quiet: bool = False, unit_scale: bool = False) -> Any:
    """A tqdm bar over ``iterable`` (or a manual one with ``total`` and ``update``); a silent pass-through when
    :func:`progress_enabled` says no."""
    from tqdm.std import tqdm

    return tqdm(iterable, desc=desc, unit=unit, total=total, disable=not progress_enabled(quiet=quiet),
                file=sys.stderr, dynamic_ncols=True, unit_scale=unit_scale, unit_divisor=1024 if unit_scale else 1000)


@contextlib.contextmanager
def hub_progress(*, quiet: bool = False) -> Iterator[None]:
    """huggingface_hub's and datasets' own bars (uploads, downloads, dataset preparation) under the same rule:
    off unless :func:`progress_enabled`."""
    if progress_enabled(quiet=quiet):
        yield
        return
    import datasets
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    hub_was_enabled, datasets_was_enabled = not are_progress_bars_disabled(), datasets.is_progress_bar_enabled()
    disable_progress_bars()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if hub_was_enabled:
            enable_progress_bars()
        if datasets_was_enabled:
            datasets.enable_progress_bars()


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", "-q", "--no-progress", dest="quiet", action="store_true",
                        help=f"no progress bar (also off when stderr is not a terminal, or with {DISABLE_VARIABLE}=1; "
                             "--no-progress is the same switch)")
