"""Score a predictions file against a dataset, with the baselines beside the model, and print the table."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vgmed_data.eval.boxes.baselines import MeanBox, full_image
from vgmed_data.eval.boxes.dataset import available_splits, iter_targets, read_predictions
from vgmed_data.eval.boxes.formats import get_format
from vgmed_data.eval.boxes.scoring import SampleScore, check_unique, missing, score_output, summarise_by_task
from vgmed_data.errors import InvalidInputError
from vgmed_data.staging import staged_file, staged_folder

FIT_SPLIT_ORDER = ("train", "validation", "test")


@dataclass
class ScoreReport:
    format: str
    split: str
    samples: list[SampleScore]
    summary: dict[str, dict[str, dict[str, Any]]]  # system -> task -> metrics
    baseline_notes: dict[str, str] = field(default_factory=dict)
    missing: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "split": self.split, "missing_predictions": self.missing,
                "summary": self.summary, "baseline_notes": self.baseline_notes}


def score_predictions(dataset: str | os.PathLike[str], predictions: str | os.PathLike[str], *, fmt: str,
                      config: str = "sequences", split: str = "test", baseline_split: str | None = None,
                      min_pixels: int | None = None, max_pixels: int | None = None) -> ScoreReport:
    output_format = get_format(fmt)
    if min_pixels is not None or max_pixels is not None:
        from dataclasses import replace
        output_format = replace(output_format,
                                policy=output_format.policy.with_pixels(min_pixels=min_pixels, max_pixels=max_pixels))
    splits = available_splits(dataset, config=config)
    if split not in splits:
        raise InvalidInputError(f"split {split!r} is not in the {config} configuration (found: {', '.join(splits)})",
                                path=dataset, fix="pass --split with one of the splits found")
    targets = check_unique(list(iter_targets(dataset, config=config, split=split)))
    preds = read_predictions(predictions)
    unknown = sorted(set(preds) - set(targets))
    if unknown:
        raise InvalidInputError(f"{len(unknown)} prediction ids are not in split {split!r} (first: {unknown[0]!r})",
                                path=predictions, fix="score against the dataset and split the predictions came from")
    samples: list[SampleScore] = []
    for sample_id, target in targets.items():
        pred = preds.get(sample_id)
        samples.append(missing(target) if pred is None
                       else score_output(target, pred.output, fmt=output_format, transforms=pred.transforms))
    summary = {"model": summarise_by_task(samples),
               "full_image": summarise_by_task(full_image(t) for t in targets.values())}
    notes = {"full_image": "whole image; names the last image on multi-image samples"}
    fit = baseline_split or next((s for s in FIT_SPLIT_ORDER if s in splits and s != split), None)
    if fit is None:
        notes["mean_box"] = f"unavailable: no split other than {split!r} to fit it on"
    else:
        mean = MeanBox.fit(list(iter_targets(dataset, config=config, split=fit)), split=fit, scored_split=split)
        summary["mean_box"] = summarise_by_task(mean.predict(t) for t in targets.values())
        notes["mean_box"] = f"fitted on split {fit!r} ({mean.n} samples)"
    return ScoreReport(fmt, split, samples, summary, notes, sum(s.mode == "missing" for s in samples))


def format_table(report: ScoreReport) -> str:
    """Plain-text table: one block per task, one row per system, metrics in percent."""
    columns = ("n", "miou", "acc@0.3", "acc@0.5", "acc@0.7", "image_acc", "image_and_iou50")
    header = f"{'task':<26} {'system':<11} " + " ".join(f"{c:>15}" for c in columns)
    lines = [f"format {report.format}, split {report.split}, missing predictions {report.missing}", header]
    tasks = list(report.summary["model"])
    for task in tasks:
        for system, by_task in report.summary.items():
            metrics = by_task.get(task, {})
            cells = []
            for column in columns:
                value = metrics.get(column)
                cells.append(f"{value:>15}" if column == "n" else
                             f"{'-':>15}" if value is None else f"{100 * value:>15.2f}")
            lines.append(f"{task:<26} {system:<11} " + " ".join(cells))
    lines += [f"{name}: {note}" for name, note in report.baseline_notes.items()]
    return "\n".join(lines)


def write_report(report: ScoreReport, out: str | os.PathLike[str]) -> Path:
    """``scores.jsonl`` and ``summary.json`` in ``out``; a new folder appears only once both are written."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError("--out is a file", path=folder, fix="pass a folder for scores.jsonl and summary.json")
    new = contextlib.nullcontext(folder) if folder.exists() else staged_folder(folder, what="score folder")
    with new as target:
        with staged_file(target / "scores.jsonl") as staged, open(staged, "w", encoding="utf-8") as handle:
            for sample in report.samples:
                handle.write(json.dumps(sample.to_dict(), sort_keys=True) + "\n")
        with staged_file(target / "summary.json") as staged:
            staged.write_text(json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n")
    return folder
