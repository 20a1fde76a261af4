"""The progress bar of a run: the one rule of :mod:`vgmed_data.progress` (stderr, only on a terminal, off with
``--quiet``/``--no-progress`` or ``VGMED_DISABLE_PROGRESS_BARS=1``)."""

from __future__ import annotations

from typing import Any

from vgmed_data.progress import progress


def progress_bar(total: int, *, enabled: bool) -> Any:
    return progress(total=total, desc="vgmed eval", unit="sample", quiet=not enabled)
