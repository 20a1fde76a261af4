"""``vgmed annotate pull``: the full JSON export -> every annotator's regions in the internal pixel frame,
verdicts, corrections, who and when. Incremental and append-only.

Incremental: the task list (task fields only) gives each task's ``updated_at`` and annotation counts, which change
whenever an annotation is created, updated, skipped or deleted; only tasks whose fingerprint differs from the last
pull are exported (``ids[]`` filter of the full JSON export, in chunks). Append-only: pull N writes
``WORKSPACE/pulls/<project>/pull-NNNN.jsonl`` (one line per changed task, with all its current annotations) and
``pull-NNNN.report.json``, created exclusively, never overwritten. The current view of a project is the latest
line of each task over all pulls (:func:`current_tasks`).

Results that cannot be converted are counted per reason in the report, never silently dropped: a region without
its original size, a label not in the configuration, an image rotated in the interface; an empty submission
(no region and no verdict) and a skipped task are counted too and leave out that annotation.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vgmed_data.jsonl import json_lines
from vgmed_data.progress import progress

from vgmed_data.annotation import config
from vgmed_data.annotation.client import Connection, as_dict, remote_call, sdk_client
from vgmed_data.annotation.regions import Region, ResultSkipped, region_from_result
from vgmed_data.annotation.state import ProjectRecord, State

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

EXPORT_CHUNK = 200  # task ids per export request (keeps URLs short)
_TEXT_CONTROLS = {config.CORRECTED_QUESTION: "corrected_question", config.CORRECTED_ANSWER: "corrected_answer",
                  config.COMMENT: "comment"}


@dataclass(frozen=True, kw_only=True)
class ExpertAnnotation:
    """One annotator's submission for one task, converted to the internal frame."""

    task_id: int
    annotation_id: int
    sample_id: str
    annotator: str  # e-mail (or "user <id>" when the user is unknown)
    annotator_id: int
    created_at: str
    updated_at: str
    lead_time: float | None
    verdict: str | None
    not_answerable: bool
    corrected_question: str = ""
    corrected_answer: str = ""
    comment: str = ""
    regions: tuple[Region, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "annotation_id": self.annotation_id, "sample_id": self.sample_id,
                "annotator": self.annotator, "annotator_id": self.annotator_id, "created_at": self.created_at,
                "updated_at": self.updated_at, "lead_time": self.lead_time, "verdict": self.verdict,
                "not_answerable": self.not_answerable, "corrected_question": self.corrected_question,
                "corrected_answer": self.corrected_answer, "comment": self.comment,
                "regions": [r.to_json() for r in self.regions]}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> "ExpertAnnotation":
        values = dict(payload)
        values["regions"] = tuple(Region.from_json(r) for r in payload.get("regions", ()))
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class PulledTask:
    task_id: int
    sample_id: str
    fingerprint: str
    data: dict[str, Any]
    annotations: tuple[ExpertAnnotation, ...]

    def to_json(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "sample_id": self.sample_id, "fingerprint": self.fingerprint,
                "data": self.data, "annotations": [a.to_json() for a in self.annotations]}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> "PulledTask":
        return cls(task_id=int(payload["task_id"]), sample_id=payload["sample_id"],
                   fingerprint=payload["fingerprint"], data=dict(payload.get("data") or {}),
                   annotations=tuple(ExpertAnnotation.from_json(a) for a in payload["annotations"]))


