"""The progress bar of a run, on stderr (tqdm; off with ``--no-progress``)."""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(total: int, *, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="sample", disable=not enabled, file=sys.stderr, dynamic_ncols=True,
                desc="vgmed eval")
