"""Summary (JSON + markdown), the per-layer plot and heat-map overlays of a finished run."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vgmed_data.eval.metrics import HEAD_METRICS, LOWER_IS_BETTER, METRICS
from vgmed_data.eval.run_folder import Manifest, RunFolder, SampleRecord, write_json

METRIC_NAMES = tuple(METRICS)


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 6) if len(values) else None


def _group_stats(records: Sequence[SampleRecord], layers: Sequence[int]) -> dict[str, Any]:
    answered = [r for r in records if r.ok]
    grounded = [r for r in answered if r.metrics is not None]
    per_layer = {name: [_mean([r.metrics[name][i] for r in grounded]) for i in range(len(layers))]  # type: ignore[index]
                 for name in METRIC_NAMES}
    return {"n": len(records), "answered": len(answered), "grounded": len(grounded),
            "accuracy": _mean([float(r.correct) for r in answered if r.correct is not None]),  # baseline answers
            "per_layer": per_layer}


def vgrefine_summary(records: Sequence[SampleRecord], *, methods: Sequence[str]) -> dict[str, Any] | None:
    """VGRefine's part of the summary: its parameters, accuracy, blocked-token counts and, when the baseline ran
    too, :func:`vgmed_data.eval.vgrefine.compare.side_by_side` (accuracy in percent, both methods and the difference)."""
    from vgmed_data.eval.vgrefine.compare import side_by_side

    refined = [r for r in records if r.ok and r.vgrefine is not None]
    if "vgrefine" not in methods:
        return None
    parts = [r.vgrefine for r in refined if r.vgrefine is not None]
    both = "baseline" in methods
    return {
        "n": len(refined), "parameters": dict(parts[0].parameters) if parts else None,
        "accuracy": _mean([float(bool(p.correct)) for p in parts]),
        "mean_blocked": _mean([float(len(p.blocked)) for p in parts]),
        "mean_tokens": _mean([float(p.grid[0] * p.grid[1]) for p in parts]),
        "side_by_side": side_by_side(records) if both else None,
        # the fast path's own plain answer vs the batched baseline answer: should be 0 (numerics, ties otherwise)
        "plain_differs_from_baseline": (sum(p.answer_without_vgrefine != r.prediction
                                            for p, r in zip(parts, refined)) if both else None),
    }


def summarise(records: Sequence[SampleRecord], *, manifest: Manifest, adapter: dict[str, Any]) -> dict[str, Any]:
    ok = [r for r in records if r.ok]
    layers = list(ok[0].layers or ()) if ok else list(manifest.layers or [])
    skips: dict[str, int] = defaultdict(int)
    for record in records:  # counted by the reason each record carries (the error's category)
        if not record.ok:
            skips[f"{record.status}: {record.skip_reason}"] += 1
        elif record.grounding_skip is not None:
            skips[f"grounding: {record.grounding_skip}"] += 1
    overall = _group_stats(records, layers)
    ar = [v for v in overall["per_layer"]["ar"] if v is not None]
    best = layers[int(np.argmax(overall["per_layer"]["ar"]))] if ar and len(ar) == len(layers) else None
    groups: dict[str, dict[str, Any]] = {}
    for key in ("modality", "question_type"):
        values = sorted({str(getattr(r, key)) for r in records})
        groups[key] = {v: _group_stats([r for r in records if str(getattr(r, key)) == v], layers) for v in values}
    methods = list(manifest.methods)
    from vgmed_data.eval.methods.compare import side_by_side

    return {"model": manifest.model, "dataset": manifest.dataset, "adapter": adapter,
            "methods": methods, "vgrefine": vgrefine_summary(records, methods=methods),
            "interventions": manifest.interventions,
            "side_by_side": side_by_side(records, methods=methods) if len(methods) > 1 else None,
            "random_weights": (Path(manifest.model) / "tiny_checkpoint.json").exists(),
            "query": manifest.query,
            "attention_prompt": manifest.attention_prompt, "layers": layers, "best_layer_by_ar": best,
            "protocol": manifest.run_protocol, "protocol_settings": adapter.get("protocol"),
            "grids": _grid_counts(ok),
            "counts": {"samples": len(records), "answered": overall["answered"], "grounded": overall["grounded"],
                       "skipped": dict(sorted(skips.items()))},
            "overall": overall, "by": groups}


def _grid_counts(records: Sequence[SampleRecord]) -> dict[str, int]:
    """How many answered samples had each image-token grid (``"rows x cols"``), most common first."""
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        if record.grid is not None:
            counts[f"{record.grid[0]}x{record.grid[1]}"] += 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(summary: dict[str, Any]) -> str:
    layers = summary["layers"]
    best = summary["best_layer_by_ar"]
    best_i = layers.index(best) if best is not None else None
    lines = [f"# VGMED evaluation: {summary['model']}", ""]
    if summary["random_weights"]:
        lines += ["**This model has random weights: every number below is noise. The run only exercises the "
                  "evaluator.**", ""]
    counts = summary["counts"]
    lines += [f"Dataset: `{summary['dataset']}`. Samples: {counts['samples']}, answered {counts['answered']}, "
              f"with grounding metrics {counts['grounded']}. Query row: {summary['query']}. "
              f"Attention prompt: {summary['attention_prompt']}. "
              f"Protocol: {summary['protocol']}. Image-token grids (rows x cols: samples): "
              f"{', '.join(f'{k}: {v}' for k, v in summary['grids'].items()) or '-'}.", ""]
    if counts["skipped"]:
        lines += ["Skipped (counted):", ""] + [f"- {k}: {v}" for k, v in counts["skipped"].items()] + [""]
    refine = summary["vgrefine"]
    if refine is not None:
        lines += _vgrefine_markdown(refine)
    table = summary["side_by_side"]
    if table is not None:
        from vgmed_data.eval.methods.compare import markdown as methods_markdown

        lines += ["## Methods side by side", "", methods_markdown(table, layer_index=best_i, layer=best)]
        for name, params in (summary["interventions"] or {}).items():
            lines.append(f"- {name}: " + ", ".join(f"{k}={v}" for k, v in params.items()))
        lines.append("")
    at = f" at layer {best} (best mean AR)" if best is not None else ""
    lines += [f"## By modality and question type{at}", "",
              "| group | value | n | accuracy | AR | KL | JS | PG | EPG |", "|---|---|---|---|---|---|---|---|---|"]
    rows = [("all", "all", summary["overall"])] + [
        (key, value, stats) for key, by in summary["by"].items() for value, stats in by.items()]
    for key, value, stats in rows:
        metrics = [_fmt(stats["per_layer"][m][best_i]) if best_i is not None else "-" for m in METRIC_NAMES]
        lines.append(f"| {key} | {value} | {stats['n']} | {_fmt(stats['accuracy'])} | " + " | ".join(metrics) + " |")
    lines += ["", "## By layer (all samples; AR higher is better, KL/JS lower)", "",
              "| layer | AR | KL | JS | PG | EPG |", "|---|---|---|---|---|---|"]
    for i, layer in enumerate(layers):
        lines.append(f"| {layer} | " + " | ".join(_fmt(summary["overall"]["per_layer"][m][i]) for m in METRIC_NAMES)
                     + " |")
    return "\n".join(lines) + "\n"


def _vgrefine_markdown(refine: dict[str, Any]) -> list[str]:
    from vgmed_data.eval.vgrefine.compare import markdown as side_by_side_markdown

    params = refine["parameters"] or {}
    lines = ["## Baseline vs VGRefine (answer accuracy, %)", "",
             f"VGRefine parameters: heads {params.get('heads')}, masked layers {params.get('masked_layers')}, "
             + (f"min-max threshold {params['threshold']}" if params.get("threshold") is not None
                else f"percentile {params.get('percentile')}")
             + f", normalise {params.get('normalise')}, rows {params.get('rows')}. Blocked tokens per sample: "
             f"{_fmt(refine['mean_blocked'])} of {_fmt(refine['mean_tokens'])} on average. Samples: {refine['n']}.",
             ""]
    if refine["side_by_side"] is None:
        return lines + [f"VGRefine accuracy: {_fmt(refine['accuracy'])} (baseline not run).", ""]
    differs = refine["plain_differs_from_baseline"]
    note = ([f"Note: on {differs} sample(s) the plain answer decoded on VGRefine's cached path differs from the "
             "baseline's batched answer (numerics or ties); the comparison uses the baseline's.", ""] if differs else [])
    return lines + [side_by_side_markdown(refine["side_by_side"])] + note


def plot_layers(summary: dict[str, Any], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = summary["layers"]
    per_layer = summary["overall"]["per_layer"]
    if not layers or all(v is None for v in per_layer["ar"]):
        return None
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for axis, name in zip(axes, HEAD_METRICS):
        values = [np.nan if v is None else v for v in per_layer[name]]
        axis.plot(layers, values, marker="o")
        axis.set_title(name.upper() + (" (lower is better)" if name in LOWER_IS_BETTER else " (higher is better)"))
        axis.set_xlabel("layer")
    if summary["random_weights"]:
        figure.suptitle("random-weight model: noise", color="red")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def overlay(image: Any, boxes: Sequence[Sequence[float]], attention_grid: np.ndarray, transform: Any, path: Path,
            *, title: str, blocked: np.ndarray | None = None) -> Path:
    """Image + ground-truth boxes + the attention grid drawn where its cells fall on the stored image (the
    inverse of the model's input transform, so padding and crops land right). ``blocked``: a boolean grid of
    the same shape whose True cells are hatched (VGRefine's blocked tokens)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows, cols = attention_grid.shape
    width, height = transform.dst_size
    xs = transform.inverse_points(np.stack([np.linspace(0, width, cols + 1), np.zeros(cols + 1)], 1))[:, 0]
    ys = transform.inverse_points(np.stack([np.zeros(rows + 1), np.linspace(0, height, rows + 1)], 1))[:, 1]
    figure, axis = plt.subplots(figsize=(5, 5 * image.height / max(image.width, 1)))
    axis.imshow(image)
    axis.pcolormesh(xs, ys, attention_grid, cmap="jet", alpha=0.45, shading="flat")
    if blocked is not None:
        for row, col in zip(*np.nonzero(blocked)):
            axis.add_patch(Rectangle((xs[col], ys[row]), xs[col + 1] - xs[col], ys[row + 1] - ys[row], fill=False,
                                     hatch="///", edgecolor="white", linewidth=0.0))
    for x1, y1, x2, y2 in boxes:
        axis.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="lime", linewidth=2))
    axis.set_xlim(0, image.width)
    axis.set_ylim(image.height, 0)
    axis.set_title(title, fontsize=8, parse_math=False)  # questions and answers may hold "$": never mathtext
    axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _overlays(folder: RunFolder, records: Sequence[SampleRecord], summary: dict[str, Any], count: int,
              dataset: str | None, config: str, split: str) -> list[str]:
    from vgmed_data.eval.data import iter_samples
    from vgmed_data.eval.metrics import normalised_map
    from vgmed_data.eval.vgrefine.evaluate import BLOCKED_KEY, TRIAGE_KEY
    from vgmed_data.geometry import Transform

    chosen = [r for r in records if r.metrics is not None][:count]
    if not chosen or dataset is None:
        return []
    root = folder.root
    wanted = {r.id: r for r in chosen}
    last = max(r.index for r in chosen)
    arrays = dict(folder.attention(set(wanted)))
    out_dir = root / "overlays"
    out_dir.mkdir(exist_ok=True)
    written = []
    layers = summary["layers"]
    layer = summary["best_layer_by_ar"] if summary["best_layer_by_ar"] is not None else layers[-1]
    li = layers.index(layer)
    for sample in iter_samples(dataset, config=config, split=split, limit=last + 1):
        record = wanted.get(sample.id)
        if record is None or record.grid is None or record.input_transform is None or record.metrics is None:
            continue  # (the records chosen for overlays are grounded: they have all three)
        q = arrays[f"{sample.id}__question"].astype(np.float64)[li]
        g = arrays[f"{sample.id}__general"].astype(np.float64)[li]
        grid = normalised_map(q.mean(axis=0), g.mean(axis=0)).reshape(record.grid)
        image = sample.image()
        transform = Transform.from_dict(record.input_transform)
        note = " (random model)" if summary["random_weights"] else ""
        title = f"{sample.id} layer {layer} AR {record.metrics['ar'][li]:.2f}{note}\n{sample.question[:80]}"
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in sample.id)
        written.append(str(overlay(image, sample.boxes, grid, transform, out_dir / f"{safe}.png", title=title)
                           .relative_to(root)))
        triage = arrays.get(f"{sample.id}__{TRIAGE_KEY}")
        if triage is not None and record.vgrefine is not None:  # VGRefine: the triage map, blocked tokens hatched
            refine = record.vgrefine
            title = (f"{sample.id} VGRefine triage, {len(refine.blocked)} blocked (hatched){note}\n"
                     f"answer {refine.answer[:40]!r} vs baseline {str(record.prediction)[:40]!r}")
            written.append(str(overlay(image, sample.boxes, triage.astype(np.float64), transform,
                                       out_dir / f"{safe}__vgrefine.png", title=title,
                                       blocked=arrays[f"{sample.id}__{BLOCKED_KEY}"]).relative_to(root)))
    return written


def write_reports(folder: RunFolder, records: Sequence[SampleRecord], *, manifest: Manifest,
                  adapter: dict[str, Any], overlays: int, dataset: str | None, config: str, split: str
                  ) -> dict[str, Any]:
    root = folder.root
    summary = summarise(records, manifest=manifest, adapter=adapter)
    plot = plot_layers(summary, root / "layers.png")
    summary["files"] = {"samples": folder.samples_path.name, "summary_md": "summary.md",
                        "attention": sorted(str(p.relative_to(root)) for p in folder.attention_dir.glob("*.npz")),
                        "layers_plot": plot.name if plot else None,
                        "overlays": _overlays(folder, records, summary, overlays, dataset, config, split)}
    write_json(folder.summary_path, summary)
    (root / "summary.md").write_text(markdown(summary))
    return summary