@dataclass
class PullReport:
    project: str
    number: int | None = None  # None when nothing changed (no file written)
    path: Path | None = None
    tasks_on_server: int = 0
    tasks_changed: int = 0
    annotations: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count (annotations or regions)
    examples: list[str] = field(default_factory=list)  # first few "task T annotation A: reason" lines

    def skip(self, reason: str, where: str, message: str) -> None:
        self.skipped[reason] += 1
        if len(self.examples) < 20:
            self.examples.append(f"{where}: {message}")

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "number": self.number, "path": None if self.path is None else str(self.path),
                "tasks_on_server": self.tasks_on_server, "tasks_changed": self.tasks_changed,
                "annotations": self.annotations, "skipped": dict(self.skipped), "examples": self.examples}

    def lines(self) -> list[str]:
        if self.number is None:
            return [f"project {self.project!r}: nothing changed since the last pull ({self.tasks_on_server} tasks)"]
        text = [f"project {self.project!r}: pull {self.number} stored {self.tasks_changed} changed task(s) of "
                f"{self.tasks_on_server}, {self.annotations} annotation(s) -> {self.path}"]
        if self.skipped:
            text.append("skipped: " + ", ".join(f"{reason} {count}" for reason, count in sorted(self.skipped.items())))
            text.extend(f"  {line}" for line in self.examples[:5])
        return text


def _fingerprint(task: Mapping[str, Any]) -> str:
    return f"{task.get('updated_at')}|{task.get('total_annotations')}|{task.get('cancelled_annotations')}"


def task_fingerprints(client: "LabelStudio", *, project_id: int, url: str) -> dict[int, str]:
    with remote_call(url=url, action=f"list tasks of project {project_id}"):
        return {int(as_dict(t)["id"]): _fingerprint(as_dict(t))
                for t in client.tasks.list(project=project_id, fields="task_only", page_size=1000)}


def export_tasks(client: "LabelStudio", *, project_id: int, task_ids: Sequence[int] | None, url: str
                 ) -> list[dict[str, Any]]:
    """Full JSON export of the given tasks (all tasks when ``task_ids`` is None), including unannotated ones."""
    chunks: Iterable[Sequence[int] | None] = (
        [None] if task_ids is None else
        [task_ids[i:i + EXPORT_CHUNK] for i in range(0, len(task_ids), EXPORT_CHUNK)])
    exported: list[dict[str, Any]] = []
    for chunk in chunks:
        options = None if chunk is None else {"additional_query_parameters": {"ids[]": [str(t) for t in chunk]}}
        with remote_call(url=url, action=f"export project {project_id} as JSON"):
            data = b"".join(client.projects.exports.download_sync(project_id, export_type="JSON",
                                                                   download_all_tasks=True,
                                                                   request_options=options))
        exported.extend(json.loads(data))
    return exported


def user_emails(client: "LabelStudio", *, url: str) -> dict[int, str]:
    with remote_call(url=url, action="list users"):
        return {int(u.id): (u.email or u.username or f"user {u.id}") for u in client.users.list()}


def convert_annotation(task: Mapping[str, Any], annotation: Mapping[str, Any], *, labels: Sequence[str],
                       users: Mapping[int, str], report: PullReport) -> ExpertAnnotation | None:
    """One exported annotation -> :class:`ExpertAnnotation`, or None (counted in ``report``)."""
    where = f"task {task['id']} annotation {annotation.get('id')}"
    if annotation.get("was_cancelled"):
        report.skip("skipped_by_annotator", where, "the annotator skipped the task")
        return None
    results = annotation.get("result") or []
    regions: list[Region] = []
    verdict: str | None = None
    not_answerable = False
    texts: dict[str, str] = {}
    for result in results:
        name = result.get("from_name")
        value = result.get("value") or {}
        if name in config.REGION_CONTROLS:
            try:
                regions.append(region_from_result(result, labels=labels))
            except ResultSkipped as skipped:
                report.skip(skipped.reason, where, str(skipped))
        elif name == config.VERDICT:
            choices = value.get("choices") or []
            verdict = str(choices[0]) if choices else None
        elif name == config.ANSWERABLE:
            not_answerable = config.NOT_ANSWERABLE in (value.get("choices") or [])
        elif name in _TEXT_CONTROLS:
            texts[_TEXT_CONTROLS[name]] = "\n".join(str(t) for t in value.get("text") or []).strip()
    if not results:
        report.skip("empty_submission", where, "submitted with no region and no verdict")
        return None
    if verdict is None:
        report.skip("no_verdict", where, "no verdict chosen; kept, counted as disagreeing")
    user_id = annotation.get("completed_by")
    if isinstance(user_id, Mapping):  # some exports inline the user
        user_id = user_id.get("id")
    user_id = int(user_id or 0)
    lead = annotation.get("lead_time")
    return ExpertAnnotation(
        task_id=int(task["id"]), annotation_id=int(annotation["id"]),
        sample_id=str((task.get("data") or {}).get("sample_id", "")), annotator=users.get(user_id, f"user {user_id}"),
        annotator_id=user_id, created_at=str(annotation.get("created_at") or ""),
        updated_at=str(annotation.get("updated_at") or ""), lead_time=None if lead is None else float(lead),
        verdict=verdict, not_answerable=not_answerable, regions=tuple(regions), **texts)


