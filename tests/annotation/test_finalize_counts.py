"""`vgmed annotate finalize` counts left-out samples by the category each decision carries, not by cutting the
reason text at its first colon (two samples awaiting adjudication used to be two different reasons, because the
text carries each one's IoU)."""

from __future__ import annotations

from pathlib import Path

from vgmed_data.annotation.finalize import FinalizeReport


def test_left_out_samples_are_counted_by_category(tmp_path: Path) -> None:
    report = FinalizeReport(out=tmp_path)
    report.leave_out("s1", reason="awaiting adjudication (box IoU 0.412, verdicts accept, reject)",
                     category="awaiting adjudication")
    report.leave_out("s2", reason="awaiting adjudication (box IoU 0.127, verdicts accept, accept)",
                     category="awaiting adjudication")
    report.leave_out("s3", reason="adjudicator: rejected: blurred", category="adjudicator")
    lines = report.lines()
    assert lines[1].startswith("left out 3: adjudicator 1, awaiting adjudication 2 (listed in ")
    assert [item["reason"] for item in report.left_out][2] == "adjudicator: rejected: blurred"


def test_finalize_before_any_review_is_refused_and_writes_nothing(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Issue 32: finalize right after push exited 0 and left a folder that `vgmed validate` then refused. The state
    is what `annotate push` leaves (a project record, no pull)."""
    from vgmed_data.annotation.state import ProjectRecord, open_state
    from vgmed_data.cli import main
    from vgmed_data.demo import demo_samples
    from vgmed_data.writer import write_config

    dataset = tmp_path / "ds"
    write_config(dataset, demo_samples(), config="vgmed")
    with open_state(tmp_path / "ws") as state:
        state.save_project(ProjectRecord(name="liver-review", url="http://127.0.0.1:9", project_id=1, kind="review",
                                         dataset=str(dataset), labels=("liver",), parent=None))
    code = main(["annotate", "finalize", "--workspace", str(tmp_path / "ws"), "--project", "liver-review",
                 "--out", str(tmp_path / "final")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "no submitted review pulled yet" in err[0] and "vgmed annotate pull --project liver-review" in err[0]
    assert not (tmp_path / "final").exists()
