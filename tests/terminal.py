"""Run a command with its stderr on a pseudo-terminal (as in an interactive shell), stdout on a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_on_terminal(command: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
                    timeout: float = 300) -> tuple[int, str, str]:
    """(exit status, stdout, what the terminal showed on stderr)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty is 0x0
    try:
        process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL,
                                   env=dict(env) if env is not None else None, cwd=cwd)
        os.close(follower)
        follower = -1
        shown = bytearray()
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        stdout = process.stdout.read().decode() if process.stdout else ""
        code = process.wait(timeout=timeout)
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    return code, stdout, shown.decode(errors="replace")
