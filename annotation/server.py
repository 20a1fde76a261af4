"""A local Label Studio server: its own virtual environment (created on first use), headless start, stop by pid.

The server never goes into the project's environment (it would downgrade pyarrow and pull ~60 packages); the
project talks to it over HTTP with the SDK. The virtual environment lives in a cache folder shared by
``vgmed annotate serve`` and the test fixture::

    ${VGMED_LABEL_STUDIO_VENV:-${XDG_CACHE_HOME:-~/.cache}/vgmed/label-studio-<version>}

Creation is guarded by a lock file (two test sessions or a test and a ``serve`` may start together) and
finishes by writing a marker file, so an interrupted install is detected and redone.

The start is headless: every setting comes from environment variables (see ``server_environment``), the user
and its legacy API token are created at the first start, storage is SQLite in ``data_dir``, and the server binds
to loopback unless told otherwise.

Life cycle. The server runs in its own session (process group); its pid and port are written to
``data_dir/label-studio.pid`` and removed when it stops. Before a start, :func:`clear_leftover` removes a pid file
whose process is gone (a killed run) and stops a server a killed run left running on this data folder. The port
must then be free: Label Studio itself silently moves to the next free port when its port is taken
(label_studio/server.py, ``_get_free_port``), which would leave the saved URL pointing at someone else. Ready means
the authenticated API answers with the saved token, not only ``/health``. The first start on an empty database
applies the migrations: ~26 s on a quiet 2-core machine, 95 s with both cores busy, up to 164 s seen under
heavier load (bench/label_studio_start.py; docs/annotation.md), so the wait is long (:data:`START_TIMEOUT`) and
reports progress; a start that fails ends as soon as the process exits. :meth:`RunningServer.stop` sends SIGTERM
to the process group, then SIGKILL after :data:`STOP_GRACE` seconds.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vgmed_data.errors import RemoteError, VgmedError
from vgmed_data.venvs import cached_venv_path, ensure_venv

LABEL_STUDIO_VERSION = "1.23.2"
START_TIMEOUT = 900.0  # seconds; 5x the slowest first start measured (164 s, 2 cores, load average ~8)
PROGRESS_EVERY = 15.0  # seconds between "still starting" lines
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL (Label Studio exits on SIGTERM in well under a second)
PID_FILE = "label-studio.pid"
# Bare names that Label Studio's get_env also reads: they must not leak in from the user's shell.
_LEAKY_NAMES = ("USERNAME", "PASSWORD", "HOST", "PORT", "DEBUG", "DJANGO_DB", "DATABASE_URL")


class ServerSetupError(VgmedError, RuntimeError):
    """The Label Studio virtual environment could not be created, or the server did not start."""


def server_venv_path(*, version: str = LABEL_STUDIO_VERSION) -> Path:
    return cached_venv_path(f"label-studio-{version}", override_env="VGMED_LABEL_STUDIO_VENV")


def ensure_server_venv(*, version: str = LABEL_STUDIO_VERSION, python: str | None = None,
                       quiet: bool = True) -> Path:
    """The ``label-studio`` executable of the cached server environment, installing it on first use (~45 s)."""
    venv = server_venv_path(version=version)
    executable = venv / "bin" / "label-studio"
    ensure_venv(venv, installs=[[f"label-studio=={version}"]], marker=version, check=executable,
                error=ServerSetupError, python=python, quiet=quiet)
    return executable


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Everything a headless start needs. ``token`` is the legacy API token of the first user (40 chars)."""

    data_dir: Path
    document_root: Path
    username: str = "admin@vgmed.local"
    password: str
    token: str
    host: str = "127.0.0.1"
    port: int = 8080

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def create(cls, *, data_dir: Path, document_root: Path | None = None, host: str = "127.0.0.1",
               port: int | None = None, username: str = "admin@vgmed.local") -> "ServerSettings":
        """New settings with a fresh password and token (written by :func:`save_settings`)."""
        return cls(data_dir=Path(data_dir).resolve(),
                   document_root=Path(document_root or Path(data_dir) / "files").resolve(),
                   username=username, password=secrets.token_urlsafe(12), token=secrets.token_hex(20),
                   host=host, port=port or free_port(host))


