"""After the core install alone (no [eval], no [annotation]) the documented commands say which extra to install in
one line and exit 2, or skip the stage that needs it (issue 32 item 1: `vgmed demo` and `vgmed eval tiny` exited 70
with a ModuleNotFoundError). The missing packages are made unimportable in a child process by replacing the path
finder on ``sys.meta_path`` with one that does not find them, as on a machine where they were never installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vgmed_data.extras import extra_providing, install_command

BLOCK = """import sys
from importlib.machinery import PathFinder
class WithoutSome(PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in {names!r}:
            return None  # what the path finder answers for a package that is not installed
        return super().find_spec(name, path, target)
sys.meta_path[:] = [WithoutSome if f is PathFinder else f for f in sys.meta_path]
from vgmed_data.cli import main
raise SystemExit(main({argv!r}))
"""


def _vgmed_without(names: tuple[str, ...], argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = BLOCK.format(names=names, argv=argv)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_eval_tiny_without_the_eval_extra_names_the_install_in_one_line(tmp_path: Path) -> None:
    done = _vgmed_without(("torch", "transformers"), ["eval", "tiny", "qwen2_vl", "--out", str(tmp_path / "t")],
                          tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0]
    assert "[eval] extra is not installed" in lines[0] and "torch" in lines[0] and install_command("eval") in lines[0]
    assert not (tmp_path / "t").exists()


def test_demo_without_the_eval_extra_builds_and_skips_the_evaluation(tmp_path: Path) -> None:
    done = _vgmed_without(("torch", "transformers"), ["demo", "--out", str(tmp_path / "demo")], tmp_path)
    assert done.returncode == 0, done.stderr
    skipped = [line for line in done.stdout.splitlines() if line.startswith("[+] evaluation skipped")]
    assert len(skipped) == 1 and "torch" in skipped[0] and "transformers" in skipped[0]
    assert install_command("eval") in skipped[0]
    assert not (tmp_path / "demo" / "eval").exists()
    assert (tmp_path / "demo" / "dataset" / "README.md").is_file() or any((tmp_path / "demo").rglob("*.parquet"))


def test_a_package_of_two_extras_is_named_by_the_command_that_needs_it() -> None:
    assert extra_providing("matplotlib.pyplot", command="annotate") == "annotation"
    assert extra_providing("matplotlib", command="eval") == "eval"
    assert extra_providing("label_studio_sdk.converter", command=None) == "annotation"
    assert extra_providing("no_such_package_anywhere", command="eval") is None
