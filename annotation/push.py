"""``vgmed annotate push``: a dataset folder -> a Label Studio project, in batches, re-runnable.

Steps: create or reuse the project (by the workspace's record, else by title); write the images under the
server's local-files document root and authorise that folder with a local-files storage; reconcile the local
state with the tasks the server really has (adopting tasks whose batch was accepted but not recorded, forgetting
tasks the server no longer has); import the samples that are still missing in batches, recording each batch in
the state right after the server accepted it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vgmed_data.errors import InvalidInputError, RemoteError, SourceNotFoundError
from vgmed_data.folder import count_rows
from vgmed_data.progress import progress

from vgmed_data.annotation import config
from vgmed_data.annotation.client import Connection, as_dict, remote_call, sdk_client
from vgmed_data.annotation.defaults import DEFAULT_BATCH
from vgmed_data.annotation.state import ProjectRecord, State
from vgmed_data.annotation.tasks import TaskSpec, dataset_labels, iter_task_specs
from vgmed_data.annotation.views import check_sources

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

MEDIA_SUBDIR = "vgmed"
TITLE_MIN, TITLE_MAX = 3, 50  # Label Studio refuses project titles outside this range


@dataclass
class PushReport:
    project: str
    project_id: int
    created_project: bool = False
    imported: int = 0
    already_there: int = 0
    adopted: int = 0  # on the server but missing from the local state (an interrupted run), now recorded
    forgotten: int = 0  # in the local state but gone from the server, re-imported
    duplicates_on_server: list[str] = field(default_factory=list)  # sample ids with several tasks
    batches: int = 0
    with_views: int = 0  # imported tasks with window views besides the stored image

    def lines(self) -> list[str]:
        text = [f"project {self.project!r} (id {self.project_id}{', created' if self.created_project else ''}): "
                f"{self.imported} task(s) imported in {self.batches} batch(es), {self.already_there} already there"]
        if self.with_views:
            text.append(f"{self.with_views} of the imported task(s) have window views (pages under the image)")
        if self.adopted:
            text.append(f"adopted {self.adopted} task(s) the server had but the local state did not")
        if self.forgotten:
            text.append(f"{self.forgotten} task(s) recorded locally were missing on the server and were re-imported")
        if self.duplicates_on_server:
            text.append(f"warning: {len(self.duplicates_on_server)} sample(s) have several tasks on the server "
                        f"(first: {self.duplicates_on_server[0]}); delete the extra tasks in Label Studio")
        return text


def check_title(name: str) -> str:
    if not TITLE_MIN <= len(name) <= TITLE_MAX:
        raise InvalidInputError(f"project name {name!r} has {len(name)} characters",
                                fix=f"use {TITLE_MIN} to {TITLE_MAX} characters (Label Studio's limit)")
    return name


def find_project_id(client: "LabelStudio", *, title: str, url: str) -> int | None:
    with remote_call(url=url, action=f"list projects to find {title!r}"):
        for project in client.projects.list(title=title):
            if as_dict(project).get("title") == title:
                return int(as_dict(project)["id"])
    return None


def project_exists(client: "LabelStudio", project_id: int, *, url: str) -> bool:
    from label_studio_sdk.core.api_error import ApiError

    try:
        with remote_call(url=url, action=f"read project {project_id}"):
            client.projects.get(id=project_id)
    except RemoteError as error:
        if isinstance(error.__cause__, ApiError) and error.__cause__.status_code == 404:
            return False
        raise
    return True


def ensure_project(client: "LabelStudio", state: State, *, name: str, url: str, kind: str, dataset: str,
                   labels: tuple[str, ...], annotators_per_task: int, parent: str | None = None,
                   multi_view: bool = False) -> tuple[ProjectRecord, bool]:
    """The project's record, creating the Label Studio project when neither the state nor the server has it."""
    check_title(name)
    record = state.project(name)
    if record is not None and record.url != url:
        raise InvalidInputError(f"project {name!r} of this workspace lives on {record.url}, not {url}",
                                path=state.path, fix="pass the same --url, or use another --workspace")
    if record is not None and project_exists(client, record.project_id, url=url):
        if set(labels) - set(record.labels):
            raise InvalidInputError(f"project {name!r} was created for labels {list(record.labels)}; the dataset "
                                    f"adds {sorted(set(labels) - set(record.labels))}",
                                    fix="push to a new --project, or remove the new labels from the dataset")
        if record.annotators_per_task != annotators_per_task:
            with remote_call(url=url, action=f"update project {name!r}"):
                client.projects.update(id=record.project_id, maximum_annotations=annotators_per_task)
            record = replace(record, annotators_per_task=annotators_per_task)
            state.save_project(record)
        return record, False
    if record is not None:  # the project was deleted on the server: its tasks are gone too
        state.forget_project_tasks(name)
    project_id = find_project_id(client, title=name, url=url)
    created = project_id is None
    if project_id is None:
        label_config = config.build_label_config(labels, multi_view=multi_view)
        with remote_call(url=url, action=f"create project {name!r}"):
            project = client.projects.create(
                title=name, label_config=label_config.xml, expert_instruction=config.guideline_html(),
                show_instruction=True, maximum_annotations=annotators_per_task, overlap_cohort_percentage=100,
                show_overlap_first=True, show_collab_predictions=True, show_skip_button=True,
                description=f"vgmed expert-region {kind} of {dataset}")
        project_id = int(project.id)
    else:
        with remote_call(url=url, action=f"update project {name!r}"):
            client.projects.update(id=project_id, maximum_annotations=annotators_per_task)
    record = ProjectRecord(name=name, url=url, project_id=project_id, kind=kind, dataset=dataset,
                           labels=tuple(labels), parent=parent, annotators_per_task=annotators_per_task)
    state.save_project(record)
    return record, created


