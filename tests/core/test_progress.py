"""Progress bars of long commands (issue 14): drawn on a terminal, absent with ``--quiet`` or when stderr is not a
terminal. The commands run as real subprocesses; stderr is a pseudo-terminal where a user's shell would be."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.builders import miniatures as mini
from tests.terminal import run_on_terminal

VGMED = [sys.executable, "-m", "vgmed_data.cli"]


def env() -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k != "VGMED_DISABLE_PROGRESS_BARS"}
    return {**values, "COLUMNS": "100"}


@pytest.fixture(scope="module")
def kvasir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mask = np.zeros((48, 64), np.uint8)
    mask[8:32, 16:40] = 1
    return mini.write_kvasir(tmp_path_factory.mktemp("src"), {"cju0qkwl35piu0993l0dewei2": mask,
                                                              "cju0qoxqj9q6s0835b43399p4": mask[::-1].copy()})


def build(kvasir: Path, out: Path, *extra: str, terminal: bool = True) -> str:
    command = [*VGMED, "build", "vgmed", "--source", f"kvasir-seg={kvasir}", "--out", str(out), *extra]
    if terminal:
        code, _out, shown = run_on_terminal(command, env=env())
    else:
        done = subprocess.run(command, capture_output=True, text=True, env=env(), timeout=300)
        code, shown = done.returncode, done.stderr
    assert code == 0, shown
    return shown


def test_build_shows_a_bar_on_a_terminal_only(kvasir: Path, tmp_path: Path) -> None:
    shown = build(kvasir, tmp_path / "a")
    assert "build vgmed: 100%" in shown and "2/2" in shown and "record" in shown
    assert "build vgmed" not in build(kvasir, tmp_path / "b", "--quiet")
    assert "build vgmed" not in build(kvasir, tmp_path / "c", terminal=False)


def test_hydrate_shows_a_bar_with_the_row_count(kvasir: Path, tmp_path: Path) -> None:
    from vgmed_data.folder import count_rows
    from vgmed_data.pointers import strip_images

    build(kvasir, tmp_path / "built", "--quiet")
    strip_images(tmp_path / "built", tmp_path / "release")
    rows = count_rows(tmp_path / "release", config="vgmed")
    assert rows > 0
    code, out, shown = run_on_terminal([*VGMED, "hydrate", str(tmp_path / "release"), "--source",
                                        f"kvasir-seg={kvasir}"], env=env())
    assert code == 0 and f"restored {rows} image(s)" in out
    assert "hydrate vgmed: 100%" in shown and f"{rows}/{rows}" in shown


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    payload = np.random.default_rng(0).integers(0, 255, 3 * 1024 * 1024, dtype=np.uint8).tobytes()
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "Task04_Hippocampus.tar").write_bytes(payload)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "served"))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/Task04_Hippocampus.tar", payload
    server.shutdown()
    server.server_close()


def test_sources_fetch_shows_bytes(file_server: tuple[str, bytes], tmp_path: Path) -> None:
    import hashlib

    url, payload = file_server
    script = (  # `sources fetch` on an entry whose download points at the loopback server (same code path)
        "import dataclasses, sys\n"
        "from pathlib import Path\n"
        "from vgmed_data.builders.entry import Download\nfrom vgmed_data.builders.sources import get_entry\n"
        "from vgmed_data.builders.fetch import fetch\n"
        f"entry = dataclasses.replace(get_entry('msd-hippocampus'), downloads=(Download(url={url!r}, "
        f"filename='Task04_Hippocampus.tar', checksum='sha256:{hashlib.sha256(payload).hexdigest()}'),))\n"
        "fetch(entry, Path(sys.argv[1]), quiet='--quiet' in sys.argv)\n")
    code, out, shown = run_on_terminal([sys.executable, "-c", script, str(tmp_path / "a")], env=env())
    assert code == 0 and "checksum ok" in out, shown
    assert "Task04_Hippocampus.tar: 100%" in shown and "3.00M/3.00M" in shown
    assert (tmp_path / "a" / "Task04_Hippocampus.tar").read_bytes() == payload
    code, out, shown = run_on_terminal([sys.executable, "-c", script, str(tmp_path / "b"), "--quiet"], env=env())
    assert code == 0 and "Task04_Hippocampus.tar:" not in shown


def test_every_long_command_takes_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    from vgmed_data.cli import main

    for command in (["build", "vgmed"], ["build", "sequences"], ["sources", "fetch"], ["hydrate"],
                    ["annotate", "push"], ["annotate", "pull"]):
        with pytest.raises(SystemExit) as done:
            main([*command, "--help"])
        assert done.value.code == 0 and "--quiet" in capsys.readouterr().out, command
