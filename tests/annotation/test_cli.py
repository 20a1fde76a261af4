"""The review round trip driven through the ``vgmed`` entry point against the real server, with ``annotate
status`` checked against what the test submitted (same scenario as test_round_trip, through the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import load_dataset

from vgmed_data.annotation.client import sdk_client
from tests.annotation.data import make_dataset
from tests.annotation.scenario import A, ADJ, B, adjudicate_decisions, annotate, rect, verdict
from vgmed_data.cli import main as cli_main

pytestmark = pytest.mark.labelstudio


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = cli_main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_cli_round_trip_and_status(tmp_path: Path, ls_connection, ls_users,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    dataset = make_dataset(tmp_path / "candidates", 4)
    workspace = tmp_path / "ws"
    remote = ["--workspace", str(workspace), "--url", ls_connection.url, "--token", ls_connection.token]
    out = run(capsys, "annotate", "push", str(dataset), "--project", "cli-review", *remote,
              "--document-root", str(ls_connection.document_root), "--batch-size", "3")
    assert ls_connection.token not in out

    from vgmed_data.annotation.state import open_state

    with open_state(workspace) as state:
        tasks = state.tasks("cli-review")
        project_id = state.require_project("cli-review").project_id
    sample_ids = sorted(tasks)
    assert len(sample_ids) == 4
    out = run(capsys, "annotate", "status", *remote)
    assert out.splitlines() == [f"cli-review (id {project_id}, review, 2 per task): 4 task(s) on the server "
                                "(4 pushed from here), 0 started, 0 complete"]

    client = sdk_client(ls_connection)
    annotate(client, [tasks[s] for s in sample_ids], ls_users)
    # A annotated all 4 tasks, B the first 3; 4 started, 3 with both annotations.
    out = run(capsys, "annotate", "status", "--project", "cli-review", *remote)
    assert out.splitlines() == [
        f"cli-review (id {project_id}, review, 2 per task): 4 task(s) on the server (4 pushed from here), "
        "4 started, 3 complete",
        f"  {A}: 4 submitted, 0 skipped",
        f"  {B}: 3 submitted, 0 skipped"]

    pulls = workspace / "pulls" / "cli-review"
    out = run(capsys, "annotate", "pull", "--project", "cli-review", *remote)
    assert out.splitlines() == [f"project 'cli-review': pull 1 stored 4 changed task(s) of 4, 7 annotation(s) -> "
                                f"{pulls / 'pull-0001.jsonl'}"]
    agreement_dir = tmp_path / "agreement"
    out = run(capsys, "annotate", "agreement", "--project", "cli-review", "--workspace", str(workspace),
              "--out", str(agreement_dir))
    png = Path(out.splitlines()[-1].split(", ")[-1])
    assert png.parent == agreement_dir and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = run(capsys, "annotate", "adjudicate", "--project", "cli-review", "--threshold", "0.7", *remote,
              "--document-root", str(ls_connection.document_root))
    assert out.splitlines()[0] == "3 task(s) under box IoU 0.7 or with differing verdicts"

    with open_state(workspace) as state:
        adjudication = state.tasks("cli-review-adjudication")
        adjudication_id = state.require_project("cli-review-adjudication").project_id
    adjudicate_decisions(client, adjudication, sample_ids, ls_users)
    run(capsys, "annotate", "pull", "--project", "cli-review-adjudication", *remote)
    # B catches up on the last task; the next pull takes only that task.
    client.annotations.create(id=tasks[sample_ids[3]], result=[rect(1, 2, 3, 4), verdict("accept")],
                              completed_by=ls_users[B])
    out = run(capsys, "annotate", "pull", "--project", "cli-review", *remote)
    assert out.startswith("project 'cli-review': pull 2 stored 1 changed task(s) of 4, 2 annotation(s)")
    reviewed = tmp_path / "reviewed"
    out = run(capsys, "annotate", "finalize", "--project", "cli-review", "--out", str(reviewed), "--threshold", "0.7",
              "--workspace", str(workspace))
    assert out.splitlines()[:2] == [f"wrote 3 reviewed sample(s) to {reviewed} (accepted 1, adjudicated 2)",
                                    f"left out 1: adjudicator 1 (listed in {reviewed / 'review_report.json'})"]
    assert cli_main(["validate", str(reviewed)]) == 0
    capsys.readouterr()
    rows = {r["id"]: r for r in load_dataset(str(reviewed), "vgmed", split="test")}
    assert set(rows) == {sample_ids[0], sample_ids[2], sample_ids[3]}  # sample 1 rejected by the adjudicator
    assert rows[sample_ids[0]]["boxes"] == [[8.0, 10.0, 24.0, 18.0]]
    assert rows[sample_ids[0]]["review"]["adjudicator"] == ADJ

    # Status of both projects, with a skipped (cancelled) task counted apart from the submissions.
    client.annotations.create(id=tasks[sample_ids[3]], result=[], completed_by=ls_users[ADJ], was_cancelled=True)
    out = run(capsys, "annotate", "status", *remote)
    lines = out.splitlines()
    assert lines[:4] == [
        f"cli-review (id {project_id}, review, 2 per task): 4 task(s) on the server (4 pushed from here), "
        "4 started, 4 complete",
        f"  {ADJ}: 0 submitted, 1 skipped",
        f"  {A}: 4 submitted, 0 skipped",
        f"  {B}: 4 submitted, 0 skipped"]
    assert lines[4].startswith(f"cli-review-adjudication (id {adjudication_id}, adjudication, ")
    assert lines[4].endswith("3 task(s) on the server (3 pushed from here), 3 started, 3 complete")
    assert lines[5:] == [f"  {ADJ}: 3 submitted, 0 skipped"]
    assert ls_connection.token not in out
