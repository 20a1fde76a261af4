"""lmms-eval in its own cached virtual environment, built by the documented recipe (scripts/lmms_eval_env.sh).

Cached like Label Studio's (:mod:`vgmed_data.venvs`): rebuilt only when the recipe changes. Each test session
reinstalls this checkout into it (``--no-deps``, a few seconds) so the exported task modules import the code
under test. Measured cold on the 2-core CI-class machine (shared/busy), pip's download cache warm: see
docs/evaluation.md ("Running the tasks in lmms-eval").
"""

from __future__ import annotations

import hashlib
import subprocess
import tomllib
from pathlib import Path

from vgmed_data.errors import VgmedError
from vgmed_data.venvs import cached_venv_path, ensure_venv, run_step

LMMS_EVAL_VERSION = "0.7.3"
REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "scripts" / "lmms_eval_env.sh"


class LmmsEnvError(VgmedError, RuntimeError):
    """The lmms-eval test environment could not be created."""


def lmms_python() -> Path:
    """The Python of the cached lmms-eval environment, with this checkout installed in it."""
    venv = cached_venv_path(f"lmms-eval-{LMMS_EVAL_VERSION}", override_env="VGMED_LMMS_EVAL_VENV")
    python = venv / "bin" / "python"
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    recipe = hashlib.sha256(RECIPE.read_bytes() + " ".join(dependencies).encode()).hexdigest()
    ensure_venv(venv, installs=[], script=["bash", str(RECIPE)], marker=f"lmms-eval {LMMS_EVAL_VERSION} {recipe}",
                check=python, error=LmmsEnvError)
    run_step([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--force-reinstall",
              str(REPO)], what="install this checkout into the lmms-eval environment", error=LmmsEnvError)
    return python


def run_in_lmms(python: Path, script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    (cwd / "driver.py").write_text(script)
    return subprocess.run([str(python), str(cwd / "driver.py"), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def run_lmms_cli(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m lmms_eval eval ARGS`` (lmms-eval's own command line) on the CPU, no network."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_HOME": str(cwd / "hf"), "TOKENIZERS_PARALLELISM": "false", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([str(python), "-m", "lmms_eval", "eval", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=900, env=env)
