"""``vgmed annotate --help`` and every step's ``--help`` import nothing heavy: no datasets, scipy, pyarrow,
label-studio-sdk, torch or transformers (they took the help to ~4 s). Checked in a fresh interpreter, as a
user's shell runs it, like the top-level help test in tests/core/test_dataset_folder.py."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("datasets", "scipy", "pyarrow", "label_studio_sdk", "torch", "transformers", "httpx", "numpy")
STEPS = ("serve", "push", "status", "pull", "agreement", "adjudicate", "finalize", "dry-run")

_PROBE = """
import contextlib, io, json, sys
from vgmed_data.cli import main
heavy = {heavy!r}
report = {{}}
for argv in {argvs!r}:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(argv)
        except SystemExit:
            pass
    report[" ".join(argv)] = {{"help": out.getvalue(), "heavy": [m for m in heavy if m in sys.modules]}}
print(json.dumps(report))
"""


def test_annotate_help_and_every_step_help_import_nothing_heavy() -> None:
    argvs = [["annotate", "--help"], *(["annotate", step, "--help"] for step in STEPS)]
    result = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY, argvs=argvs)], capture_output=True,
                            text=True, check=True)
    report = json.loads(result.stdout)
    assert report["annotate --help"]["heavy"] == []
    assert all(step in report["annotate --help"]["help"] for step in STEPS)
    for step in STEPS:
        entry = report[f"annotate {step} --help"]
        assert entry["heavy"] == [], (step, entry["heavy"])
        assert entry["help"].startswith(f"usage: vgmed annotate {step}"), entry["help"][:200]
    assert "(default: 250)" in " ".join(report["annotate push --help"]["help"].split())
    assert "(default: 0.7)" in " ".join(report["annotate adjudicate --help"]["help"].split())
