"""Grounding metrics per sample: time of ``grounding_metrics`` (per layer and per head, every metric) at real
model shapes, and what 100k samples would cost.

    python bench/metrics.py                       # [28, 28, 576] (7B, 24x24 grid) and [36, 32, 1296] (36x36)
    python bench/metrics.py --shape 28,28,576 --repeats 50

Inputs are float32 maps as the runner holds them (random Dirichlet rows, a 40-cell ground-truth set). Each
shape: a warm-up, then ``--repeats`` timed calls; the median is reported (the minimum too: on a shared machine
the median carries the other processes' load). ``--reference`` also times the per-metric functions one by one
on the head maps (the implementation before ``map_metrics``) and prints the largest difference between the
two, which must stay below 1e-9.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import time

import numpy as np

from vgmed_data.eval.metrics import METRICS, grounding_metrics, layer_and_head_maps

SHAPES = ((28, 28, 576), (36, 32, 1296))
SAMPLES = 100_000


def _inputs(shape: tuple[int, int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    layers, heads, n = shape
    question = rng.dirichlet(np.full(n, 0.3), size=(layers, heads)).astype(np.float32)
    general = rng.dirichlet(np.ones(n), size=(layers, heads)).astype(np.float32)
    gt = np.zeros(n, dtype=bool)
    gt[rng.choice(n, size=min(40, n), replace=False)] = True
    return question, general, gt


def _time(fn, repeats: int) -> tuple[float, float, float]:  # noqa: ANN001
    """Median and minimum wall time per call, and the median CPU time of this process per call (on a shared
    machine the CPU time is the cost of the work itself; the wall time adds waiting for a core)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), min(walls), statistics.median(cpus)


def _per_metric(head_map: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    return {name: fn(head_map, gt) for name, fn in METRICS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", action="append", default=None, help="layers,heads,tokens (repeatable)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--reference", action="store_true", help="also time the per-metric functions")
    args = parser.parse_args()
    shapes = [tuple(int(v) for v in s.split(",")) for s in args.shape] if args.shape else SHAPES
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
          f"numpy {np.__version__}")
    for shape in shapes:
        question, general, gt = _inputs(shape)  # type: ignore[arg-type]
        median, best, cpu = _time(functools.partial(grounding_metrics, question, general, gt), args.repeats)
        print(f"[{shape[0]}, {shape[1]}, {shape[2]}]: {median * 1e3:.2f} ms per sample wall (min {best * 1e3:.2f}), "
              f"{cpu * 1e3:.2f} ms CPU; {SAMPLES:,} samples: {median * SAMPLES / 60:.1f} min wall, "
              f"{cpu * SAMPLES / 60:.1f} min CPU")
        if args.reference:
            layer_map, head_map = layer_and_head_maps(question, general)

            reference = functools.partial(_per_metric, head_map, gt)
            ref_median, _, ref_cpu = _time(reference, max(args.repeats // 3, 3))
            fast = grounding_metrics(question, general, gt)["head"]
            diff = max(float(np.max(np.abs(fast[k] - v))) for k, v in reference().items())
            print(f"    per-metric functions on the head maps alone: {ref_median * 1e3:.2f} ms wall, "
                  f"{ref_cpu * 1e3:.2f} ms CPU; largest difference {diff:.1e}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
