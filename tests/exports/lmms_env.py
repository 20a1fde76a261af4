"""lmms-eval in its own cached virtual environment (like Label Studio's: :mod:`vgmed_data.venvs`).

lmms-eval 0.7.3 declares ~50 dependencies, torchvision among them (which this project never installs) and
wandb, ruff, pre-commit, openai...; its task manager needs few. So the environment gets ``torch==2.13.0``
first (the CPU wheel; any other spec pulls a CUDA build), then the packages ``lmms_eval.tasks`` imports, then
``lmms-eval==0.7.3 --no-deps``, then this checkout with its own dependencies. Measured on the 2-core CI
machine: ~50 s for torch, ~80 s for the rest, ~1.5 GB. Each test session reinstalls the checkout (``--no-deps``,
~6 s) so the exported ``utils.py`` imports the code under test.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from vgmed_data.errors import VgmedError
from vgmed_data.venvs import cached_venv_path, ensure_venv, run_step

LMMS_EVAL_VERSION = "0.7.3"
REPO = Path(__file__).resolve().parents[2]
# What `from lmms_eval.tasks import TaskManager` and a ConfigurableTask's dataset load import (api/task.py,
# api/registry.py, api/metrics.py, utils.py), found by importing it in a bare environment.
TASK_MANAGER_DEPS = ["transformers", "accelerate", "datasets", "evaluate", "sacrebleu", "loguru", "tenacity",
                     "pytz", "pyyaml", "jinja2", "pillow", "setuptools>=68"]


class LmmsEnvError(VgmedError, RuntimeError):
    """The lmms-eval test environment could not be created."""


def lmms_python() -> Path:
    """The Python of the cached lmms-eval environment, with this checkout installed in it."""
    venv = cached_venv_path(f"lmms-eval-{LMMS_EVAL_VERSION}", override_env="VGMED_LMMS_EVAL_VENV")
    python = venv / "bin" / "python"
    project_deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    installs = [["torch==2.13.0"], TASK_MANAGER_DEPS, ["--no-deps", f"lmms-eval=={LMMS_EVAL_VERSION}"], project_deps]
    marker = " ".join(["lmms-eval", LMMS_EVAL_VERSION, *TASK_MANAGER_DEPS, *project_deps])
    ensure_venv(venv, installs=installs, marker=marker, check=python, error=LmmsEnvError)
    run_step([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--force-reinstall",
              str(REPO)], what="install this checkout into the lmms-eval environment", error=LmmsEnvError)
    return python


def run_in_lmms(python: Path, script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    (cwd / "driver.py").write_text(script)
    return subprocess.run([str(python), str(cwd / "driver.py"), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)
