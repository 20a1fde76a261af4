"""Interrupted pushes and bad input, against the real server."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from vgmed_data.annotation.client import Connection, sdk_client
from vgmed_data.annotation.pull import pull_project
from vgmed_data.annotation.push import push_dataset, server_tasks
from vgmed_data.annotation.server import free_port
from vgmed_data.annotation.state import open_state
from tests.annotation.data import HEIGHT, WIDTH, make_dataset
from tests.fixtures.label_studio import ANNOTATORS
from vgmed_data.errors import InvalidInputError, RemoteError

pytestmark = pytest.mark.labelstudio


class SimulatedCrash(Exception):
    pass


def test_push_survives_server_stop(tmp_path: Path, label_studio, ls_connection) -> None:
    dataset = make_dataset(tmp_path / "ds", 11)
    workspace = tmp_path / "ws"

    def crash_after_second_batch(number: int, task_ids: list[int]) -> None:
        if number == 2:  # the server accepted batch 2; the state has not recorded it yet
            label_studio.stop()
            raise SimulatedCrash

    with open_state(workspace) as state:
        with pytest.raises(SimulatedCrash):
            push_dataset(ls_connection, state, dataset=dataset, project="fault-review", batch_size=3,
                         after_import=crash_after_second_batch)
        assert len(state.tasks("fault-review")) == 3
        with pytest.raises(RemoteError, match=label_studio.url):  # server down: one line naming the URL
            push_dataset(ls_connection, state, dataset=dataset, project="fault-review", batch_size=3)
        label_studio.start()
        report = push_dataset(ls_connection, state, dataset=dataset, project="fault-review", batch_size=3)
        assert report.adopted == 3 and report.imported == 5
        on_server = server_tasks(sdk_client(ls_connection), project_id=state.project("fault-review").project_id,
                                 url=ls_connection.url)
        assert len(on_server) == 11 and all(len(ids) == 1 for ids in on_server.values())  # no duplicate
        assert {s: ids[0] for s, ids in on_server.items()} == state.tasks("fault-review")  # none missing
        again = push_dataset(ls_connection, state, dataset=dataset, project="fault-review", batch_size=3)
        assert (again.imported, again.already_there) == (0, 11)


def test_unknown_project(tmp_path: Path, ls_connection) -> None:
    with open_state(tmp_path) as state, pytest.raises(InvalidInputError, match="unknown project 'nope'"):
        pull_project(ls_connection, state, workspace=tmp_path, project="nope")


def test_wrong_token_names_the_url(tmp_path: Path, ls_connection) -> None:
    wrong = Connection(url=ls_connection.url, token="0" * 40, document_root=ls_connection.document_root)
    dataset = make_dataset(tmp_path / "ds", 1)
    with open_state(tmp_path / "ws") as state, pytest.raises(RemoteError) as caught:
        push_dataset(wrong, state, dataset=dataset, project="token-review")
    message = str(caught.value)
    assert "\n" not in message and ls_connection.url in message and "token was refused" in message
    assert wrong.token not in message


def test_server_down_names_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    dataset = make_dataset(tmp_path / "ds", 1)
    down = Connection(url=url, token="1" * 40, document_root=tmp_path / "root")
    with open_state(tmp_path / "ws") as state, pytest.raises(RemoteError, match=f"cannot reach Label Studio at {url}"):
        push_dataset(down, state, dataset=dataset, project="down-review")


def test_bad_results_are_counted(tmp_path: Path, ls_connection, ls_users) -> None:
    dataset = make_dataset(tmp_path / "ds", 2)
    workspace = tmp_path / "ws"
    client = sdk_client(ls_connection)
    no_size = {"from_name": "box", "to_name": "image", "type": "rectanglelabels",
               "value": {"x": 10, "y": 10, "width": 10, "height": 10, "rotation": 0, "rectanglelabels": ["liver"]}}
    bad_label = {**no_size, "original_width": WIDTH, "original_height": HEIGHT,
                 "value": {**no_size["value"], "rectanglelabels": ["spleen"]}}
    good = {**no_size, "original_width": WIDTH, "original_height": HEIGHT}
    verdict = {"from_name": "verdict", "to_name": "image", "type": "choices", "value": {"choices": ["accept"]}}
    with open_state(workspace) as state:
        push_dataset(ls_connection, state, dataset=dataset, project="bad-review")
        first, second = sorted(state.tasks("bad-review").values())
        client.annotations.create(id=first, result=[no_size, bad_label, good, verdict],
                                  completed_by=ls_users[ANNOTATORS[0]])
        client.annotations.create(id=second, result=[], completed_by=ls_users[ANNOTATORS[1]])
        report = pull_project(ls_connection, state, workspace=workspace, project="bad-review")
    assert report.skipped == Counter({"no_original_size": 1, "label_not_in_config": 1, "empty_submission": 1})
    assert report.annotations == 1
    assert any("spleen" in line for line in report.examples)
    assert "skipped:" in "\n".join(report.lines())


def test_help_does_not_import_the_sdk() -> None:
    code = ("import sys; from vgmed_data.cli import main; main(['--help']) if False else None;"
            "from vgmed_data.cli import build_parser; build_parser('annotate').format_help();"
            "print('label_studio_sdk' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_project_with_views_takes_pushes_with_views_only(tmp_path: Path, ls_connection, ls_users) -> None:
    from tests.annotation.data import make_view_dataset
    from tests.annotation.scenario import rect, verdict
    from vgmed_data.annotation.adjudicate import adjudicate
    from vgmed_data.annotation.pull import current_tasks

    dataset, _ = make_view_dataset(tmp_path / "ds", tmp_path / "src")
    sources = {"tiny": tmp_path / "src"}
    with open_state(tmp_path / "ws") as state:
        first = push_dataset(ls_connection, state, dataset=dataset, project="views-faults", sources=sources)
        again = push_dataset(ls_connection, state, dataset=dataset, project="views-faults", sources=sources)
        with pytest.raises(InvalidInputError, match="created with window views"):
            push_dataset(ls_connection, state, dataset=dataset, project="views-faults")
        project_id = state.project("views-faults").project_id
    assert (first.imported, first.with_views, again.imported, again.already_there) == (2, 2, 0, 2)
    client = sdk_client(ls_connection)
    tasks = [t for t in client.tasks.list(project=project_id, fields="all")]
    pages = sorted(len(t.data["images"]) for t in tasks)
    assert pages == [2, 6]  # MR: stored + full range; CT: stored + five presets
    for task in tasks:
        files = [ls_connection.document_root / url.split("?d=", 1)[1] for url in task.data["images"]]
        assert all(path.is_file() for path in files)

    # Regions drawn on another page (item_index 2, the lung view) come back in the stored frame; the adjudication
    # project (one image, the stored one) shows each annotator's regions.
    ct = next(t for t in tasks if len(t.data["images"]) == 6)
    on_lung = [{**rect(8, 10, 16, 8), "item_index": 2}, verdict("accept")]
    client.annotations.create(id=ct.id, result=on_lung, completed_by=ls_users[ANNOTATORS[0]])
    client.annotations.create(id=ct.id, result=[{**rect(30, 20, 20, 12), "item_index": 0}, verdict("reject")],
                              completed_by=ls_users[ANNOTATORS[1]])
    with open_state(tmp_path / "ws") as state:
        pull_project(ls_connection, state, workspace=tmp_path / "ws", project="views-faults")
        annotations = current_tasks(state, "views-faults")[ct.id].annotations
        report, selected = adjudicate(ls_connection, state, project="views-faults")
        (adjudication_task,) = state.tasks("views-faults-adjudication").values()
    boxes = {a.annotator: [r.box for r in a.regions] for a in annotations}
    assert boxes == {ANNOTATORS[0]: [(8, 10, 24, 18)], ANNOTATORS[1]: [(30, 20, 50, 32)]}
    assert report.imported == 1 and len(selected) == 1
    predictions = client.predictions.list(task=adjudication_task)
    assert sorted(len(p.result) for p in predictions) == [1, 1]
