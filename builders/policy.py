"""What to do with bad input: ``error`` (default), ``warn`` or ``skip`` (the ``--on-bad`` vocabulary of every
command: :mod:`vgmed_data.onbad`).

Under ``warn`` and ``skip`` every skipped item is recorded with its reason in a :class:`SkipLog`, which the
build report lists in full: skips are counted, never silent. ``warn`` also prints each skip to stderr.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from vgmed_data.errors import VgmedError
from vgmed_data.onbad import ON_BAD_CHOICES, OnBad, check_on_bad, warn_skipped

POLICIES = ON_BAD_CHOICES


def check_policy(value: str) -> str:
    return check_on_bad(value).value


@dataclass(frozen=True, kw_only=True)
class Skip:
    source: str
    record: str
    reason: str  # a short category: "missing file", "shape mismatch", "empty mask", ...
    detail: str  # the full error text

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "record": self.record, "reason": self.reason, "detail": self.detail}


@dataclass
class SkipLog:
    """Skips in the order they happened (deterministic: records are processed in a fixed order)."""

    items: list[Skip] = field(default_factory=list)

    def add(self, skip: Skip) -> None:
        self.items.append(skip)

    def extend(self, skips: list[Skip]) -> None:
        self.items.extend(skips)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(f"{s.source}: {s.reason}" for s in self.items).items()))

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.items]


def handle(error: VgmedError, *, policy: str, source: str, record: str, reason: str, log: list[Skip]) -> None:
    """Raise ``error`` under ``error``; otherwise record a skip (and print it under ``warn``)."""
    if policy == OnBad.ERROR:
        raise error
    skip = Skip(source=source, record=record, reason=reason, detail=str(error))
    log.append(skip)
    if policy == OnBad.WARN:
        warn_skipped(f"{source} [{record}]", reason=reason, detail=str(error))