SETTINGS_FILE = "vgmed-server.json"


def save_settings(settings: ServerSettings) -> Path:
    """Write the settings (including the secret token) to ``data_dir/vgmed-server.json``, readable by the owner
    only, so later commands and restarts reuse the same user, token and port."""
    restrict_data_dir(settings.data_dir)
    path = settings.data_dir / SETTINGS_FILE
    payload = {"data_dir": str(settings.data_dir), "document_root": str(settings.document_root),
               "username": settings.username, "password": settings.password, "token": settings.token,
               "host": settings.host, "port": settings.port}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(payload, handle, indent=1)
    return path


def restrict_data_dir(data_dir: Path) -> None:
    """Make the data folder owner-only (0700) and its files 0600: it holds the SQLite database with the admin's
    API token and password hash, Label Studio's ``.env`` with the Django SECRET_KEY, the settings file and the
    log. The server also runs with umask 077, so what it creates later is owner-only too."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_dir.chmod(0o700)
    for entry in data_dir.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(0o600)


def load_settings(data_dir: Path) -> ServerSettings | None:
    path = Path(data_dir) / SETTINGS_FILE
    if not path.exists():
        return None
    payload = json.loads(path.read_text())
    return ServerSettings(data_dir=Path(payload["data_dir"]), document_root=Path(payload["document_root"]),
                          username=payload["username"], password=payload["password"], token=payload["token"],
                          host=payload["host"], port=int(payload["port"]))


def server_environment(settings: ServerSettings, *, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a headless start (no prompts, no analytics, local files served from the root)."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if k not in _LEAKY_NAMES and not k.startswith("LABEL_STUDIO_")}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(settings.data_dir),
        "XDG_CONFIG_HOME": str(settings.data_dir),
        "LABEL_STUDIO_USERNAME": settings.username,
        "LABEL_STUDIO_PASSWORD": settings.password,
        "LABEL_STUDIO_USER_TOKEN": settings.token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(settings.document_root),
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_SENTRY_DSN": "",
        "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@dataclass
class RunningServer:
    """A started server; :meth:`stop` ends it and its process group."""

    settings: ServerSettings
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, *, grace: float = STOP_GRACE) -> None:
        """SIGTERM to the server's process group (the server and anything it forked), SIGKILL after ``grace``
        seconds; the pid file is removed."""
        if self.process.poll() is None:
            stop_group(self.process.pid, grace=grace, wait=lambda timeout: self.process.wait(timeout=timeout))
        _remove_pid_file(self.settings, self.process.pid)


def stop_group(pgid: int, *, grace: float = STOP_GRACE, wait: Callable[[float], object] | None = None) -> None:
    """End process group ``pgid``: SIGTERM, then SIGKILL after ``grace`` seconds. ``wait(timeout)`` waits for
    the leader when it is our child (reaping it); otherwise the group is polled through /proc."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _wait_group(pgid, grace, wait):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        _wait_group(pgid, grace, wait)


def _wait_group(pgid: int, timeout: float, wait: Callable[[float], object] | None) -> bool:
    deadline = time.monotonic() + timeout
    if wait is not None:
        try:
            wait(timeout)
        except subprocess.TimeoutExpired:
            return False
    while group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``, from /proc (no psutil)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session ...
        if int(fields[2]) == pgid and (fields[0] != "Z" or _threads_alive(entry)):
            members.append(int(entry.name))
    return members


def _threads_alive(process: Path) -> bool:
    """A zombie leader whose other threads are still exiting still holds the process's files and sockets."""
    for task in process.glob("task/*/stat"):
        try:
            stat = task.read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X"):
            return True
    return False


def _pid_path(settings: ServerSettings) -> Path:
    return settings.data_dir / PID_FILE


def _write_pid_file(settings: ServerSettings, pid: int) -> None:
    payload = {"pid": pid, "port": settings.port, "data_dir": str(settings.data_dir)}
    descriptor = os.open(_pid_path(settings), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(payload) + "\n")


