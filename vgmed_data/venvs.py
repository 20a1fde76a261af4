"""Cached side virtual environments for tools that must not go into the project's own environment.

Label Studio (``vgmed annotate serve``) and lmms-eval (the task-export test) each get one, under
``${XDG_CACHE_HOME:-~/.cache}/vgmed/<name>`` unless an environment variable names the folder. Creation is
guarded by a lock file (two processes may ask at once) and ends by writing a marker file, so an interrupted
install is detected and redone.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from vgmed_data.errors import VgmedError

MARKER = ".vgmed-complete"


def cached_venv_path(name: str, *, override_env: str) -> Path:
    override = os.environ.get(override_env)
    if override:
        return Path(override)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "vgmed" / name


def base_python() -> str:
    """A Python that is not inside a virtual environment's site-packages quirks: the interpreter's base."""
    candidate = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(candidate) if candidate.exists() else sys.executable


def ensure_venv(venv: Path, *, installs: Sequence[Sequence[str]], marker: str, check: Path,
                error: type[VgmedError], python: str | None = None, quiet: bool = True,
                script: Sequence[str] | None = None) -> Path:
    """``venv``, created with ``python`` and each of ``installs`` (``pip install`` argument lists, in order) on
    first use, then ``script`` (a command that receives the venv's path as its last argument, e.g. an install
    recipe); ``marker`` is written last, and a venv whose marker differs is rebuilt. ``check`` (a path inside
    the venv) must exist afterwards. Failures raise ``error`` with the step and the command's last line."""
    if (venv / MARKER).exists() and (venv / MARKER).read_text().strip() == marker and check.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits while another process installs
        try:
            if (venv / MARKER).exists() and (venv / MARKER).read_text().strip() == marker and check.exists():
                return venv
            if venv.exists():  # an interrupted or outdated install: start over
                shutil.rmtree(venv)
            run_step([python or base_python(), "-m", "venv", str(venv)], what=f"create {venv}", error=error)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", *(["-q"] if quiet else [])]
            run_step([*pip, "--upgrade", "pip"], what=f"upgrade pip in {venv}", error=error)
            for arguments in installs:
                run_step([*pip, *arguments], what=f"pip install {' '.join(arguments)}", error=error)
            if script is not None:
                run_step([*script, str(venv)], what=f"run {' '.join(script)}", error=error)
            if not check.exists():
                raise error(f"{check} is missing after the install", path=venv,
                            fix=f"delete {venv} and run the command again")
            (venv / MARKER).write_text(marker + "\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return venv


def run_step(command: list[str], *, what: str, error: type[VgmedError]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise error(f"could not {what}: {tail[0]}", fix="check the network access to the package registry and "
                    "the free disk space (~1-2 GB), then run the command again")
