"""Methods side by side: answer accuracy with 95% paired-bootstrap intervals, the difference from the baseline with
its interval, answers changed, and the attention metrics before and after each attention-changing method.

The samples compared are those every method answered (status ok, a score for each), so all differences are
paired. Bootstrap: ``resamples`` draws of the sample indices with replacement from
``numpy.random.default_rng(seed)``; the same draws for every method (paired); percentile intervals (2.5, 97.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vgmed_data.eval.metrics import HEAD_METRICS
from vgmed_data.eval.run_folder import SampleRecord

RESAMPLES = 10_000
SEED = 0
_CHUNK = 500  # resamples per block (bounded memory on large runs)


def _answer(record: SampleRecord, method: str) -> tuple[str, bool] | None:
    """``(answer, correct)`` of ``method`` on ``record`` (None where it has none)."""
    if method == "baseline":
        return None if record.prediction is None or record.correct is None else (record.prediction, record.correct)
    if method == "vgrefine":
        part = record.vgrefine
        return None if part is None or part.correct is None else (part.answer, bool(part.correct))
    other = record.methods.get(method)
    return None if other is None or other.correct is None else (other.answer, bool(other.correct))


def _after(record: SampleRecord, method: str) -> Any:
    if method == "baseline":
        return record.metrics
    if method == "vgrefine":
        return None if record.vgrefine is None else record.vgrefine.metrics_after
    other = record.methods.get(method)
    return None if other is None else other.metrics_after


def bootstrap_means(columns: NDArray[np.float64], *, resamples: int, seed: int) -> NDArray[np.float64]:
    """``[resamples, k]`` means of the ``[n, k]`` columns over paired resamples of the n rows."""
    rng = np.random.default_rng(seed)
    n = columns.shape[0]
    out = np.empty((resamples, columns.shape[1]))
    for start in range(0, resamples, _CHUNK):
        count = min(_CHUNK, resamples - start)
        rows = rng.integers(0, n, size=(count, n))
        out[start:start + count] = columns[rows].mean(axis=1)
    return out


def _interval(draws: NDArray[np.float64]) -> list[float]:
    low, high = np.percentile(draws, [2.5, 97.5])
    return [round(100.0 * float(low), 2), round(100.0 * float(high), 2)]


def side_by_side(records: Sequence[SampleRecord], *, methods: Sequence[str], resamples: int = RESAMPLES,
                 seed: int = SEED) -> dict[str, Any] | None:
    """``{"n", "resamples", "seed", "methods": [row per method]}``; a row: ``method``, ``accuracy`` (%),
    ``ci95``; with the baseline: ``difference`` (percentage points), ``difference_ci95``, ``changed`` (answers
    that differ from the baseline's); ``attention`` (mean layer metrics over the grounded samples: the
    baseline's measured maps, or the maps after an attention-changing method) and ``attention_change`` (paired
    mean after - before, per layer). None when no sample has an answer from every method."""
    rows = [r for r in records if r.ok and all(_answer(r, m) is not None for m in methods)]
    if not rows or not methods:
        return None
    answers = {m: [a for r in rows if (a := _answer(r, m)) is not None] for m in methods}  # one per row
    correct = np.array([[float(a[1]) for a in answers[m]] for m in methods]).T  # [n, methods]
    baseline = "baseline" in methods
    columns = correct
    if baseline:
        b = list(methods).index("baseline")
        columns = np.concatenate([correct, correct - correct[:, [b]]], axis=1)
    draws = bootstrap_means(columns, resamples=resamples, seed=seed)
    out = []
    for i, method in enumerate(methods):
        row: dict[str, Any] = {"method": method, "accuracy": round(100.0 * float(correct[:, i].mean()), 2),
                               "ci95": _interval(draws[:, i])}
        if baseline and method != "baseline":
            k = len(methods) + i
            row.update(difference=round(100.0 * float(columns[:, k].mean()), 2), difference_ci95=_interval(draws[:, k]),
                       changed=sum(a[0] != base[0] for a, base in zip(answers[method], answers["baseline"])))
        row.update(_attention(rows, method))
        out.append(row)
    return {"n": len(rows), "resamples": resamples, "seed": seed, "methods": out}


def _attention(rows: Sequence[SampleRecord], method: str) -> dict[str, Any]:
    pairs = [(r.metrics, _after(r, method)) for r in rows if r.metrics is not None and _after(r, method) is not None]
    if not pairs:
        return {}
    mean = {m: [round(float(v), 6) for v in np.mean([after[m] for _, after in pairs], axis=0)]
            for m in HEAD_METRICS}
    if method == "baseline":
        return {"attention": mean, "attention_n": len(pairs)}
    change = {m: [round(float(v), 6) for v in np.mean([np.subtract(after[m], before[m]) for before, after in pairs],
                                                      axis=0)] for m in HEAD_METRICS}
    return {"attention": mean, "attention_change": change, "attention_n": len(pairs)}


def _ci(values: list[float]) -> str:
    return f"[{values[0]:.2f}, {values[1]:.2f}]"


def markdown(table: dict[str, Any], *, layer_index: int | None, layer: int | None) -> str:
    """The side-by-side table; attention metrics at ``layer`` (the baseline's best layer by AR)."""
    at = f" at layer {layer}" if layer is not None else ""
    lines = [f"Samples answered by every method: {table['n']}. 95% intervals: paired bootstrap, "
             f"{table['resamples']} resamples, seed {table['seed']}.", "",
             f"| method | accuracy % [95% CI] | vs baseline, points [95% CI] | answers changed | AR{at} | KL{at} | "
             f"JS{at} |", "|---|---:|---:|---:|---:|---:|---:|"]
    for row in table["methods"]:
        diff = (f"{row['difference']:+.2f} {_ci(row['difference_ci95'])}" if "difference" in row else "-")
        metrics = ["-"] * 3
        if "attention" in row and layer_index is not None:
            metrics = [f"{row['attention'][m][layer_index]:.3f}" for m in HEAD_METRICS]
            if "attention_change" in row:
                metrics = [f"{v} ({row['attention_change'][m][layer_index]:+.3f})"
                           for v, m in zip(metrics, HEAD_METRICS)]
        lines.append(f"| {row['method']} | {row['accuracy']:.2f} {_ci(row['ci95'])} | {diff} | "
                     f"{row.get('changed', '-')} | " + " | ".join(metrics) + " |")
    lines += ["", "Attention columns: the baseline's measured maps, or the maps after an attention-changing method "
              "(VGRefine's knockout, PAI, AdaptVis) with the mean paired change in brackets; '-' where a method "
              "does not change "
              "attention or none was recorded.", ""]
    return "\n".join(lines)
