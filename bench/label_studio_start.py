"""Benchmark: how long Label Studio's FIRST start (empty SQLite database: all migrations) and a restart take,
alone and with N CPU-bound processes beside it (``--busy 2`` keeps both cores of a 2-core machine busy).

The start timeout of ``vgmed_data.annotation.server`` (START_TIMEOUT) is sized from the slowest of these. Each
start uses a fresh temporary data folder and a free port; the load average is printed with each time because
other work on a shared machine adds to the busy processes.

    .venv/bin/python -m bench.label_studio_start [--busy 0 2] [--restart]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vgmed_data.annotation.server import ServerSettings, ensure_server_venv, start_server

SPIN = "while True: pass"


def timed_start(settings: ServerSettings, executable: Path) -> float:
    started = time.monotonic()
    server = start_server(settings, executable=executable, progress=lambda line: print("   ", line, flush=True))
    elapsed = time.monotonic() - started
    server.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 2], help="CPU-bound processes beside the start")
    parser.add_argument("--restart", action="store_true", help="also time a restart on the migrated database")
    args = parser.parse_args()
    executable = ensure_server_venv()
    print(f"{os.cpu_count()} cores; Label Studio at {executable}")
    for busy in args.busy:
        spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(busy)]
        root = Path(tempfile.mkdtemp(prefix="vgmed-ls-bench-"))
        try:
            settings = ServerSettings.create(data_dir=root / "data")
            load_before = os.getloadavg()[0]
            first = timed_start(settings, executable)
            line = f"busy={busy}: first start {first:.1f} s"
            if args.restart:
                line += f", restart {timed_start(settings, executable):.1f} s"
            print(f"{line} (load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)", flush=True)
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
