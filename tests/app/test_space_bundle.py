"""The Space deploy folder (scripts/space_bundle.py): space/'s Space files plus the page the package ships,
served by ``python app.py`` with vgmed-data made unimportable (the Space does not install it)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.app.conftest import ROOT, EvalRuns
from tests.fixtures.http import free_port, get, wait_until_up

PAGE = ROOT / "eval" / "results" / "page"
BLOCKED = ("import runpy, sys; sys.modules['vgmed_data'] = None; sys.argv = ['app.py', *sys.argv[1:]]; "
           "runpy.run_path('app.py', run_name='__main__')")


def test_the_page_imports_nothing_from_vgmed_data() -> None:
    tree = ast.parse((PAGE / "app.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.startswith("vgmed") for name in imported), imported


def test_the_bundle_serves_a_results_folder_without_vgmed_data(eval_runs: EvalRuns, tmp_path: Path) -> None:
    from vgmed_data.eval.results.publish import save_run

    out = tmp_path / "space"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "space_bundle.py"), str(out)], check=True,
                   capture_output=True, text=True)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["Dockerfile", "README.md", "app.py", "requirements.txt", "static/app.js", "static/index.html",
                     "static/style.css"]
    assert (out / "app.py").read_bytes() == (PAGE / "app.py").read_bytes()
    assert "sdk: docker" in (out / "README.md").read_text()
    results = tmp_path / "results"
    save_run(eval_runs.runs["llava"], results)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", BLOCKED, "--results", str(results), "--port", str(port)],
                               cwd=out, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        data = json.loads(wait_until_up(f"http://127.0.0.1:{port}/api/runs", process))
        assert [row["method"] for row in data["runs"]] == ["baseline"] and data["has_samples"]
        page, kind = get(f"http://127.0.0.1:{port}/")
        assert page == (out / "static" / "index.html").read_bytes() and kind.startswith("text/html")
    finally:
        process.terminate()
        process.wait(timeout=30)
