"""Leaderboard numbers computed straight from a run folder's samples.jsonl, independently of eval.results:
plain Python over the per-sample records (the runner's output), following the documented rules: accuracy over
answered samples, grounding means over grounded samples, the best layer by mean Attention Ratio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.strip()]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def best_position(run_dir: Path) -> int:
    rows = [r for r in records(run_dir) if r["status"] == "ok" and "metrics" in r]
    n_layers = len(rows[0]["metrics"]["ar"])
    means = [sum(r["metrics"]["ar"][i] for r in rows) / len(rows) for i in range(n_layers)]
    return max(range(n_layers), key=lambda i: means[i])


def slice_numbers(run_dir: Path, *, modality: str = "all", question_type: str = "all") -> dict[str, Any]:
    best = best_position(run_dir)
    chosen = [r for r in records(run_dir) if modality in ("all", r["modality"])
              and question_type in ("all", r["question_type"])]
    answered = [r for r in chosen if r["status"] == "ok"]
    grounded = [r for r in answered if "metrics" in r]
    return {"n": len(chosen), "accuracy": _mean([1.0 if r["correct"] else 0.0 for r in answered]),
            **{m: _mean([r["metrics"][m][best] for r in grounded]) for m in ("ar", "kl", "js")},
            "best_layer": grounded[0]["layers"][best] if grounded else None}


def model_of(run_dir: Path) -> str:
    return str(json.loads((run_dir / "run.json").read_text())["model"])


def vgrefine_accuracy(run_dir: Path, *, modality: str = "all") -> float | None:
    chosen = [r for r in records(run_dir) if r["status"] == "ok" and "vgrefine" in r and modality in ("all", r["modality"])]
    return _mean([1.0 if r["vgrefine"]["correct"] else 0.0 for r in chosen])


def readable(text: str) -> str:
    """How the page shows a model answer: control characters and U+FFFD (bytes that were not UTF-8) escaped."""
    out = []
    for c in text:
        code = ord(c)
        out.append("\\ufffd" if code == 0xFFFD else f"\\x{code:02x}" if code < 0x20 or 0x7F <= code <= 0x9F else c)
    return "".join(out)
