"""``vgmed annotate serve`` as a user runs it: a subprocess on a free port with its own data folder, printing the
URL and how to log in (never the token), stopped by its process id.

A first start on an empty database costs ~26 s of migrations; the test instead gives the command a copy of the
session server's migrated database (same admin user and token), so this is a real start of the real command on
a second port in ~5 s.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from vgmed_data.annotation.client import resolve_connection, sdk_client, server_dir
from vgmed_data.annotation.server import free_port, save_settings

pytestmark = pytest.mark.labelstudio


def read_lines(process: subprocess.Popen[str], lines: list[str], *, until: str, timeout: float) -> list[str]:
    """Append the process's output to ``lines`` up to the first line starting with ``until`` (a reader thread:
    select() on a buffered text pipe would miss lines already in Python's buffer)."""
    found: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            found.put(line.rstrip("\n"))
            if line.startswith(until):
                return
        found.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = found.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        lines.append(line)
        if line.startswith(until):
            return lines
    raise AssertionError(f"no line starting with {until!r} within {timeout} s; got {lines}")


def server_pid(lines: list[str]) -> int | None:
    match = next((re.search(r"\(pid (\d+)\)$", line) for line in lines if "(pid " in line), None)
    return int(match.group(1)) if match else None


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_prints_url_and_login_not_the_token_and_stops(tmp_path: Path, label_studio) -> None:
    workspace = tmp_path / "ws"
    data_dir = server_dir(workspace).resolve()
    label_studio.clone_database(data_dir)
    settings = replace(label_studio.settings, data_dir=data_dir, document_root=data_dir / "files", port=free_port())
    save_settings(settings)

    process = subprocess.Popen([sys.executable, "-m", "vgmed_data.cli", "annotate", "serve", "--workspace",
                                str(workspace)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines: list[str] = []
    try:
        read_lines(process, lines, until="other commands", timeout=90)
        running = next(line for line in lines if line.startswith("Label Studio is running at"))
        assert running == f"Label Studio is running at {settings.url} (pid {server_pid(lines)})"
        settings_file = data_dir / "vgmed-server.json"
        assert f"log in as {settings.username}; password and API token are in {settings_file} (owner-readable only)" \
            in lines
        assert stat.S_IMODE(settings_file.stat().st_mode) == 0o600
        text = "\n".join(lines)
        assert settings.token not in text and settings.password not in text

        with urllib.request.urlopen(f"{settings.url}/health", timeout=5) as response:
            assert response.status == 200
        # Another command in the same workspace finds this server and its token without being told.
        connection = resolve_connection(workspace=workspace)
        assert connection.url == settings.url and connection.document_root == settings.document_root
        sdk_client(connection).projects.list()  # authorised with the token from the settings file

        process.send_signal(signal.SIGINT)  # Ctrl+C
        assert process.wait(timeout=60) == 0
        assert process.stdout is not None and process.stdout.read().strip().endswith("stopped")
        assert not alive(server_pid(lines))
    finally:  # the server runs in its own session: end it by the pid the command printed
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        pid = server_pid(lines)
        if pid is not None and alive(pid):
            os.killpg(pid, signal.SIGTERM)
