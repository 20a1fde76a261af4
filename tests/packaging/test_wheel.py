"""The wheel works without the checkout: built from a copy of the sources, installed with its dependencies into
a fresh virtual environment (torch==2.13.0 named first: the local CPU wheel), and used from a folder outside
the checkout: ``vgmed --help``, ``vgmed demo`` (build, validate, preview, evaluation with a tiny random model)
and ``vgmed eval serve`` answering on 127.0.0.1 with the page and the data.

The wheel installs only import names that start with ``vgmed``, and the ``packages`` list of pyproject.toml
names every folder with an ``__init__.py`` (the card's folders mapped under ``vgmed_data``).
"""

from __future__ import annotations

import json
import subprocess
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.http import free_port, get, wait_until_up
from tests.fixtures.wheel import SOURCE_FOLDERS, clean_env
from vgmed_data.venvs import base_python

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Files commands read at run time, as they must appear in the wheel.
RUNTIME_FILES = ("vgmed_data/annotation/guideline.md", "vgmed_data/imaging/ps3_15_e1_1.json",
                 "vgmed_data/eval/results/page/app.py", "vgmed_data/eval/results/page/static/index.html",
                 "vgmed_data/eval/results/page/static/app.js", "vgmed_data/eval/results/page/static/style.css")


def _run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path
    work: Path  # a folder outside the checkout
    env: dict[str, str]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("packaging")
    env = clean_env()
    venv = root / "venv"
    _run([base_python(), "-m", "venv", str(venv)], cwd=root, env=env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]  # no .pyc: ~1 min less
    _run([*pip, "torch==2.13.0"], cwd=root, env=env)  # first: any other spec would pull a CUDA build
    _run([*pip, f"{wheel}[eval]"], cwd=root, env=env)
    work = root / "work"
    work.mkdir()
    return Installed(wheel=wheel, bin=venv / "bin", work=work, env={**env, "HF_HUB_OFFLINE": "1"})


def test_pyproject_packages_are_every_folder_with_an_init() -> None:
    found = set()
    for folder, name in SOURCE_FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *relative)))
    assert sorted(PYPROJECT["tool"]["setuptools"]["packages"]) == sorted(found)
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {name: folder for folder, name in SOURCE_FOLDERS.items()}


def test_the_wheel_installs_only_vgmed_names_and_the_runtime_files(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = archive.namelist()
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        recorded = [line.split(",")[0] for line in archive.read(record).decode().splitlines() if line]
    assert sorted(recorded) == sorted(names)
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"vgmed_data"}, top
    assert all(name.startswith("vgmed") for name in {n.split("/")[0] for n in names})
    assert set(RUNTIME_FILES) <= set(names)


def test_the_installed_package_is_not_the_checkout(installed: Installed) -> None:
    code = ("import vgmed_data, vgmed_data.eval, vgmed_data.builders, vgmed_data.eval.results.page.app as app;"
            "print(vgmed_data.__file__); print(vgmed_data.eval.__file__); print(vgmed_data.builders.__file__);"
            "print(app.STATIC)")
    out = _run([str(installed.bin / "python"), "-c", code], cwd=installed.work, env=installed.env)
    for line in out.split():
        assert "site-packages" in line and not line.startswith(str(ROOT)), line


def test_help_demo_and_serve_from_outside_the_checkout(installed: Installed) -> None:
    vgmed = str(installed.bin / "vgmed")
    assert "evaluate multimodal LLMs" in _run([vgmed, "--help"], cwd=installed.work, env=installed.env)
    demo = installed.work / "demo"
    out = _run([vgmed, "demo", "--out", str(demo)], cwd=installed.work, env=installed.env)
    assert "[2/4] vgmed validate: no problems" in out and "RANDOMLY INITIALISED" in out
    summary = json.loads((demo / "demo_summary.json").read_text())
    run = Path(summary["eval"])
    assert (run / "summary.json").exists()
    port = free_port()
    process = subprocess.Popen([vgmed, "eval", "serve", str(run), "--port", str(port)], cwd=installed.work,
                               env=installed.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        data = json.loads(wait_until_up(f"http://127.0.0.1:{port}/api/runs", process))
        assert [row["method"] for row in data["runs"]] == ["baseline", "vgrefine"] and data["has_samples"]
        page, kind = get(f"http://127.0.0.1:{port}/")
        with zipfile.ZipFile(installed.wheel) as archive:
            assert page == archive.read("vgmed_data/eval/results/page/static/index.html")
            script, _ = get(f"http://127.0.0.1:{port}/app.js")
            assert script == archive.read("vgmed_data/eval/results/page/static/app.js")
        assert kind.startswith("text/html")
        samples = json.loads(get(f"http://127.0.0.1:{port}/api/samples?run_id={data['runs'][0]['run_id']}")[0])
        assert len(samples) == json.loads((run / "summary.json").read_text())["counts"]["samples"] > 0
    finally:
        process.terminate()
        process.wait(timeout=30)