def check_views(client: "LabelStudio", *, project_id: int, name: str, url: str, multi_view: bool) -> None:
    """An existing project's image must show views exactly when this push sends them."""
    with remote_call(url=url, action=f"read project {name!r}"):
        label_config = as_dict(client.projects.get(id=project_id)).get("label_config") or ""
    has_views = f'valueList="${config.IMAGES}"' in label_config
    if has_views != multi_view:
        raise InvalidInputError(f"project {name!r} was created {'with' if has_views else 'without'} window views; "
                                f"this push {'sends' if multi_view else 'does not send'} them",
                                fix="push to a new --project, or " + ("pass the same --source options as before"
                                                                      if has_views else "leave out --source"))


def media_folder(connection: Connection, project: str) -> tuple[Path, str]:
    """(absolute folder for this project's images, its path relative to the document root)."""
    if connection.document_root is None:
        raise InvalidInputError(f"the local-files document root of {connection.url} is not known",
                                fix="pass --document-root (the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, "
                                    "on a file system the server can read)")
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in project)
    relative = f"{MEDIA_SUBDIR}/{slug}"
    return Path(connection.document_root) / relative, relative


def ensure_local_storage(client: "LabelStudio", *, project_id: int, folder: Path, url: str) -> None:
    """Authorise ``folder`` for ``/data/local-files/`` URLs of this project (once)."""
    with remote_call(url=url, action=f"list local storages of project {project_id}"):
        storages = client.import_storage.local.list(project=project_id)
    if any(str(as_dict(s).get("path")) == str(folder) for s in storages):
        return
    with remote_call(url=url, action=f"create a local-files storage for project {project_id} at {folder}"):
        client.import_storage.local.create(project=project_id, path=str(folder), use_blob_urls=True,
                                           title="vgmed images", regex_filter=r"^$")


def server_tasks(client: "LabelStudio", *, project_id: int, url: str) -> dict[str, list[int]]:
    """sample id -> task ids on the server (more than one means a duplicate made outside this tool)."""
    found: dict[str, list[int]] = {}
    with remote_call(url=url, action=f"list tasks of project {project_id}"):
        for task in client.tasks.list(project=project_id, fields="task_only", page_size=1000):
            item = as_dict(task)
            sample_id = (item.get("data") or {}).get("sample_id")
            if sample_id:
                found.setdefault(str(sample_id), []).append(int(item["id"]))
    return found


def reconcile(client: "LabelStudio", state: State, record: ProjectRecord, report: PushReport) -> dict[str, int]:
    """Make the local state equal the server's tasks; returns sample id -> task id."""
    on_server = server_tasks(client, project_id=record.project_id, url=record.url)
    local = state.tasks(record.name)
    adopt = [(sample_id, min(ids)) for sample_id, ids in on_server.items() if local.get(sample_id) not in ids]
    gone = [sample_id for sample_id in local if sample_id not in on_server]
    report.duplicates_on_server = sorted(s for s, ids in on_server.items() if len(ids) > 1)
    if gone:
        state.forget_tasks(record.name, gone)
        report.forgotten = len(gone)
    if adopt:
        state.add_tasks(record.name, adopt)
        report.adopted = len([s for s, _ in adopt if s not in local])
    return state.tasks(record.name)


