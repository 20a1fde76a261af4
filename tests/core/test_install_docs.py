"""The install that the docs and the error hints give works (issue 14: they said ``pip install 'vgmed-data[...]'``,
which fails because vgmed-data is not published on a package index)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from vgmed_data.errors import MissingDependencyError, require

ROOT = Path(__file__).resolve().parents[2]
BY_NAME = re.compile(r"""pip install\s+(-U\s+|--upgrade\s+)?['"]?vgmed-data\b""")


def test_nothing_tells_users_to_install_vgmed_data_by_name_from_an_index() -> None:
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    texts += [p for folder in ("vgmed_data", "builders", "annotation", "eval", "scripts")
              for p in sorted((ROOT / folder).rglob("*.py"))]
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in texts
                 for n, line in enumerate(p.read_text().splitlines(), 1) if BY_NAME.search(line)]
    assert offenders == []


def test_a_missing_extra_names_requirements_that_exist_on_the_index() -> None:
    with pytest.raises(MissingDependencyError) as missing:
        require("vgmed_no_such_module", extra="annotation", purpose="the review")
    fix = missing.value.fix or ""
    assert fix.startswith("pip install ") and "label-studio-sdk" in fix and "matplotlib" in fix
    assert "pip install -e '.[annotation]'" in fix and "vgmed-data[" not in fix


def test_the_documented_wheel_builds_with_every_sub_package_and_extra(wheel: Path) -> None:
    assert "pip wheel --no-deps -w dist ." in (ROOT / "docs" / "installing.md").read_text()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    for module in ("vgmed_data/cli.py", "vgmed_data/builders/vgmed.py", "vgmed_data/annotation/guideline.md",
                   "vgmed_data/eval/runner.py", "vgmed_data/extras.py"):
        assert module in names
    assert {"Provides-Extra: annotation", "Provides-Extra: eval"} <= set(metadata.splitlines())
