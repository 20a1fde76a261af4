"""`vgmed eval serve` over its whole life: the temporary folders of a killed run are removed by the next start,
its own are removed when it stops, clients that hang up are not errors, and no progress bar is printed without a
terminal or with VGMED_DISABLE_PROGRESS_BARS=1.

Every start runs in a temporary folder of its own (``TMPDIR``), so the folders it leaves are the only ones there.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

from tests.app.conftest import EvalRuns
from tests.fixtures.http import free_port, wait_until_up

SCRATCH = ("vgmed-results-", "vgmed-space-cache-")


def _start(run_dir: Path, tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp), "VGMED_DISABLE_PROGRESS_BARS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "vgmed_data.cli", "eval", "serve", str(run_dir),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    wait_until_up(f"http://127.0.0.1:{port}/healthz", process, timeout_s=120)
    return process


def _scratch(tmp: Path) -> list[str]:
    return sorted(entry.name for entry in tmp.iterdir() if entry.name.startswith(SCRATCH))


def _hang_up(port: int) -> None:
    """Ask for the runs and reset the connection at once (SO_LINGER 0: an RST, not a polite close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"GET /api/runs HTTP/1.1\r\nHost: x\r\n\r\n")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_serve_cleans_up_and_stays_quiet(eval_runs: EvalRuns, tmp_path: Path) -> None:
    run_dir = eval_runs.runs["llava"]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    killed = _start(run_dir, tmp, free_port())
    killed.kill()  # SIGKILL: no clean-up can run
    killed.wait(timeout=30)
    left = _scratch(tmp)
    assert {name.split("-" + str(killed.pid) + "-")[0] + "-" for name in left} == set(SCRATCH), left
    live_other = tmp / f"vgmed-results-{os.getpid()}-keepme00"  # a running process's folder is not stale
    live_other.mkdir()

    port = free_port()
    process = _start(run_dir, tmp, port)
    try:
        mine = _scratch(tmp)
        assert not any(f"-{killed.pid}-" in name for name in mine), mine  # the killed run's folders are gone
        assert live_other.name in mine
        assert {name for name in mine if f"-{process.pid}-" in name}, mine  # its own, while it runs
        for _ in range(5):
            _hang_up(port)
        assert wait_until_up(f"http://127.0.0.1:{port}/healthz", process, timeout_s=30) == b"ok"  # still serving
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0].decode(errors="replace")
    assert process.returncode == 0, output
    assert _scratch(tmp) == [live_other.name], output  # its own folders are removed when it stops
    assert "Traceback" not in output and "BrokenPipeError" not in output and "ConnectionResetError" not in output, \
        output
    assert "%|" not in output and "it/s]" not in output, output  # no progress bar without a terminal
    assert output.startswith("VGMED leaderboard:"), output
