"""The local state of a workspace: which sample is which task in which project, and what each pull stored.

One SQLite file (``WORKSPACE/state.sqlite``, standard library only). Every push batch is committed in one
transaction right after the server accepted it; push re-checks this mapping against the server before importing
anything, so an interruption at any point neither duplicates nor loses a task.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vgmed_data.errors import InvalidInputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY, url TEXT NOT NULL, project_id INTEGER NOT NULL, kind TEXT NOT NULL,
    dataset TEXT NOT NULL, labels TEXT NOT NULL, parent TEXT, created_at REAL NOT NULL,
    annotators INTEGER NOT NULL DEFAULT 2
);
CREATE TABLE IF NOT EXISTS tasks (
    project TEXT NOT NULL, sample_id TEXT NOT NULL, task_id INTEGER NOT NULL, pushed_at REAL NOT NULL,
    PRIMARY KEY (project, sample_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_by_id ON tasks (project, task_id);
CREATE TABLE IF NOT EXISTS pulls (
    project TEXT NOT NULL, number INTEGER NOT NULL, path TEXT NOT NULL, created_at REAL NOT NULL,
    tasks INTEGER NOT NULL, annotations INTEGER NOT NULL, PRIMARY KEY (project, number)
);
CREATE TABLE IF NOT EXISTS pulled_tasks (
    project TEXT NOT NULL, task_id INTEGER NOT NULL, fingerprint TEXT NOT NULL, pull INTEGER NOT NULL,
    PRIMARY KEY (project, task_id)
);
"""


@dataclass(frozen=True, kw_only=True)
class ProjectRecord:
    name: str
    url: str
    project_id: int
    kind: str  # "review" or "adjudication"
    dataset: str
    labels: tuple[str, ...]
    parent: str | None
    annotators_per_task: int = 2


class State:
    """Open with :func:`open_state`; all writes go through short transactions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # projects
    def project(self, name: str) -> ProjectRecord | None:
        row = self._db.execute("SELECT name, url, project_id, kind, dataset, labels, parent, annotators FROM projects "
                               "WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return ProjectRecord(name=row[0], url=row[1], project_id=row[2], kind=row[3], dataset=row[4],
                             labels=tuple(json.loads(row[5])), parent=row[6], annotators_per_task=int(row[7]))

    def require_project(self, name: str) -> ProjectRecord:
        record = self.project(name)
        if record is None:
            known = ", ".join(self.project_names()) or "none yet"
            raise InvalidInputError(f"unknown project {name!r} in this workspace (known: {known})",
                                    path=self.path, fix="push a dataset first with 'vgmed annotate push DATASET "
                                    "--project NAME', or pass the --workspace that pushed it")
        return record

    def project_names(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT name FROM projects ORDER BY name")]

    def save_project(self, record: ProjectRecord) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO projects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (record.name, record.url, record.project_id, record.kind, record.dataset,
                        json.dumps(list(record.labels)), record.parent, time.time(), record.annotators_per_task))

    # tasks
    def tasks(self, project: str) -> dict[str, int]:
        """sample id -> task id."""
        return dict(self._db.execute("SELECT sample_id, task_id FROM tasks WHERE project = ?", (project,)))

    def add_tasks(self, project: str, pairs: Iterable[tuple[str, int]]) -> None:
        now = time.time()
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?)",
                           [(project, sample_id, int(task_id), now) for sample_id, task_id in pairs])

    def forget_tasks(self, project: str, sample_ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM tasks WHERE project = ? AND sample_id = ?",
                           [(project, sample_id) for sample_id in sample_ids])

    def forget_project_tasks(self, project: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM tasks WHERE project = ?", (project,))
            db.execute("DELETE FROM pulled_tasks WHERE project = ?", (project,))

    # pulls
    def fingerprints(self, project: str) -> dict[int, str]:
        return dict(self._db.execute("SELECT task_id, fingerprint FROM pulled_tasks WHERE project = ?", (project,)))

    def next_pull_number(self, project: str) -> int:
        row = self._db.execute("SELECT MAX(number) FROM pulls WHERE project = ?", (project,)).fetchone()
        return int(row[0] or 0) + 1

    def record_pull(self, project: str, *, number: int, path: Path, fingerprints: dict[int, str],
                    annotations: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO pulls VALUES (?, ?, ?, ?, ?, ?)",
                       (project, number, str(path), time.time(), len(fingerprints), annotations))
            db.executemany("INSERT OR REPLACE INTO pulled_tasks VALUES (?, ?, ?, ?)",
                           [(project, task_id, fp, number) for task_id, fp in fingerprints.items()])

    def pull_paths(self, project: str) -> list[Path]:
        """The stored pull files, oldest first."""
        return [Path(row[0]) for row in
                self._db.execute("SELECT path FROM pulls WHERE project = ? ORDER BY number", (project,))]


@contextmanager
def open_state(workspace: Path) -> Iterator[State]:
    state = State(Path(workspace) / "state.sqlite")
    try:
        yield state
    finally:
        state.close()
