"""The sequence-grounding assembler: cases -> every requested task -> the ``sequences`` configuration + report.

Samples are sorted by id before writing, so the same inputs and settings give the same bytes. The build report
(``build_report_sequences.json``) counts samples per task and source, lists every skip with its reason, and
records the settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vgmed_data.errors import InvalidInputError
from vgmed_data.writer import write_config
from vgmed_data.manifest import Manifest, ManifestSource, toolkit_version, write_manifest
from vgmed_data.staging import new_folder_or_existing
from vgmed_data.progress import progress
from vgmed_data.schema import SequenceSample

from vgmed_data.builders.sequences import (cross_modal, multi_view, non_registered_difference, object_tracking, referring,
                                registered_difference, visual_concept, visual_patch)
from vgmed_data.builders.policy import Skip
from vgmed_data.builders.sequences.common import Settings, TaskLog
from vgmed_data.builders.sequences.inputs import Case

Generator = Callable[..., Iterator[SequenceSample]]

TASKS: dict[str, Generator] = {
    registered_difference.TASK: registered_difference.generate,
    non_registered_difference.TASK: non_registered_difference.generate,
    multi_view.TASK: multi_view.generate,
    object_tracking.TASK: object_tracking.generate,
    visual_concept.TASK: visual_concept.generate,
    visual_patch.TASK: visual_patch.generate,
    cross_modal.TASK: cross_modal.generate,
    referring.TASK: referring.generate,
}
REPORT_NAME = "build_report_sequences.json"


def check_tasks(names: Iterable[str] | None) -> list[str]:
    chosen = list(TASKS) if not names else list(names)
    unknown = [n for n in chosen if n not in TASKS]
    if unknown:
        raise InvalidInputError(f"unknown task(s) {', '.join(unknown)}", fix=f"use any of: {', '.join(TASKS)}")
    return chosen


def generate_samples(cases: Sequence[Case], *, settings: Settings, tasks: Iterable[str] | None = None,
                     quiet: bool = False) -> tuple[list[SequenceSample], dict[str, TaskLog]]:
    """All samples of the requested tasks (sorted by id) and each task's log."""
    logs: dict[str, TaskLog] = {}
    samples: list[SequenceSample] = []
    for name in progress(check_tasks(tasks), desc="build sequences", unit="task", quiet=quiet):
        logs[name] = TaskLog()
        samples.extend(TASKS[name](cases, settings=settings, log=logs[name]))
    samples.sort(key=lambda s: s.id)
    return samples, logs


def report(samples: Sequence[SequenceSample], logs: dict[str, TaskLog], *, settings: Settings,
           load_skips: Sequence[Skip] = ()) -> dict[str, Any]:
    splits: dict[str, int] = {}
    for sample in samples:
        splits[sample.provenance.split] = splits.get(sample.provenance.split, 0) + 1
    return {
        "settings": asdict(settings),
        "samples": len(samples),
        "splits": dict(sorted(splits.items())),
        "per_task": {name: {"per_source": dict(sorted(log.made.items())), "made": sum(log.made.values()),
                            "skipped": len(log.skipped)} for name, log in logs.items()},
        "skips": {"loading": [skip.to_dict() for skip in load_skips],
                  **{name: [skip.to_dict() for skip in log.skipped] for name, log in logs.items()}},
    }


def build_sequences(cases: Sequence[Case], out: str | os.PathLike[str], *, settings: Settings,
                    tasks: Iterable[str] | None = None, load_skips: Sequence[Skip] = (),
                    quiet: bool = False, sources: Sequence[ManifestSource] = ()) -> dict[str, Any]:
    """Write the ``sequences`` configuration, its report and ``manifest.json`` (``sources``: what the card
    names and cites)."""
    samples, logs = generate_samples(cases, settings=settings, tasks=tasks, quiet=quiet)
    if not samples:
        raise InvalidInputError("no sequence sample could be made from these sources",
                                fix="check the sources have label masks; see the skips with --report")
    summary = report(samples, logs, settings=settings, load_skips=load_skips)
    with new_folder_or_existing(Path(out), what="dataset folder") as folder:  # appears with report + manifest
        write_config(folder, samples, config="sequences")
        (folder / REPORT_NAME).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        write_manifest(folder, Manifest(command="build sequences", version=toolkit_version(), seed=settings.seed,
                                        options={**asdict(settings), "tasks": check_tasks(tasks)},
                                        sources=tuple(sources)))
    return summary
