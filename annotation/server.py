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
from dataclasses import dataclass
from pathlib import Path

from vgmed_data.errors import RemoteError, VgmedError
from vgmed_data.venvs import cached_venv_path, ensure_venv

LABEL_STUDIO_VERSION = "1.23.2"
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
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / SETTINGS_FILE
    payload = {"data_dir": str(settings.data_dir), "document_root": str(settings.document_root),
               "username": settings.username, "password": settings.password, "token": settings.token,
               "host": settings.host, "port": settings.port}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(payload, handle, indent=1)
    return path


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
    """A started server; :meth:`stop` ends it by its process id."""

    settings: ServerSettings
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, *, timeout: float = 20.0) -> None:
        if self.process.poll() is not None:
            return
        # The server runs in its own session: signal its process group (the server and any worker it forked).
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)


def start_server(settings: ServerSettings, *, executable: Path | None = None, timeout: float = 180.0,
                 log_path: Path | None = None) -> RunningServer:
    """Start Label Studio headless and wait until its health endpoint answers. First start on an empty SQLite
    database takes ~30 s (migrations); a restart on the same ``data_dir`` a few seconds."""
    binary = executable or ensure_server_venv()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.document_root.mkdir(parents=True, exist_ok=True)
    log = log_path or settings.data_dir / "label-studio.log"
    command = [str(binary), "start", "--no-browser", "--internal-host", settings.host, "-p", str(settings.port),
               "--data-dir", str(settings.data_dir)]
    with open(log, "ab") as handle:
        process = subprocess.Popen(command, env=server_environment(settings), stdout=handle,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = RunningServer(settings, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ServerSetupError(f"Label Studio exited with code {process.returncode}: {tail[0]}", path=log,
                                   fix="read the log; is the port taken or the data folder from another version?")
        if _healthy(settings.url):
            return server
        time.sleep(0.5)
    server.stop()
    raise RemoteError(f"Label Studio at {settings.url} did not answer within {timeout:.0f} s", path=log,
                      fix="read the log for the cause")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
