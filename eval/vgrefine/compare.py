"""Side-by-side summary of ``--method baseline,vgrefine`` records: accuracy with and without VGRefine and the
difference, overall and by modality / question type.

Input records: the runner's per-sample dicts, each holding the baseline ``correct`` and, under ``"vgrefine"``,
:meth:`vgmed_data.eval.vgrefine.result.VGRefineAnswer.record` plus its own ``correct``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any


def side_by_side(records: Iterable[dict[str, Any]], *, keys: tuple[str, ...] = ("modality", "question_type")
                 ) -> dict[str, list[dict[str, Any]]]:
    """``{"all": [row], key: [row per value]}``; a row: ``n``, ``baseline``, ``vgrefine``, ``difference``
    (accuracies in percent) and ``changed`` (answers that differ)."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {"all": {"all": []}, **{k: defaultdict(list) for k in keys}}
    for record in records:
        if record.get("status") != "ok" or "vgrefine" not in record:
            continue
        groups["all"]["all"].append(record)
        for key in keys:
            groups[key][str(record.get(key, "?"))].append(record)
    return {name: [_row(value, rows) for value, rows in sorted(by.items())] for name, by in groups.items()}


def _row(value: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    base = 100.0 * sum(bool(r.get("correct")) for r in rows) / n if n else 0.0
    refined = 100.0 * sum(bool(r["vgrefine"].get("correct")) for r in rows) / n if n else 0.0
    changed = sum(r["vgrefine"].get("answer") != r.get("prediction") for r in rows)
    return {"group": value, "n": n, "baseline": round(base, 2), "vgrefine": round(refined, 2),
            "difference": round(refined - base, 2), "changed": changed}


def markdown(table: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for name, rows in table.items():
        lines += [f"### {name}", "", "| group | n | baseline | VGRefine | difference | answers changed |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['group']} | {r['n']} | {r['baseline']:.2f} | {r['vgrefine']:.2f} | {r['difference']:+.2f} | "
                  f"{r['changed']} |" for r in rows]
        lines.append("")
    return "\n".join(lines)