def _remove_pid_file(settings: ServerSettings, pid: int) -> None:
    path = _pid_path(settings)
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def _is_our_server(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is a Label Studio started on ``data_dir`` (a reused pid is someone else's process)."""
    try:
        arguments = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(a.endswith(b"label-studio") for a in arguments) and os.fsencode(str(data_dir)) in arguments


def clear_leftover(settings: ServerSettings) -> str | None:
    """Clean what a killed run left: a pid file whose process is gone is removed; a server still running on this
    data folder (its ``serve`` was killed) is stopped. Returns a line saying what was done, or None."""
    path = _pid_path(settings)
    if not path.exists():
        return None
    try:
        pid = int(json.loads(path.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return f"removed an unreadable pid file {path}"
    if not _is_our_server(pid, settings.data_dir):
        path.unlink(missing_ok=True)
        return f"removed a stale pid file {path} (pid {pid} is not a running Label Studio)"
    stop_group(pid)
    path.unlink(missing_ok=True)
    return f"stopped the Label Studio (pid {pid}) that an earlier, killed run left running on {settings.data_dir}"


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def start_server(settings: ServerSettings, *, executable: Path | None = None, timeout: float = START_TIMEOUT,
                 log_path: Path | None = None, progress: Callable[[str], None] | None = None) -> RunningServer:
    """Start Label Studio headless and wait until its API answers with the saved token. A first start on an
    empty SQLite database applies the migrations (see the module docstring for timings); a restart on the same
    ``data_dir`` takes seconds. ``progress`` receives a line every :data:`PROGRESS_EVERY` seconds of waiting.
    Any interruption while waiting (Ctrl+C, a signal turned into an exception) stops the server it started."""
    binary = executable or ensure_server_venv()
    restrict_data_dir(settings.data_dir)
    settings.document_root.mkdir(parents=True, exist_ok=True)
    cleaned = clear_leftover(settings)
    if cleaned and progress:
        progress(cleaned)
    if port_in_use(settings.host, settings.port):
        raise ServerSetupError(f"port {settings.port} on {settings.host} is already in use by another program",
                               path=settings.data_dir / SETTINGS_FILE,
                               fix="stop that program, or start on another port (vgmed annotate serve --port N)")
    log = log_path or settings.data_dir / "label-studio.log"
    command = [str(binary), "start", "--no-browser", "--internal-host", settings.host, "-p", str(settings.port),
               "--data-dir", str(settings.data_dir)]
    with os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as handle:
        process = subprocess.Popen(command, env=server_environment(settings), stdout=handle,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                   umask=0o077)
    server = RunningServer(settings, process, log)
    _write_pid_file(settings, process.pid)
    try:
        _wait_until_ready(server, timeout=timeout, progress=progress)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: RunningServer, *, timeout: float, progress: Callable[[str], None] | None) -> None:
    settings, log = server.settings, server.log_path
    started = time.monotonic()
    next_progress = started + PROGRESS_EVERY
    while True:
        if server.process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ServerSetupError(f"Label Studio exited with code {server.process.returncode}: {tail[0]}",
                                   path=log, fix="read the log; is the data folder from another version?")
        if _ready(settings):
            return
        now = time.monotonic()
        if now - started > timeout:
            raise RemoteError(f"Label Studio at {settings.url} did not answer within {timeout:.0f} s", path=log,
                              fix="read the log for the cause")
        if progress is not None and now >= next_progress:
            progress(f"still starting Label Studio ({now - started:.0f} s; a first start applies the database "
                     f"migrations, a few minutes on a busy machine); log: {log}")
            next_progress = now + PROGRESS_EVERY
        time.sleep(0.5)


def _ready(settings: ServerSettings) -> bool:
    """The API answers an authenticated request with the saved token (the admin user exists, migrations done)."""
    if not _healthy(settings.url):
        return False
    request = urllib.request.Request(f"{settings.url}/api/current-user/whoami",
                                     headers={"Authorization": f"Token {settings.token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
