"""Outputs appear whole or not at all, and what a killed run leaves behind is removed by the next run.

A real process is killed with SIGKILL in the middle of writing a dataset folder (nothing of ours runs on
SIGKILL); the next write removes its staging folder. A staging folder of a process that is still alive (a
concurrent run) is left alone. A hydrate that restores nothing leaves the folder byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vgmed_data.demo import demo_samples
from vgmed_data.writer import write_config
from vgmed_data.pointers import hydrate, strip_images
from vgmed_data.staging import PREFIX

WRITER = textwrap.dedent("""
    import sys, time
    from vgmed_data.demo import demo_samples
    from vgmed_data.writer import write_config

    def samples():
        yield from demo_samples()
        print("writing", flush=True)
        time.sleep(600)

    write_config(sys.argv[1], samples(), config="vgmed")
""")


def _killed_writer(target: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "writing"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)


def _staging(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(PREFIX))


def _state(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def samples() -> list:
    return demo_samples()


def test_killed_new_folder_leaves_no_folder_and_the_next_run_cleans(tmp_path: Path, samples: list) -> None:
    target = tmp_path / "ds"
    _killed_writer(target)
    assert not target.exists()  # never a half-written folder under the real name
    assert len(_staging(tmp_path)) == 1  # what SIGKILL leaves
    write_config(target, samples, config="vgmed")
    assert _staging(tmp_path) == []
    assert (target / "README.md").is_file() and len(list((target / "data" / "vgmed").iterdir())) == 3


def test_killed_update_is_cleaned_inside_the_folder(tmp_path: Path, samples: list) -> None:
    target = tmp_path / "ds"
    write_config(target, samples, config="vgmed")
    before = _state(target)
    _killed_writer(target)
    assert len(_staging(target)) == 1 and _state(target) == before
    write_config(target, samples, config="vgmed")
    assert _staging(target) == [] and _state(target) == before


def test_a_live_process_staging_is_kept(tmp_path: Path, samples: list) -> None:
    live = tmp_path / f"{PREFIX}ds-{os.getppid()}-abcdefgh"  # the test runner's parent: alive
    live.mkdir()
    write_config(tmp_path / "ds", samples, config="vgmed")
    assert live.is_dir()


def test_hydrate_that_restores_nothing_changes_nothing(tmp_path: Path, samples: list) -> None:
    """Every image is still embedded (a full release given to hydrate): nothing to restore, nothing rewritten. A
    source key the folder does not hold is refused before anything is written (issue 32)."""
    from vgmed_data.errors import InvalidInputError

    full = tmp_path / "ds"
    write_config(full, samples, config="vgmed")
    before = _state(full)
    report = hydrate(full, sources={"pydicom-testdata": tmp_path}, quiet=True)
    assert sum(report.restored.values()) == 0 and sum(report.left_out.values()) == 0
    assert _state(full) == before and _staging(full) == []
    stripped = strip_images(full, tmp_path / "stripped")
    before = _state(stripped)
    with pytest.raises(InvalidInputError, match="no row of this folder comes from source another-source"):
        hydrate(stripped, sources={"another-source": tmp_path}, quiet=True)
    assert _state(stripped) == before and _staging(stripped) == []
