"""CLI wiring (no torch at --help) and the demo entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vgmed_data.eval.cli import parse_layers
from vgmed_data.eval.runner import run_demo_eval
from tests.eval.data import write_tiny_dataset


def test_help_does_not_import_torch() -> None:
    code = ("import sys; from vgmed_data.cli import main\n"
            "try:\n    main(['eval', 'run', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules or 'transformers' in sys.modules else 'LIGHT')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "--batch-size" in out and out.strip().endswith("LIGHT")


def test_parse_layers() -> None:
    assert parse_layers("all") is None
    assert parse_layers("16,10,8-9") == (8, 9, 10, 16)


def test_demo_eval_says_the_model_is_random(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    folder = write_tiny_dataset(tmp_path / "demo", 2)
    summary = run_demo_eval(folder, tmp_path / "eval")
    assert summary["random_weights"] is True and summary["counts"]["samples"] == 2
    printed = capsys.readouterr().out
    assert "RANDOMLY INITIALISED" in printed and "FIXED head list" in printed
    markdown = (tmp_path / "eval" / "results" / "summary.md").read_text()
    assert "random weights" in markdown and "## Baseline vs VGRefine" in markdown and "| all | 2 |" in markdown
    assert summary["methods"] == ["baseline", "vgrefine"] and summary["vgrefine"]["n"] == 2
    assert json.loads((tmp_path / "eval" / "results" / "summary.json").read_text())["random_weights"] is True
