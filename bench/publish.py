"""Benchmark: what ``vgmed publish`` spends before the upload, step by step, on a folder of ``--rows`` rows.

The folder writer records the folder's facts (:mod:`vgmed_data.facts`) while it writes; publishing verifies them
(every shard's size and sha256) and then reads no row: validation checks the card and the shard footers, the
licence and PHI guards, the audit and the card read the recorded facts. Without facts (a folder written by an
older version, or shards changed after writing) publishing reads the rows several times: validation (every row,
images decoded), the licence check, the PHI check, the release audit and the card (counts and split sizes).
This prints the seconds of each step both ways (``facts``: as ``vgmed_data.hub.release_guards`` runs them on a
folder whose facts hold; ``full``: the facts ignored, the path of every publish before issue 23 item 3) and
their sums, with the time the folder took to write (facts recorded included).

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
from vgmed_data.facts import Verified, verify  # noqa: E402
from vgmed_data.guards import check_licences, check_phi  # noqa: E402
from vgmed_data.hub import release_checks  # noqa: E402
from vgmed_data.validate import validate_folder  # noqa: E402


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = step()
    return time.perf_counter() - started, value


def measure(folder: Path, *, use_facts: bool) -> dict[str, float]:
    seconds: dict[str, float] = {}
    verified: Verified | None = None
    if use_facts:
        seconds["verify"], (verified, line) = timed(lambda: verify(folder))
        if verified is None:
            raise SystemExit(f"the benchmark folder's facts do not hold: {line}")
    facts = verified
    seconds["validate"], problems = timed(lambda: validate_folder(folder, rows=facts is None))
    if problems:
        raise SystemExit(f"the benchmark folder does not validate: {problems[:3]}")
    seconds["licences"], report = timed(lambda: check_licences(
        folder, annotations_only=False, report=facts.licence_report() if facts else None))
    if facts is None or not facts.phi_clean(images_published=True):
        seconds["phi"], _ = timed(lambda: check_phi(folder, images_published=True))
    else:
        seconds["phi"] = 0.0
    seconds["audit"], checks = timed(lambda: release_checks(folder, name="bench/publish", allow_leaks=False,
                                                            recorded=facts.audit() if facts else None))
    options = CardOptions(repo_id="bench/publish", checks=checks)
    seconds["card"], _ = timed(lambda: render_card(folder, options=options, report=report,
                                                   facts=facts.card_facts() if facts else None,
                                                   sizes=facts.sizes() if facts else None))
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
        runs = {name: {k: round(v, 2) for k, v in measure(folder, use_facts=name == "facts").items()}
                for name in ("full", "facts")}
        print(json.dumps({"rows": args.rows, "write_seconds": round(written, 2), "seconds": runs,
                          "ratio_full_to_facts": round(runs["full"]["total"] / runs["facts"]["total"], 1),
                          "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}, indent=1))


if __name__ == "__main__":
    main()
