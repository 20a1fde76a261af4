"""The whole review round trip against the real Label Studio server: push -> annotate (two experts, via the API
with completed_by) -> pull -> agreement -> adjudicate -> pull -> finalize -> load_dataset."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from datasets import load_dataset
from shapely import affinity
from shapely.geometry import box as shapely_box

from vgmed_data.annotation.adjudicate import adjudicate
from vgmed_data.annotation.agreement import project_agreement, write_agreement
from vgmed_data.annotation.client import sdk_client
from vgmed_data.annotation.finalize import finalize
from vgmed_data.annotation.pull import current_tasks, pull_project
from vgmed_data.annotation.push import push_dataset
from vgmed_data.annotation.state import open_state
from vgmed_data.cli import main as cli_main
from tests.annotation.data import WIDTH, make_dataset, sample_mask
from tests.annotation.scenario import A, ADJ, B, POLYGON_PX, adjudicate_decisions, annotate, rect, verdict

pytestmark = pytest.mark.labelstudio


def direct_iou(a: list[float], b: list[float]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_round_trip(tmp_path: Path, ls_connection, ls_users) -> None:
    dataset = make_dataset(tmp_path / "candidates", 4)
    workspace = tmp_path / "ws"
    client = sdk_client(ls_connection)
    with open_state(workspace) as state:
        report = push_dataset(ls_connection, state, dataset=dataset, project="rt-review", batch_size=3)
        assert (report.imported, report.batches) == (4, 2)
        tasks = state.tasks("rt-review")
        assert len(tasks) == 4
        sample_ids = sorted(tasks)
        t0, t1, t2, t3 = (tasks[s] for s in sample_ids)
        server_task = client.tasks.get(id=t0)
        assert server_task.data["width"] == WIDTH and server_task.data["case"].startswith("patient")
        assert len(server_task.predictions) == 1  # boxes + brush mask as one prediction

        annotate(client, [t0, t1, t2, t3], ls_users)
        pulled = pull_project(ls_connection, state, workspace=workspace, project="rt-review")
        assert (pulled.number, pulled.tasks_changed, pulled.annotations) == (1, 4, 7)
        assert not pulled.skipped
        current = current_tasks(state, "rt-review")
        a0 = next(a for a in current[t0].annotations if a.annotator == A)
        kinds = [r.kind for r in a0.regions]
        assert kinds == ["rectangle", "rectangle", "polygon", "brush"]
        assert a0.regions[0].box == pytest.approx((8.0, 10.0, 24.0, 18.0), abs=1e-9)
        rotated = affinity.rotate(shapely_box(20, 5, 36, 13), 30.0, origin=(20, 5))  # clockwise on screen (y down)
        expected_corners = np.array(rotated.exterior.coords[:-1])
        got = np.array(a0.regions[1].points)
        assert sorted(map(tuple, np.round(got, 9))) == sorted(map(tuple, np.round(expected_corners, 9)))
        assert a0.regions[1].box == pytest.approx(rotated.bounds, abs=1e-9)
        assert np.allclose(a0.regions[2].points, POLYGON_PX, atol=1e-9)
        assert np.array_equal(a0.regions[3].mask, sample_mask(0))
        assert a0.verdict == "accept" and a0.lead_time == 30.0

        agreement = project_agreement("rt-review", current.values())
        by_task = {t.task_id: t for t in agreement.tasks}
        assert set(by_task) == {t0, t1, t2}
        # task 0: A's 4 regions vs B's 1 box; the best one-to-one match is A's first box; divided by 4.
        a_boxes = [list(r.box) for r in a0.regions]
        best = max(direct_iou(b, [10, 10, 26, 18]) for b in a_boxes)
        assert by_task[t0].box_iou == pytest.approx(best / 4, abs=1e-12)
        assert by_task[t1].box_iou == pytest.approx(1.0) and by_task[t1].verdict_agreement == 0.0
        assert by_task[t2].box_iou == pytest.approx(direct_iou([0, 0, 20, 20], [10, 10, 30, 30]))
        assert by_task[t2].mask_dice == pytest.approx(2 * 100 / (400 + 400))
        paths = write_agreement(agreement, folder=workspace / "agreement")
        assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert agreement.single_annotation_tasks == 1

        push_report, selected = adjudicate(ls_connection, state, project="rt-review", threshold=0.7)
        assert sorted(s.task_id for s in selected) == sorted([t0, t1, t2])  # t0's IoU is under 0.7 too
        adjudication = state.tasks("rt-review-adjudication")
        assert push_report.imported == 3 and len(adjudication) == 3
        adj_task = client.tasks.get(id=adjudication[sample_ids[1]])
        assert sorted(p["model_version"] if isinstance(p, dict) else p.model_version
                      for p in adj_task.predictions) == sorted([A, B])
        adjudicate_decisions(client, adjudication, sample_ids, ls_users)
        pull_project(ls_connection, state, workspace=workspace, project="rt-review-adjudication")

        # Incremental, append-only: nothing changed -> no new file; one change -> only that task.
        first = workspace / "pulls" / "rt-review" / "pull-0001.jsonl"
        digest = hashlib.sha256(first.read_bytes()).hexdigest()
        assert pull_project(ls_connection, state, workspace=workspace, project="rt-review").number is None
        client.annotations.create(id=t3, result=[rect(1, 2, 3, 4), verdict("accept")], completed_by=ls_users[B])
        again = pull_project(ls_connection, state, workspace=workspace, project="rt-review")
        assert (again.number, again.tasks_changed) == (2, 1)
        assert hashlib.sha256(first.read_bytes()).hexdigest() == digest

        out = tmp_path / "reviewed"
        final = finalize(state, project="rt-review", out=out, threshold=0.7)
    assert final.kept == {"adjudicated": 2, "accepted": 1}
    assert cli_main(["validate", str(out)]) == 0
    assert final.left_out == [{"id": sample_ids[1], "reason": "adjudicator: rejected"}]
    rows = {r["id"]: r for r in load_dataset(str(out), "vgmed", split="test")}
    assert set(rows) == {sample_ids[0], sample_ids[2], sample_ids[3]}
    assert rows[sample_ids[0]]["boxes"] == [[8.0, 10.0, 24.0, 18.0]]
    assert rows[sample_ids[0]]["review"]["status"] == "adjudicated"
    assert rows[sample_ids[0]]["review"]["adjudicator"] == ADJ
    assert rows[sample_ids[2]]["boxes"] == [[5.0, 5.0, 25.0, 25.0]]
    consensus = rows[sample_ids[3]]
    assert consensus["review"]["status"] == "accepted" and consensus["review"]["agreement"] == pytest.approx(1.0)
    assert consensus["review"]["annotators"] == sorted([A, B])
    assert consensus["boxes"] == [pytest.approx([1.0, 2.0, 4.0, 6.0], abs=1e-9)]
