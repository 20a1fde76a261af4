"""``vgmed annotate serve`` as a user runs it: a subprocess on a free port with its own data folder, printing the
URL and how to log in (never the token), owner-only files; Ctrl+C, SIGTERM and SIGHUP each stop it and Label
Studio within 10 s with no process left; what a killed run leaves (a server still running, a stale pid file) is
cleaned by the next start; a port taken by another program is refused.

A first start on an empty database costs ~26 s of migrations; the test instead gives the command a copy of the
session server's migrated database (same admin user and token), so this is a real start of the real command on
a second port in ~5 s.
"""

from __future__ import annotations

import json
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
        # Owner-only: the database holds the admin's token, .env the Django secret key (the clone was 0644).
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        for name in ("label_studio.sqlite3", ".env", "label-studio.log", "vgmed-server.json"):
            assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
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


def session_processes(session: int) -> list[tuple[int, str]]:
    """Live (pid, command) of every process whose session or process group is ``session``: a scan of /proc,
    written here independently of the code under test."""
    found = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_path.read_text()
            command = (stat_path.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, _ppid, group, sid = text[text.rindex(")") + 2:].split()[:4]
        if state != "Z" and session in (int(group), int(sid)):
            found.append((int(stat_path.parent.name), command))
    return found


def prepare_workspace(tmp_path: Path, label_studio) -> tuple[Path, Path]:
    """A workspace whose server folder holds a copy of the session server's migrated database."""
    workspace = tmp_path / "ws"
    data_dir = server_dir(workspace).resolve()
    label_studio.clone_database(data_dir)
    save_settings(replace(label_studio.settings, data_dir=data_dir, document_root=data_dir / "files",
                          port=free_port()))
    return workspace, data_dir


def start_serve(workspace: Path) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen([sys.executable, "-m", "vgmed_data.cli", "annotate", "serve", "--workspace",
                                str(workspace)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines: list[str] = []
    read_lines(process, lines, until="other commands", timeout=300)
    return process, lines


def end(process: subprocess.Popen[str], lines: list[str]) -> None:
    """Clean-up after a failed test: whatever is left of the command and of the server it printed."""
    for group in (process.pid, server_pid(lines)):
        if group is not None and session_processes(group):
            os.killpg(group, signal.SIGKILL)
    if process.poll() is None:
        process.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["ctrl-c", "sigterm", "sighup"])
def test_serve_stops_label_studio_on_each_signal(tmp_path: Path, label_studio, signum: int) -> None:
    workspace, data_dir = prepare_workspace(tmp_path, label_studio)
    process, lines = start_serve(workspace)
    try:
        pid = server_pid(lines)
        assert pid is not None and session_processes(pid)
        assert (data_dir / "label-studio.pid").exists()
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0  # the command and the server it stopped, within 10 s
        assert process.stdout is not None and process.stdout.read().strip().endswith("stopped")
        assert session_processes(pid) == [] and session_processes(process.pid) == []
        assert not (data_dir / "label-studio.pid").exists()
    finally:
        end(process, lines)


def test_a_killed_serve_leaves_nothing_the_next_start_does_not_clean(tmp_path: Path, label_studio) -> None:
    workspace, data_dir = prepare_workspace(tmp_path, label_studio)
    killed, killed_lines = start_serve(workspace)
    process: subprocess.Popen[str] | None = None
    lines: list[str] = []
    try:
        orphan = server_pid(killed_lines)
        killed.kill()  # SIGKILL: no handler runs, Label Studio keeps running in its own session
        killed.wait()
        assert orphan is not None and session_processes(orphan)

        process, lines = start_serve(workspace)
        assert (f"stopped the Label Studio (pid {orphan}) that an earlier, killed run left running on {data_dir}"
                in lines)
        assert session_processes(orphan) == []
        assert server_pid(lines) != orphan
        with urllib.request.urlopen(f"{resolve_connection(workspace=workspace).url}/health", timeout=5) as response:
            assert response.status == 200  # the new server holds the saved port
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        end(killed, killed_lines)
        if process is not None:
            end(process, lines)


def test_a_stale_pid_file_is_removed_and_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    from vgmed_data.annotation.server import PID_FILE, ServerSettings, clear_leftover

    settings = ServerSettings.create(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    pid_file = settings.data_dir / PID_FILE
    dead = subprocess.Popen(["true"])  # a pid that has ended
    dead.wait()
    pid_file.write_text(json.dumps({"pid": dead.pid, "port": settings.port}))
    assert clear_leftover(settings) == (f"removed a stale pid file {pid_file} (pid {dead.pid} is not a running "
                                        "Label Studio)")
    assert not pid_file.exists()
    pid_file.write_text(json.dumps({"pid": os.getpid(), "port": settings.port}))  # alive, but not Label Studio
    assert "stale pid file" in clear_leftover(settings)  # and this test process is still running
    pid_file.write_text("{not json")
    assert clear_leftover(settings) == f"removed an unreadable pid file {pid_file}"
    assert clear_leftover(settings) is None


def test_a_taken_port_is_refused_before_label_studio_starts(tmp_path: Path) -> None:
    import socket

    from vgmed_data.annotation.server import ServerSettings, ServerSetupError, start_server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = ServerSettings.create(data_dir=tmp_path / "data", port=taken.getsockname()[1])
        with pytest.raises(ServerSetupError, match=f"port {settings.port} on 127.0.0.1 is already in use"):
            start_server(settings, executable=Path("/nonexistent/label-studio"))
    assert not (settings.data_dir / "label-studio.log").exists()  # nothing was started
