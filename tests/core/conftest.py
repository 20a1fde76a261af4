"""Lines that tests in this folder add to pytest's terminal summary (e.g. the de-identification table coverage)."""

from __future__ import annotations

from typing import Any

SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in SUMMARY:
        terminalreporter.write_line(line)
