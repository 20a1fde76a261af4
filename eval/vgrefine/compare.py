"""Side-by-side summary of ``--method baseline,vgrefine`` records: accuracy with and without VGRefine and the
difference, overall and by modality / question type.

Input records: the run's :class:`vgmed_data.eval.run_folder.SampleRecord` objects, each with the baseline's score
and a :class:`vgmed_data.eval.run_folder.VGRefineRecord` with its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from vgmed_data.eval.run_folder import SampleRecord


def side_by_side(records: Iterable[SampleRecord], *, keys: tuple[str, ...] = ("modality", "question_type")
                 ) -> dict[str, list[dict[str, Any]]]:
    """``{"all": [row], key: [row per value]}``; a row: ``n``, ``baseline``, ``vgrefine``, ``difference``
    (accuracies in percent) and ``changed`` (answers that differ)."""
    groups: dict[str, dict[str, list[SampleRecord]]] = {"all": {"all": []}, **{k: defaultdict(list) for k in keys}}
    for record in records:
        if not record.ok or record.vgrefine is None:
            continue
        groups["all"]["all"].append(record)
        for key in keys:
            groups[key][str(getattr(record, key))].append(record)
    return {name: [_row(value, rows) for value, rows in sorted(by.items())] for name, by in groups.items()}


def _row(value: str, rows: list[SampleRecord]) -> dict[str, Any]:
    n = len(rows)
    refines = [r.vgrefine for r in rows if r.vgrefine is not None]
    base = 100.0 * sum(bool(r.correct) for r in rows) / n if n else 0.0
    refined = 100.0 * sum(bool(v.correct) for v in refines) / n if n else 0.0
    changed = sum(v.answer != r.prediction for v, r in zip(refines, rows))
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
