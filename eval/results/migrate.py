"""Upgrading a results dataset written in an older results format, so old and new runs load together.

Format version 2 added two ``runs`` columns, ``protocol`` and ``box_mapping`` (version 1:
``git show abe08fc:eval/results/schema.py``); version 3 added the methods comparison columns (``accuracy_ci95``,
``difference_vs_baseline``, ``difference_ci95``, ``answers_changed``, ``n_compared``, ``bootstrap_resamples``,
``bootstrap_seed``: null for older runs, which compared nothing); ``samples`` did not change. ``load_dataset(repo, "runs")`` reads every
``data/runs/*.parquet`` as one table and refuses files whose schemas differ, so a version-2 run appended beside
version-1 files would make the whole dataset unreadable. :func:`upgraded_runs_files` rewrites the old ``runs``
files with the values those runs mean (what :func:`vgmed_data.eval.results.collect.collect_run` gives an old run
folder): ``protocol="default"``, ``box_mapping="input_scale"``. The publisher adds the rewritten files and the
version-2 card to the same commit as the new run (see :mod:`vgmed_data.eval.results.publish`).

Detection: the card's recorded version (``results format version N``) says whether to look at all; a card at the
current version costs one small download. Otherwise each ``runs`` file's Parquet schema decides: only files
missing a column are rewritten (a file already complete is left as it is).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from vgmed_data.eval.results.schema import FORMAT_VERSION, RUN_FEATURES, RUNS

# What a run written before each column existed means (collect.py reads old run folders the same way).
OLD_RUN_VALUES = {"protocol": "default", "box_mapping": "input_scale",
                  # version 3: the methods comparison (runs before it compared nothing: null)
                  "accuracy_ci95": None, "difference_vs_baseline": None, "difference_ci95": None,
                  "answers_changed": None, "n_compared": None, "bootstrap_resamples": None, "bootstrap_seed": None}
_CARD_VERSION = re.compile(r"results format version (\d+)")


@dataclass(frozen=True)
class Migration:
    """Rewritten ``runs`` files (path in the dataset -> local file) and the card's version before."""

    files: dict[str, Path]
    from_version: int | None

    def describe(self, target: str) -> str:
        """The one line the CLI prints ("" when nothing was migrated)."""
        if not self.files:
            return ""
        before = "an older" if self.from_version is None else f"version {self.from_version}"
        filled = ", ".join(f"{k}={v!r}" for k, v in OLD_RUN_VALUES.items() if v is not None)
        return (f"migrated {target} from results format {before} to {FORMAT_VERSION}: {len(self.files)} runs "
                f"file(s) rewritten with {filled} and null methods comparison columns")


def card_format_version(card: str) -> int | None:
    """The results format version a results card records (None: not a vgmed results card, or no version)."""
    match = _CARD_VERSION.search(card)
    return int(match.group(1)) if match else None


def is_runs_file(path: str) -> bool:
    return path.startswith(f"data/{RUNS}/") and path.endswith(".parquet")


def upgrade_runs_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> bool:
    """Write ``source`` with the current ``runs`` features to ``target``; False (nothing written) when the file
    already has every column. Only the missing columns are filled (:data:`OLD_RUN_VALUES`); the rest is kept."""
    import pyarrow.parquet as pq
    from datasets import Dataset

    missing = [name for name in RUN_FEATURES if name not in pq.read_schema(source).names]
    if not missing:
        return False
    unknown = [name for name in missing if name not in OLD_RUN_VALUES]
    if unknown:  # not a column this module knows how to fill: refuse rather than guess
        from vgmed_data.errors import InvalidInputError

        raise InvalidInputError(f"runs file lacks {', '.join(unknown)}, which no older results format omitted",
                                path=Path(source), fix="republish the run with `vgmed eval publish`")
    rows = pq.read_table(source).to_pylist()
    for row in rows:
        row.update({name: OLD_RUN_VALUES[name] for name in missing})
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows, features=RUN_FEATURES).to_parquet(str(target))
    return True


def upgraded_runs_files(paths: Iterable[str], *, card: str | None, fetch: Callable[[str], Path],
                        staging: Path) -> Migration:
    """The ``runs`` files among ``paths`` (dataset paths) that need the current format, rewritten under
    ``staging``. ``card`` is the current card text (None: no card); ``fetch(path)`` gives a local copy."""
    version = None if card is None else card_format_version(card)
    if version is not None and version >= FORMAT_VERSION:
        return Migration(files={}, from_version=version)
    files = {}
    for path in sorted(p for p in paths if is_runs_file(p)):
        target = staging / "migrated" / path
        if upgrade_runs_file(fetch(path), target):
            files[path] = target
    return Migration(files=files, from_version=version)
