"""``vgmed annotate status`` fails loudly on a wrong token or an unreachable server, even in a workspace with no
project yet (it used to print nothing and exit 0): one line on stderr naming the URL, exit code 2, no traceback,
the token never printed. Run as the real command in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vgmed_data.annotation.server import free_port

pytestmark = pytest.mark.labelstudio


def status(workspace: Path, url: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vgmed_data.cli", "annotate", "status", "--workspace",
                           str(workspace), "--url", url, "--token", token], capture_output=True, text=True,
                          timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *, says: str, token: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("vgmed: error: ")
    assert says in result.stderr and "Traceback" not in result.stderr and token not in result.stderr


def test_status_with_a_wrong_token(tmp_path: Path, ls_connection) -> None:
    wrong = "0" * 40
    result = status(tmp_path / "ws", ls_connection.url, wrong)
    assert_one_line_error(result, says=f"connect: the token was refused (HTTP 401) by {ls_connection.url}",
                          token=wrong)


def test_status_with_an_unreachable_server(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = status(tmp_path / "ws", url, "1" * 40)
    assert_one_line_error(result, says=f"connect: cannot reach Label Studio at {url}", token="1" * 40)


def test_status_with_the_right_token_and_no_project(tmp_path: Path, ls_connection) -> None:
    result = status(tmp_path / "ws", ls_connection.url, ls_connection.token)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (f"{ls_connection.url}: connected; no project in {tmp_path / 'ws'} yet "
                                     "(vgmed annotate push creates one)")
