"""Benchmark ``vgmed build vgmed``: samples per second for a NIfTI source (MSD-style CT volumes) and a 2D
source (Kvasir-SEG-style JPEG pairs), with 1 and N workers, and peak memory (max RSS of the main process and of
the largest worker).

    python bench/build.py --cases 24 --images 400 --workers 2

Writes a JSON summary to stdout. Data are synthetic miniatures in the real layouts (tests/builders/miniatures.py)
at realistic sizes (512x512xZ int16 volumes, 640x480 JPEG images).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vgmed_data.builders.vgmed import BuildOptions, build_vgmed  # noqa: E402
from tests.builders import miniatures as mini  # noqa: E402


def make_nifti(root: Path, cases: int, depth: int) -> Path:
    rng = np.random.default_rng(0)
    shape = (512, 512, depth)
    labels = {}
    for index in range(cases):
        label = np.zeros(shape, np.uint8)
        x, y = rng.integers(100, 300, size=2)
        label[x:x + 120, y:y + 90, depth // 4: 3 * depth // 4] = 1
        labels[f"spleen_{index}"] = label
    return mini.write_msd_task(root, task="Task09_Spleen", labels={"1": "spleen"}, cases=labels, modality={"0": "CT"})


def make_2d(root: Path, images: int) -> Path:
    rng = np.random.default_rng(1)
    masks = {}
    for index in range(images):
        mask = np.zeros((480, 640), np.uint8)
        x, y = rng.integers(50, 400, size=2)
        mask[y // 2: y // 2 + 160, x: x + 180] = 1
        masks[f"img{index:05d}"] = mask
    return mini.write_kvasir(root, masks)


def run(key: str, path: Path, workers: int, out: Path) -> dict[str, float]:
    start = time.perf_counter()
    report = build_vgmed([(key, path)], out=out, options=BuildOptions(num_proc=workers))
    seconds = time.perf_counter() - start
    return {"workers": workers, "samples": report["samples"], "seconds": round(seconds, 2),
            "samples_per_s": round(report["samples"] / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=24)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        nifti, raster = make_nifti(root / "msd", args.cases, args.depth), make_2d(root, args.images)
        results = {"nifti (msd-spleen, 512x512x%d int16)" % args.depth: [], "2d (kvasir-seg, 640x480 jpeg)": []}
        for workers in (1, args.workers):
            results["nifti (msd-spleen, 512x512x%d int16)" % args.depth].append(
                run("msd-spleen", nifti, workers, root / f"out-n{workers}"))
            results["2d (kvasir-seg, 640x480 jpeg)"].append(run("kvasir-seg", raster, workers, root / f"out-r{workers}"))
    summary = {
        "machine": f"{platform.machine()} {platform.processor() or ''} cpus={__import__('os').cpu_count()} "
                   f"python {platform.python_version()}",
        "results": results,
        "peak_rss_main_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_largest_worker_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
