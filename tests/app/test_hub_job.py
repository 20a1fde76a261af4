"""``scripts/hub_job.py`` takes and checks ``--heads`` before a VGRefine job is submitted (issue 14: it printed and
submitted a job without ``--heads``, which ``vgmed eval run`` refused inside the job after the GPU was paid for).
The script runs as a subprocess against the Hub-compatible server; a local heads.json travels inside the job's
command and must come out byte-identical where the job's ``eval run`` reads it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vgmed_data.eval.results.jobs import DEFAULT_TOOLKIT, HEADS_FILE
from vgmed_data.eval.vgrefine.cli import load_heads

pytestmark = pytest.mark.hub
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "hub_job.py"
TOOLKIT = "vgmed-data[eval] @ https://files.example.org/vgmed_data-0.1.0-py3-none-any.whl"
HEADS = {"heads": [[2, 1], [0, 3]], "masked_layers": [1], "percentile": 50.0, "layers": "chosen 'by' $KL"}


def hub_job(*args: str, server: Any, token: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_TOKEN": token}
    return subprocess.run([sys.executable, str(SCRIPT), "--model", "org/model", "--dataset", "org/VGMED",
                           "--results", "vgmed-test/results", "--endpoint", server.url, "--toolkit", TOOLKIT, *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_vgrefine_without_heads_is_refused_before_submitting(hub_server: Any, hub_token: str) -> None:
    before = len(hub_server.jobs)
    for extra in ((), ("--heads", "missing-heads.json")):
        done = hub_job("--method", "baseline,vgrefine", "--submit", *extra, server=hub_server, token=hub_token)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Fix:" in done.stderr
    done = hub_job("--heads", "preset:huatuogpt-vision-7b", "--submit", server=hub_server, token=hub_token)
    assert done.returncode == 2 and "does not include vgrefine" in done.stderr
    assert len(hub_server.jobs) == before  # nothing reached the Hub


def test_a_local_heads_file_reaches_the_job_intact(hub_server: Any, hub_token: str, tmp_path: Path) -> None:
    heads = tmp_path / "heads.json"
    heads.write_text(json.dumps(HEADS, indent=2) + "\n")
    done = hub_job("--method", "baseline,vgrefine", "--heads", str(heads), "--submit", server=hub_server,
                   token=hub_token)
    assert done.returncode == 0, done.stderr
    script = hub_server.jobs[-1]["spec"]["command"][-1]
    steps = script.split(" && ")
    evaluate = next(step for step in steps if step.startswith("vgmed eval run"))
    assert shlex.split(evaluate)[-2:] == ["--heads", HEADS_FILE]
    # run the job's own step that writes the file (redirected into tmp_path) and read it as `eval run` does
    write = next(step for step in steps if HEADS_FILE in step and step.startswith("printf"))
    written = tmp_path / "in-job-heads.json"
    subprocess.run(["bash", "-c", write.replace(HEADS_FILE, shlex.quote(str(written)))], check=True, timeout=30)
    assert written.read_text() == heads.read_text()
    assert load_heads(str(written)) == load_heads(str(heads))
    assert load_heads(str(written)).heads == ((2, 1), (0, 3))


def test_submit_with_the_placeholder_toolkit_is_refused(hub_server: Any, hub_token: str) -> None:
    """Issue 32: --submit without --toolkit started a job whose first step installs nothing."""
    done = hub_job("--toolkit", DEFAULT_TOOLKIT, "--submit", server=hub_server, token=hub_token)
    assert done.returncode == 2 and "placeholder" in done.stderr and "started job" not in done.stdout
    dry = hub_job("--toolkit", DEFAULT_TOOLKIT, server=hub_server, token=hub_token)
    assert dry.returncode == 0 and "note: --toolkit is a placeholder" in dry.stdout
