"""Benchmark: what ``vgmed publish`` spends before the upload, step by step, on a folder of ``--rows`` rows.

Before uploading, publish reads the folder's rows several times: validation (every row, images decoded),
the licence check, the PHI check, the release audit and the card (facts and split sizes). This prints the
seconds of each step (``vgmed_data.hub.publish_dataset`` runs them in this order, with these functions) and
their sum, so a change that records these facts once when the folder is written (issue 23 item 3) can be
measured against it: run it before and after on the same machine.

    .venv/bin/python bench/publish.py [--rows 10000] [--folder DIR]

The rows are the tests' tiny synthetic samples (tests/eval/data.py: 40-120 px RGB images, one box each); the
folder is written once to ``--folder`` (kept, reused when it exists) or to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.eval.data import write_tiny_dataset  # noqa: E402
from vgmed_data.card import CardOptions, render_card  # noqa: E402
from vgmed_data.guards import check_licences, check_phi  # noqa: E402
from vgmed_data.hub import release_checks  # noqa: E402
from vgmed_data.validate import validate_folder  # noqa: E402


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = step()
    return time.perf_counter() - started, value


def measure(folder: Path) -> dict[str, float]:
    seconds: dict[str, float] = {}
    seconds["validate"], problems = timed(lambda: validate_folder(folder))
    if problems:
        raise SystemExit(f"the benchmark folder does not validate: {problems[:3]}")
    seconds["licences"], report = timed(lambda: check_licences(folder, annotations_only=False))
    seconds["phi"], _ = timed(lambda: check_phi(folder, images_published=True))
    seconds["audit"], checks = timed(lambda: release_checks(folder, name="bench/publish", allow_leaks=False))
    options = CardOptions(repo_id="bench/publish", checks=checks)
    seconds["card"], _ = timed(lambda: render_card(folder, options=options, report=report))
    seconds["total"] = sum(seconds.values())
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the synthetic folder (default 10000)")
    parser.add_argument("--folder", type=Path, default=None,
                        help="write the folder here and keep it (reused when it exists; default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vgmed-bench-publish-") as scratch:
        folder = args.folder or Path(scratch) / "folder"
        written = 0.0
        if not folder.exists():
            written, _ = timed(lambda: write_tiny_dataset(folder, args.rows))
        print(json.dumps({"rows": args.rows, "write_seconds": round(written, 2),
                          "seconds": {k: round(v, 2) for k, v in measure(folder).items()},
                          "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}, indent=1))


if __name__ == "__main__":
    main()