def convert_task(task: Mapping[str, Any], *, fingerprint: str, labels: Sequence[str], users: Mapping[int, str],
                 report: PullReport) -> PulledTask:
    converted = [convert_annotation(task, a, labels=labels, users=users, report=report)
                 for a in sorted(task.get("annotations") or [], key=lambda a: int(a["id"]))]
    kept = tuple(a for a in converted if a is not None)
    report.annotations += len(kept)
    data = dict(task.get("data") or {})
    return PulledTask(task_id=int(task["id"]), sample_id=str(data.get("sample_id", "")), fingerprint=fingerprint,
                      data=data, annotations=kept)


def pull_dir(workspace: Path, project: str) -> Path:
    return Path(workspace) / "pulls" / project


def pull_project(connection: Connection, state: State, *, workspace: Path, project: str, full: bool = False,
                 quiet: bool = False) -> PullReport:
    record = state.require_project(project)
    client = sdk_client(connection)
    report = PullReport(project=project)
    fingerprints = task_fingerprints(client, project_id=record.project_id, url=connection.url)
    report.tasks_on_server = len(fingerprints)
    previous = {} if full else state.fingerprints(project)
    changed = sorted(t for t, fp in fingerprints.items() if previous.get(t) != fp)
    if not changed:
        return report
    exported = export_tasks(client, project_id=record.project_id, task_ids=changed, url=connection.url)
    users = user_emails(client, url=connection.url)
    pulled = [convert_task(task, fingerprint=fingerprints.get(int(task["id"]), ""), labels=record.labels,
                           users=users, report=report)
              for task in progress(exported, total=len(exported), desc=f"pull {project}", unit="task", quiet=quiet)]
    report.tasks_changed = len(pulled)
    write_pull(state, workspace=workspace, record=record, pulled=pulled, report=report)
    return report


def write_pull(state: State, *, workspace: Path, record: ProjectRecord, pulled: Sequence[PulledTask],
               report: PullReport) -> None:
    folder = pull_dir(workspace, record.name)
    folder.mkdir(parents=True, exist_ok=True)
    number = state.next_pull_number(record.name)
    path = folder / f"pull-{number:04d}.jsonl"
    report.number, report.path = number, path
    with open(path, "x") as handle:  # exclusive: a previous pull is never overwritten
        for task in pulled:
            handle.write(json.dumps(task.to_json(), separators=(",", ":")) + "\n")
    with open(folder / f"pull-{number:04d}.report.json", "x") as handle:
        json.dump(report.to_json(), handle, indent=1)
    state.record_pull(record.name, number=number, path=path,
                      fingerprints={t.task_id: t.fingerprint for t in pulled}, annotations=report.annotations)


def iter_pull_file(path: Path) -> Iterator[PulledTask]:
    for _, data in json_lines(path, fix="pull files are written by `vgmed annotate pull`; pull again"):
        yield PulledTask.from_json(data)


def current_tasks(state: State, project: str) -> dict[int, PulledTask]:
    """task id -> the task as of its latest pull."""
    state.require_project(project)
    tasks: dict[int, PulledTask] = {}
    for path in state.pull_paths(project):
        for task in iter_pull_file(path):
            tasks[task.task_id] = task
    return tasks
