"""mypy finds nothing in the package as installed, with the settings of pyproject.toml ``[tool.mypy]``.

Checked as installed, not as the checkout: the card's folders install under one root (``eval/`` is
``vgmed_data.eval``, docs/architecture.md), which the editable install resolves with a meta-path finder that
mypy cannot follow. The session's wheel (tests/fixtures/wheel.py, built from a copy of the sources) is unpacked
into a folder, which is exactly what ``pip install`` puts in site-packages, and mypy reads that folder, with this
environment's packages for the imports. The core (``vgmed_data/*.py``, geometry, imaging) is checked strictly
(every function annotated); builders, annotation and eval in mypy's default mode.

mypy's cache is kept in the test's temporary folder, so each run checks from scratch: about 50 s of CPU, 5 min
of wall time on the shared, busy 2-core machine (wheel build included). mypy comes with the [test] extra.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_nothing_in_the_installed_package(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    assert (site / "vgmed_data" / "eval" / "runner.py").is_file()  # the mapped folders are where imports look
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "--cache-dir", str(tmp_path / "cache"), "--python-executable", sys.executable,
                           "--no-error-summary", "--show-error-codes", "vgmed_data"],
                          cwd=site, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