def _batches(items: Iterable[TaskSpec], size: int) -> Iterator[list[TaskSpec]]:
    batch: list[TaskSpec] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_batch(client: "LabelStudio", *, project_id: int, payloads: list[dict[str, Any]], url: str) -> list[int]:
    with remote_call(url=url, action=f"import {len(payloads)} task(s) into project {project_id}"):
        response = client.projects.import_tasks(id=project_id, request=payloads, return_task_ids=True)
    task_ids = list(response.task_ids or [])
    if len(task_ids) != len(payloads):
        raise RemoteError(f"{url} returned {len(task_ids)} task ids for {len(payloads)} imported tasks", path=url,
                          fix="run the push again: it reconciles with the server before importing")
    return [int(t) for t in task_ids]


def push_specs(connection: Connection, state: State, *, specs: Iterable[TaskSpec], project: str, dataset: str,
               labels: tuple[str, ...], kind: str = "review", parent: str | None = None,
               annotators_per_task: int = 2, batch_size: int = DEFAULT_BATCH,
               after_import: Callable[[int, list[int]], None] | None = None, total: int | None = None,
               quiet: bool = False, multi_view: bool = False) -> PushReport:
    """Push task specs (the general entry, also used by adjudication). ``after_import(batch_number, task_ids)``
    runs after the server accepted a batch and before the state records it (tests use it to interrupt)."""
    if batch_size < 1 or annotators_per_task < 1:
        raise InvalidInputError("batch size and annotators per task must be at least 1")
    client = sdk_client(connection)
    record, created = ensure_project(client, state, name=project, url=connection.url, kind=kind, dataset=dataset,
                                     labels=labels, annotators_per_task=annotators_per_task, parent=parent,
                                     multi_view=multi_view)
    if not created:
        check_views(client, project_id=record.project_id, name=project, url=connection.url, multi_view=multi_view)
    report = PushReport(project=project, project_id=record.project_id, created_project=created)
    folder, relative = media_folder(connection, project)
    folder.mkdir(parents=True, exist_ok=True)
    ensure_local_storage(client, project_id=record.project_id, folder=folder, url=connection.url)
    known = reconcile(client, state, record, report)
    seen: set[str] = set()

    def missing() -> Iterator[TaskSpec]:
        for spec in specs:
            if spec.sample_id in seen:
                raise InvalidInputError(f"sample id {spec.sample_id!r} appears twice in the input",
                                        fix="sample ids must be unique")
            seen.add(spec.sample_id)
            if spec.sample_id in known:
                report.already_there += 1
                continue
            yield spec

    bar = progress(desc=f"push {project}", unit="task", total=total, quiet=quiet)  # tasks imported or already there
    for number, batch in enumerate(_batches(missing(), batch_size), start=1):
        payloads = []
        for spec in batch:
            files = [(spec.image_file, spec.image_bytes), *spec.view_files()]
            report.with_views += bool(spec.views)
            for file_name, data in files:
                target = folder / file_name
                if not target.exists():
                    tmp = target.with_suffix(target.suffix + ".part")
                    tmp.write_bytes(data)
                    tmp.replace(target)
            urls = [f"/data/local-files/?d={relative}/{file_name}" for file_name, _ in files]
            payloads.append(spec.payload(image_url=urls[0], view_urls=urls[1:] if multi_view else None))
        task_ids = import_batch(client, project_id=record.project_id, payloads=payloads, url=connection.url)
        if after_import is not None:
            after_import(number, task_ids)
        state.add_tasks(project, zip([s.sample_id for s in batch], task_ids))
        report.imported += len(batch)
        report.batches = number
        bar.update(report.imported + report.already_there - bar.n)
    bar.update(report.imported + report.already_there - bar.n)
    bar.close()
    return report


def push_dataset(connection: Connection, state: State, *, dataset: Path, project: str, mask_as: str = "brush",
                 annotators_per_task: int = 2, batch_size: int = DEFAULT_BATCH, split: str | None = None,
                 after_import: Callable[[int, list[int]], None] | None = None, quiet: bool = False,
                 sources: Mapping[str, Path] | None = None) -> PushReport:
    """With ``sources`` (source key -> local copy) the project shows window views
    (:mod:`vgmed_data.annotation.views`): the stored image is page 1 with the builder's regions on it."""
    folder = Path(dataset)
    if not folder.is_dir():
        raise SourceNotFoundError("dataset folder not found", path=folder, fix="pass a folder written by vgmed build")
    sources = check_sources(folder, sources or {})
    labels = dataset_labels(folder)
    return push_specs(connection, state, specs=iter_task_specs(folder, mask_as=mask_as, split=split, sources=sources),
                      project=project, dataset=str(folder.resolve()), labels=labels,
                      annotators_per_task=annotators_per_task, batch_size=batch_size, after_import=after_import,
                      total=count_rows(folder, config="vgmed", split=split), quiet=quiet, multi_view=bool(sources))

