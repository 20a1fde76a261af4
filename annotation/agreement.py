"""``vgmed annotate agreement``: inter-annotator agreement per task and per annotator.

Per pair of annotators on a task:

* **box IoU** with one-to-one matching: the regions' xyxy bounding boxes, IoU set to 0 between different labels,
  matched by maximum total IoU (Hungarian); the score is the sum of matched IoUs divided by the larger region
  count, so an unmatched region counts as 0. Two empty submissions agree (1.0).
* **mask Dice** of the union of each annotator's regions rasterised (rectangles and polygons by the pixel-centre
  rule, brushes as painted); two empty masks agree (1.0).
* **verdict agreement**: same verdict and same "not answerable" flag.

A task's figures are the means over its pairs; tasks with fewer than two annotations have none.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from vgmed_data.geometry import box_iou, mask_dice

from vgmed_data.annotation.pull import ExpertAnnotation, PulledTask
from vgmed_data.annotation.regions import Region


def matched_box_iou(first: Sequence[Region], second: Sequence[Region]) -> float:
    if not first and not second:
        return 1.0
    if not first or not second:
        return 0.0
    iou = box_iou([r.box for r in first], [r.box for r in second])
    same_label = np.array([[a.label == b.label for b in second] for a in first])
    iou = np.where(same_label, iou, 0.0)
    rows, cols = linear_sum_assignment(-iou)
    return float(iou[rows, cols].sum()) / max(len(first), len(second))


def union_mask(regions: Sequence[Region], *, image_size: tuple[int, int]) -> np.ndarray:
    width, height = image_size
    mask = np.zeros((height, width), dtype=bool)
    for region in regions:
        mask |= region.to_mask()
    return mask


def _size(task: PulledTask, annotations: Sequence[ExpertAnnotation]) -> tuple[int, int]:
    for annotation in annotations:
        for region in annotation.regions:
            return region.image_size
    return int(task.data.get("width") or 1), int(task.data.get("height") or 1)


@dataclass(frozen=True, kw_only=True)
class PairAgreement:
    task_id: int
    sample_id: str
    annotator_a: str
    annotator_b: str
    box_iou: float
    mask_dice: float
    verdict_agrees: bool


@dataclass(frozen=True, kw_only=True)
class TaskAgreement:
    task_id: int
    sample_id: str
    annotators: tuple[str, ...]
    verdicts: tuple[str, ...]
    box_iou: float
    mask_dice: float
    verdict_agreement: float  # fraction of agreeing pairs
    pairs: tuple[PairAgreement, ...]

    @property
    def verdicts_differ(self) -> bool:
        return self.verdict_agreement < 1.0


def _verdict_key(annotation: ExpertAnnotation) -> tuple[str | None, bool]:
    return annotation.verdict, annotation.not_answerable


def latest_per_annotator(annotations: Iterable[ExpertAnnotation]) -> list[ExpertAnnotation]:
    """One annotation per annotator (their latest), ordered by annotator."""
    latest: dict[str, ExpertAnnotation] = {}
    for annotation in sorted(annotations, key=lambda a: a.annotation_id):
        latest[annotation.annotator] = annotation
    return [latest[name] for name in sorted(latest)]


def task_agreement(task: PulledTask) -> TaskAgreement | None:
    annotations = latest_per_annotator(task.annotations)
    if len(annotations) < 2:
        return None
    size = _size(task, annotations)
    masks = {a.annotator: union_mask(a.regions, image_size=size) for a in annotations}
    pairs = tuple(
        PairAgreement(task_id=task.task_id, sample_id=task.sample_id, annotator_a=a.annotator,
                      annotator_b=b.annotator, box_iou=matched_box_iou(a.regions, b.regions),
                      mask_dice=mask_dice(masks[a.annotator], masks[b.annotator]),
                      verdict_agrees=_verdict_key(a) == _verdict_key(b))
        for a, b in itertools.combinations(annotations, 2))
    return TaskAgreement(
        task_id=task.task_id, sample_id=task.sample_id, annotators=tuple(a.annotator for a in annotations),
        verdicts=tuple(str(a.verdict) for a in annotations),
        box_iou=float(np.mean([p.box_iou for p in pairs])), mask_dice=float(np.mean([p.mask_dice for p in pairs])),
        verdict_agreement=float(np.mean([p.verdict_agrees for p in pairs])), pairs=pairs)


@dataclass(frozen=True, kw_only=True)
class AnnotatorSummary:
    annotator: str
    tasks: int  # tasks with an annotation of theirs in the current pull
    paired_tasks: int  # of those, tasks with at least one other annotator
    mean_box_iou: float | None  # over their pairs
    mean_mask_dice: float | None
    verdict_agreement: float | None
    mean_lead_time_s: float | None


@dataclass(frozen=True, kw_only=True)
class AgreementReport:
    project: str
    tasks: tuple[TaskAgreement, ...]
    annotators: tuple[AnnotatorSummary, ...]
    single_annotation_tasks: int

    def table(self) -> str:
        lines = [f"{'annotator':32} {'tasks':>6} {'paired':>6} {'box IoU':>8} {'Dice':>6} {'verdict':>8} {'lead s':>7}"]
        for s in self.annotators:
            def fmt(value: float | None, width: int) -> str:
                return f"{value:{width}.3f}" if value is not None else f"{'-':>{width}}"
            lines.append(f"{s.annotator[:32]:32} {s.tasks:6d} {s.paired_tasks:6d} {fmt(s.mean_box_iou, 8)} "
                         f"{fmt(s.mean_mask_dice, 6)} {fmt(s.verdict_agreement, 8)} {fmt(s.mean_lead_time_s, 7)}")
        if self.tasks:
            ious = [t.box_iou for t in self.tasks]
            lines.append(f"{len(self.tasks)} task(s) with 2+ annotators: box IoU mean {np.mean(ious):.3f}, median "
                         f"{np.median(ious):.3f}; verdicts differ on {sum(t.verdicts_differ for t in self.tasks)}")
        lines.append(f"{self.single_annotation_tasks} task(s) with fewer than two annotations")
        return "\n".join(lines)


def project_agreement(project: str, tasks: Iterable[PulledTask]) -> AgreementReport:
    per_task: list[TaskAgreement] = []
    single = 0
    counts: dict[str, int] = defaultdict(int)
    paired: dict[str, int] = defaultdict(int)
    pair_values: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    lead_times: dict[str, list[float]] = defaultdict(list)
    for task in sorted(tasks, key=lambda t: t.task_id):
        for annotation in latest_per_annotator(task.annotations):
            counts[annotation.annotator] += 1
            if annotation.lead_time is not None:
                lead_times[annotation.annotator].append(annotation.lead_time)
        agreement = task_agreement(task)
        if agreement is None:
            single += 1
            continue
        per_task.append(agreement)
        for name in agreement.annotators:
            paired[name] += 1
        for pair in agreement.pairs:
            for name in (pair.annotator_a, pair.annotator_b):
                pair_values[name].append((pair.box_iou, pair.mask_dice, pair.verdict_agrees))

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    summaries = tuple(
        AnnotatorSummary(annotator=name, tasks=counts[name], paired_tasks=paired[name],
                         mean_box_iou=mean([v[0] for v in pair_values[name]]),
                         mean_mask_dice=mean([v[1] for v in pair_values[name]]),
                         verdict_agreement=mean([float(v[2]) for v in pair_values[name]]),
                         mean_lead_time_s=mean(lead_times[name]))
        for name in sorted(counts))
    return AgreementReport(project=project, tasks=tuple(per_task), annotators=summaries,
                           single_annotation_tasks=single)


def write_agreement(report: AgreementReport, *, folder: Path) -> dict[str, Path]:
    """``agreement.json`` (everything), ``tasks.csv`` (one row per task) and ``box_iou.png`` (distribution)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "agreement.json", "csv": folder / "tasks.csv", "png": folder / "box_iou.png"}
    paths["json"].write_text(json.dumps({
        "project": report.project, "single_annotation_tasks": report.single_annotation_tasks,
        "annotators": [asdict(s) for s in report.annotators],
        "tasks": [{**{k: v for k, v in asdict(t).items() if k != "pairs"}, "pairs": [asdict(p) for p in t.pairs]}
                  for t in report.tasks]}, indent=1))
    with open(paths["csv"], "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task_id", "sample_id", "annotators", "verdicts", "box_iou", "mask_dice", "verdict_agreement"])
        for t in report.tasks:
            writer.writerow([t.task_id, t.sample_id, ";".join(t.annotators), ";".join(t.verdicts),
                             f"{t.box_iou:.6f}", f"{t.mask_dice:.6f}", f"{t.verdict_agreement:.6f}"])
    plot_box_iou(report, path=paths["png"])
    return paths


def plot_box_iou(report: AgreementReport, *, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5), dpi=100)
    values = [t.box_iou for t in report.tasks]
    axis.hist(values, bins=np.linspace(0.0, 1.0, 21).tolist(), color="#4363d8", edgecolor="white")
    axis.set_xlabel("task box IoU (mean over annotator pairs, one-to-one matching)")
    axis.set_ylabel("tasks")
    axis.set_title(f"{report.project}: {len(values)} task(s) with 2+ annotators", parse_math=False)
    axis.set_xlim(0, 1)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
