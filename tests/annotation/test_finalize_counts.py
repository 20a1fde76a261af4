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
