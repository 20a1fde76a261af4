"""``vgmed annotate adjudicate``: tasks whose experts disagree go to an adjudication project.

A task needs adjudication when its box IoU is under the threshold or its verdicts differ. The adjudication
project has the same interface; each annotator's regions come in as one prediction (``model_version`` = the
annotator), and the task context lists every verdict, correction and comment. Pulling the adjudication project
(``vgmed annotate pull --project NAME-adjudication``) records the adjudicator's decision, which finalize uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vgmed_data.annotation.agreement import TaskAgreement, latest_per_annotator, project_agreement
from vgmed_data.annotation.client import Connection
from vgmed_data.annotation.defaults import DEFAULT_BATCH, DEFAULT_THRESHOLD
from vgmed_data.annotation.pull import PulledTask, current_tasks
from vgmed_data.annotation.push import PushReport, media_folder, push_specs
from vgmed_data.annotation.regions import region_to_result
from vgmed_data.annotation.state import State
from vgmed_data.annotation.tasks import TaskSpec


def adjudication_name(project: str) -> str:
    return f"{project}-adjudication"


def needs_adjudication(agreement: TaskAgreement, *, threshold: float) -> bool:
    return agreement.box_iou < threshold or agreement.verdicts_differ


def select_tasks(tasks: dict[int, PulledTask], *, project: str, threshold: float) -> list[TaskAgreement]:
    report = project_agreement(project, tasks.values())
    return [t for t in report.tasks if needs_adjudication(t, threshold=threshold)]


def _annotator_notes(task: PulledTask) -> str:
    lines = []
    for annotation in latest_per_annotator(task.annotations):
        parts = [f"{annotation.annotator}: {annotation.verdict or 'no verdict'}"]
        if annotation.not_answerable:
            parts.append("not answerable")
        if annotation.corrected_question:
            parts.append(f"question -> {annotation.corrected_question!r}")
        if annotation.corrected_answer:
            parts.append(f"answer -> {annotation.corrected_answer!r}")
        if annotation.comment:
            parts.append(f"comment: {annotation.comment}")
        lines.append("; ".join(parts))
    return "\n".join(lines)


def adjudication_spec(task: PulledTask, *, image_folder: Path, agreement: TaskAgreement) -> TaskSpec:
    image_file = str(task.data.get("image", "")).rsplit("/", 1)[-1]
    predictions: list[dict[str, Any]] = []
    for annotation in latest_per_annotator(task.annotations):
        results = [region_to_result(r, result_id=f"a{annotation.annotation_id}-{i}")
                   for i, r in enumerate(annotation.regions)]
        predictions.append({"model_version": annotation.annotator, "score": agreement.box_iou, "result": results})
    context = (f"{task.data.get('context', '')}\n\nAdjudication: box IoU {agreement.box_iou:.3f}, mask Dice "
               f"{agreement.mask_dice:.3f}, verdict agreement {agreement.verdict_agreement:.2f}\n"
               + _annotator_notes(task))
    data = {k: v for k, v in task.data.items() if k != "image"}
    data.update({"context": context, "review_task_id": task.task_id})
    return TaskSpec(sample_id=task.sample_id, image_bytes=(image_folder / image_file).read_bytes(),
                    image_file=image_file, data=data, predictions=predictions)


def adjudicate(connection: Connection, state: State, *, project: str, threshold: float = DEFAULT_THRESHOLD,
               target: str | None = None, batch_size: int = DEFAULT_BATCH) -> tuple[PushReport, list[TaskAgreement]]:
    """Push the disagreeing tasks of ``project`` (as of its latest pull) into the adjudication project."""
    record = state.require_project(project)
    tasks = current_tasks(state, project)
    selected = select_tasks(tasks, project=project, threshold=threshold)
    image_folder, _ = media_folder(connection, project)

    def specs() -> Iterator[TaskSpec]:
        for agreement in selected:
            yield adjudication_spec(tasks[agreement.task_id], image_folder=image_folder, agreement=agreement)

    name = target or adjudication_name(project)
    report = push_specs(connection, state, specs=specs(), project=name, dataset=record.dataset,
                        labels=record.labels, kind="adjudication", parent=project, annotators_per_task=1,
                        batch_size=batch_size)
    return report, selected

