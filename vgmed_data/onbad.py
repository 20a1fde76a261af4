"""``--on-bad``: what a command does with bad input (a source record, a line of an imported file, an evaluated
sample). One vocabulary for every command, as datasets' ``on_bad_files`` ("error" | "warn" | "skip"):

* ``error``: stop at the first bad item with its one-line error (exit status 2).
* ``skip``: count the item in the command's report, under its reason, and go on.
* ``warn``: as ``skip``, and also print one line per skipped item to stderr.

Each command keeps its own default (the builders and importers: ``error``; ``vgmed eval run``: ``skip``, so one
unreadable image does not stop a long evaluation) and says it in its ``--help``.
"""

from __future__ import annotations

import sys
from enum import StrEnum

from vgmed_data.errors import InvalidInputError


class OnBad(StrEnum):
    ERROR = "error"
    WARN = "warn"
    SKIP = "skip"


ON_BAD_CHOICES: tuple[str, ...] = tuple(policy.value for policy in OnBad)


def check_on_bad(value: str) -> OnBad:
    """``value`` as an :class:`OnBad`; an unknown name is a one-line error listing the known ones."""
    if value not in ON_BAD_CHOICES:
        raise InvalidInputError(f"unknown bad-input policy {value!r}", fix=f"use one of: {', '.join(ON_BAD_CHOICES)}")
    return OnBad(value)


def warn_skipped(item: str, *, reason: str, detail: str) -> None:
    """The ``warn`` line for one skipped item (``item`` names it: ``source [record]``, ``sample ID``)."""
    print(f"vgmed: warning: skipped {item}: {reason}: {detail}", file=sys.stderr)
