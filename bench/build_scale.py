"""Benchmark ``vgmed build vgmed`` over an IDC download as it grows: time and peak memory at 50, 200 and 800
synthetic cases (CT + BINARY SEG in IDC's folder hierarchy, 32x32 pixels, 4 slices each), and the cost of
sharding: 4 parts built one after another plus the merge, against the single build of the same cases.

    python bench/build_scale.py [--cases 50,200,800] [--shard-cases 800] [--shards 4] [--repeat 2]

Each build runs in its own process (so its peak RSS and CPU time are its own). ``--repeat`` rounds each run every
kind of build once, so a slow spell of the machine falls on all kinds alike; a figure is the smallest over the
rounds (on a shared machine the neighbours only ever add time). Prints one JSON summary with
the three ratios the targets are stated for: time 800/200 (<= 4.4), peak RSS 800 vs 50 (<= 1.3), 4 parts one
after another + merge vs the single build (<= 1.1; by default on the largest download, where the per-process
costs that any build pays once, and a sharded one once per part, weigh what they weigh at collection scale).
Times are CPU seconds of the build process (wall seconds beside them): wall time also measures whatever else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEY = "bench-key-not-secret"
OPTIONS = {"min_pixels": 1, "min_size_mm": None, "on_bad": "error"}


def write_download(root: Path, cases: int) -> Path:
    from tests.idc import miniature as mini

    mini.write_collection(root, collection="bench_ct", kinds={f"P{n:05d}": "ct-seg" for n in range(cases)},
                          size=32, slices=4)
    return root


def _child(argv: list[str]) -> None:
    """One build in this process: ``single SRC OUT`` | ``part SRC OUT I N`` | ``merge OUT PART...``."""
    import resource

    from vgmed_data.builders.shards import build_part, merge_parts
    from vgmed_data.builders.vgmed import BuildOptions, build_vgmed

    options = BuildOptions(**OPTIONS)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    if argv[0] == "single":
        build_vgmed([("idc", argv[1])], out=argv[2], options=options, deid_key=KEY, quiet=True)
    elif argv[0] == "part":
        build_part([("idc", argv[1])], out=argv[2], shard=(int(argv[3]), int(argv[4])), options=options,
                   deid_key=KEY, quiet=True)
    else:
        merge_parts(argv[2:], out=argv[1], quiet=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                      "peak_rss_mb": round(after.ru_maxrss / 1024, 1)}))


def run(*argv: str, out: Path) -> dict[str, float]:
    """One build (``argv``, writing the folder ``out``, removed first) in a fresh process."""
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run([sys.executable, __file__, "--child", *argv], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def smallest(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: min(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="50,200,800")
    parser.add_argument("--shard-cases", type=int, default=0, help="download size of the shard comparison "
                        "(default: the largest of --cases)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds (each builds every kind once); a figure is "
                        "the minimum over the rounds")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    sizes = [int(n) for n in args.cases.split(",")]
    shard_cases = args.shard_cases or max(sizes)
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        sources = {cases: write_download(base / f"src{cases}", cases) for cases in sorted(set(sizes + [shard_cases]))}
        for _ in range(args.repeat):  # every kind of build once per round: a slow spell of the machine hits all
            builds = {str(cases): run("single", str(source), str(base / f"out{cases}"), out=base / f"out{cases}")
                      for cases, source in sources.items()}
            source = sources[shard_cases]
            parts = [run("part", str(source), str(base / f"part{i}"), str(i), str(args.shards),
                         out=base / f"part{i}") for i in range(args.shards)]
            merge = run("merge", str(base / "merged"), *(str(base / f"part{i}") for i in range(args.shards)),
                        out=base / "merged")
            rounds.append({"builds": builds, "parts": parts, "merge": merge})
        compared = subprocess.run(["diff", "-rq", str(base / f"out{shard_cases}"), str(base / "merged")],
                                  capture_output=True, text=True)
        identical = compared.returncode == 0
    results = {cases: smallest([r["builds"][cases] for r in rounds]) for cases in rounds[0]["builds"]}
    single = results[str(shard_cases)]
    parts = [smallest([r["parts"][i] for r in rounds]) for i in range(args.shards)]
    merge = smallest([r["merge"] for r in rounds])
    small, mid, large = (str(n) for n in sorted(sizes))

    def ratio(top: float, bottom: float) -> float:
        return round(top / bottom, 2)

    sharded = {m: sum(p[m] for p in parts) + merge[m] for m in ("seconds", "cpu_seconds")}
    summary = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average": [round(x, 2) for x in os.getloadavg()], "repeat": args.repeat, "shard_cases": shard_cases,
        "builds": results,
        # CPU time (user + system of the build process) is what the ratios use: on a shared machine wall time
        # also measures the neighbours; wall-time ratios are given beside them
        "time_ratio_large_over_mid": ratio(results[large]["cpu_seconds"], results[mid]["cpu_seconds"]),
        "wall_time_ratio_large_over_mid": ratio(results[large]["seconds"], results[mid]["seconds"]),
        "peak_rss_ratio_large_over_small": round(results[large]["peak_rss_mb"] / results[small]["peak_rss_mb"], 2),
        "shards": {"parts": parts, "merge": merge, "single": single,
                   "ratio": ratio(sharded["cpu_seconds"], single["cpu_seconds"]),
                   "ratio_per_round": [ratio(sum(p["cpu_seconds"] for p in r["parts"]) + r["merge"]["cpu_seconds"],
                                             r["builds"][str(shard_cases)]["cpu_seconds"]) for r in rounds],
                   "wall_ratio": ratio(sharded["seconds"], single["seconds"]),
                   "merged_equals_single": identical,
                   **({} if identical else {"differences": compared.stdout.replace(str(base), "")[:2000]})},
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
