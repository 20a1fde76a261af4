"""What to do with bad input: ``error`` (default), ``warn`` or ``skip`` (the ``--on-bad`` vocabulary of every
command: :mod:`vgmed_data.onbad`).

Under ``warn`` and ``skip`` every skipped item is recorded as a :class:`Skip` with its reason, which both builders'
reports list in full: skips are counted, never silent. ``warn`` also prints each skip to stderr. Records a
builder drops by its own rule (a sequence task that finds no structure in a case) are :class:`Skip` records too,
without an error text.
"""

from __future__ import annotations

from dataclasses import dataclass

from vgmed_data.errors import SkipReason, VgmedError
from vgmed_data.onbad import ON_BAD_CHOICES, OnBad, check_on_bad, warn_skipped

POLICIES = ON_BAD_CHOICES


def check_policy(value: str) -> str:
    return check_on_bad(value).value


@dataclass(frozen=True, kw_only=True)
class Skip:
    source: str
    record: str
    reason: str  # a short category: "missing file", "shape mismatch", "empty mask", ...
    detail: str | None = None  # the full error text (None: dropped by a builder's rule, not an error)

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "record": self.record, "reason": self.reason,
                **({} if self.detail is None else {"detail": self.detail})}


def skip_reason(error: VgmedError, *, other: str | None = None) -> str:
    """The category a bad record is counted under: the ``reason`` its error was raised with (a
    :class:`~vgmed_data.errors.SkipReason` set where it is raised, else the class's default: "missing file",
    "corrupt file", or the class name); never read from the message text. With ``other`` (the readers' listing
    skips), only "missing file" and "label not in map" keep their category and every other error counts as
    ``other``."""
    if other is None or error.reason in (SkipReason.MISSING_FILE, SkipReason.LABEL_NOT_IN_MAP):
        return error.reason
    return other


def handle(error: VgmedError, *, policy: str, source: str, record: str, reason: str, log: list[Skip]) -> None:
    """Raise ``error`` under ``error``; otherwise record a skip (and print it under ``warn``)."""
    if policy == OnBad.ERROR:
        raise error
    skip = Skip(source=source, record=record, reason=reason, detail=str(error))
    log.append(skip)
    if policy == OnBad.WARN:
        warn_skipped(f"{source} [{record}]", reason=reason, detail=str(error))
