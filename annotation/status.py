"""``vgmed annotate status``: live progress per project and per annotator (from the server, not the pulls)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from vgmed_data.annotation.client import Connection, check_connection, sdk_client
from vgmed_data.annotation.pull import export_tasks, user_emails
from vgmed_data.annotation.state import State


@dataclass
class ProjectStatus:
    name: str
    project_id: int
    kind: str
    annotators_per_task: int
    tasks_local: int
    tasks_on_server: int = 0
    tasks_started: int = 0  # at least one submitted annotation
    tasks_complete: int = 0  # as many submitted annotations as annotators per task
    per_annotator: Counter[str] = field(default_factory=Counter)  # submitted annotations
    skipped_per_annotator: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        text = [f"{self.name} (id {self.project_id}, {self.kind}, {self.annotators_per_task} per task): "
                f"{self.tasks_on_server} task(s) on the server ({self.tasks_local} pushed from here), "
                f"{self.tasks_started} started, {self.tasks_complete} complete"]
        for annotator in sorted(set(self.per_annotator) | set(self.skipped_per_annotator)):
            text.append(f"  {annotator}: {self.per_annotator[annotator]} submitted, "
                        f"{self.skipped_per_annotator[annotator]} skipped")
        return text


def project_status(connection: Connection, state: State, *, project: str) -> ProjectStatus:
    record = state.require_project(project)
    client = sdk_client(connection)
    status = ProjectStatus(name=project, project_id=record.project_id, kind=record.kind,
                           annotators_per_task=record.annotators_per_task, tasks_local=len(state.tasks(project)))
    users = user_emails(client, url=connection.url)
    for task in export_tasks(client, project_id=record.project_id, task_ids=None, url=connection.url):
        status.tasks_on_server += 1
        submitted = 0
        for annotation in task.get("annotations") or []:
            user = users.get(int(annotation.get("completed_by") or 0), f"user {annotation.get('completed_by')}")
            if annotation.get("was_cancelled"):
                status.skipped_per_annotator[user] += 1
            else:
                status.per_annotator[user] += 1
                submitted += 1
        status.tasks_started += submitted > 0
        status.tasks_complete += submitted >= record.annotators_per_task
    return status


def all_status(connection: Connection, state: State, *, projects: list[str] | None = None) -> list[ProjectStatus]:
    """Every project's status; the connection is checked first, so a wrong token or an unreachable server is an
    error even when the workspace has no project yet."""
    check_connection(sdk_client(connection), url=connection.url)
    return [project_status(connection, state, project=name) for name in (projects or state.project_names())]
