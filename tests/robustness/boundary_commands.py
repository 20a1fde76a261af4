"""Commands registered only by tests/robustness/test_boundary.py, through the CLI's own command table, to
exercise the error boundary with failures no real input reaches any more."""

from __future__ import annotations

import argparse
import warnings


def register_bug(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(func=_bug)


def _bug(args: argparse.Namespace) -> int:
    return {}["a key that is not there"]  # a programming error: a KeyError escapes


def register_disk(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(func=_disk)


def _disk(args: argparse.Namespace) -> int:
    raise OSError(28, "No space left on device", "/data/out/shard.parquet")


def register_full(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(func=_full)


def _full(args: argparse.Namespace) -> int:
    raise OSError(28, "No space left on device")  # what a write() on a full disk raises: no file named


def register_warning(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(func=_warning)


def _warning(args: argparse.Namespace) -> int:
    warnings.warn("a library speaking\nover two lines", UserWarning, stacklevel=1)
    return 0
