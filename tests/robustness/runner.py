"""Run a batch of ``vgmed`` command lines in one process (the corpus test's worker).

``python -m tests.robustness.runner BATCH.json RESULTS.json``: BATCH is a list of ``{"name", "argv", "cwd"}``;
each command line goes through :func:`vgmed_data.cli.main` exactly as the ``vgmed`` script does, with stdout
and stderr captured, warnings shown as a fresh process would show them, and a time limit. An exception that
escapes ``main`` is recorded with its traceback (the real script would print that traceback). Results: a list
of ``{"name", "exit", "stdout", "stderr", "escaped", "seconds"}``, written after every case so a killed worker
still says which case it was running.

One process per batch instead of one per case: importing the CLI's dependencies costs seconds, and the corpus
has over a hundred cases on a two-core CI machine. Each case still runs in its own folder with its own inputs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any


class CaseTimeout(BaseException):
    """Raised by the alarm; a BaseException so the CLI's last-resort handler cannot swallow it."""


def _alarm(signum: int, frame: object) -> None:
    raise CaseTimeout()


def run_case(argv: list[str], *, cwd: str, limit_s: int) -> dict[str, Any]:
    from vgmed_data.cli import main

    out, err = io.StringIO(), io.StringIO()
    escaped = None
    code: int | str | None
    start = time.monotonic()
    previous = os.getcwd()
    os.chdir(cwd)
    signal.alarm(limit_s)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.simplefilter("default")
            try:
                code = main(argv)
            except SystemExit as exit_:  # argparse
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            except CaseTimeout:
                code, escaped = "timeout", f"still running after {limit_s} s"
            except BaseException:  # noqa: BLE001 - recorded: the real script would print this traceback
                code, escaped = "traceback", traceback.format_exc()
    finally:
        signal.alarm(0)
        os.chdir(previous)
    return {"exit": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "escaped": escaped,
            "seconds": round(time.monotonic() - start, 3)}


def main(batch_path: str, results_path: str) -> None:
    import vgmed_data.cli as cli

    signal.signal(signal.SIGALRM, _alarm)
    report_internal = cli._internal_error

    def keep_traceback(error: BaseException) -> int:  # the one-line bug report, plus the traceback for the test
        print(traceback.format_exc(), file=sys.stderr)
        return report_internal(error)

    cli._internal_error = keep_traceback
    batch = json.loads(Path(batch_path).read_text())
    results = []
    for case in batch:
        result = run_case(case["argv"], cwd=case["cwd"], limit_s=int(case.get("limit_s", 60)))
        results.append({"name": case["name"], **result})
        Path(results_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:3])
