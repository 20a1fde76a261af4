"""Questions, answers and project names are drawn as plain text, never parsed as matplotlib mathtext (issue 14:
a question holding ``$...$`` crashed the report step with ``ParseFatalException``, losing the summary, and
resume crashed again)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from tests.eval.data import tiny_samples
from vgmed_data.annotation.agreement import AgreementReport, plot_box_iou
from vgmed_data.eval.report import overlay
from vgmed_data.eval.runner import EvalConfig, run_eval
from vgmed_data.writer import write_config
from vgmed_data.geometry import Transform

DOLLARS = ("Is the lesion $\\frac{ wide, or $5 and $10?", "Does $x^{2$ hold?")  # not valid mathtext


def test_overlay_title_with_dollar_signs_is_drawn_as_text(tmp_path: Path) -> None:
    image = Image.new("RGB", (32, 24))
    for index, title in enumerate(DOLLARS):
        path = overlay(image, [[2.0, 2.0, 10.0, 10.0]], np.ones((3, 4)), Transform.identity((32, 24)),
                       tmp_path / f"{index}.png", title=title)
        assert path.stat().st_size > 0


def test_agreement_plot_with_dollar_in_the_project_name(tmp_path: Path) -> None:
    report = AgreementReport(project="cost $x^{2$ review", tasks=(), annotators=(), single_annotation_tasks=0)
    assert plot_box_iou(report, path=tmp_path / "iou.png").stat().st_size > 0


def test_a_run_over_dollar_questions_writes_its_summary_and_resumes(tiny_checkpoint, tmp_path: Path) -> None:  # noqa: ANN001
    samples = [replace(sample, question=DOLLARS[index % 2]) for index, sample in enumerate(tiny_samples(2))]
    dataset = tmp_path / "ds"
    write_config(dataset, samples, config="vgmed")
    cfg = EvalConfig(model=str(tiny_checkpoint("qwen2_vl")), dataset=str(dataset), out=tmp_path / "run",
                     progress=False, overlays=2, max_new_tokens=2)
    summary = run_eval(cfg)
    assert summary is not None and len(summary["files"]["overlays"]) == 2
    assert (tmp_path / "run" / "summary.md").exists()
    again = run_eval(cfg)  # resume over a complete run: the report step runs again
    assert again is not None and again["overall"] == summary["overall"]
