"""Read a finished run folder (``vgmed eval run --out RUN_DIR``) into results rows.

What is read (through :mod:`vgmed_data.eval.run_folder`, which owns the layout): ``run.json`` (model, dataset,
settings fingerprint), ``samples.jsonl`` (answers, correctness, metrics per layer, grid, input transform), the attention
shards ``attention/*.npz`` (question and general maps per sample), ``summary.json`` (adapter description), and
the dataset itself (for the images and boxes the viewer shows). Summary numbers are recomputed here from the
per-sample records (means over answered / grounded samples), so every breakdown slice follows one rule.

VGRefine (``--method baseline,vgrefine``): a record's ``vgrefine`` object (prediction, correctness, blocked
tokens, triage map, parameters) becomes a second ``runs`` row with ``method = "vgrefine"`` and fills the
VGRefine columns of the ``samples`` row. The interventions of ``eval.methods`` (``pai``, ``vcd``, ``adaptvis``,
``blind``) each become a ``runs`` row too (their grounding columns: the metrics after the intervention, for the
methods that change attention). With more than one method every row carries the paired-bootstrap comparison of
``eval.methods.compare`` (the summary's side-by-side table): ``accuracy_ci95``, ``difference_vs_baseline``,
``difference_ci95``, ``answers_changed``, ``n_compared``, ``bootstrap_resamples``, ``bootstrap_seed``.

The run id is a hash of the settings fingerprint and the records without their timings: re-reading the same
run gives the same id (a re-publish is recognised), another run gets another id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vgmed_data.eval.choices import Protocol
from vgmed_data.eval.config import BASELINE, VGREFINE, QueryMode, Task
from vgmed_data.eval.provenance import describe_hardware
from vgmed_data.eval.results.schema import ALL, FORMAT_VERSION, METRICS
from vgmed_data.eval.run_folder import (BoxSampleRecord, Manifest, RunFolder, SampleRecord, Status, VGRefineRecord,
                                        without_timings)
from vgmed_data.errors import InvalidInputError
from vgmed_data.manifest import toolkit_version
from vgmed_data.userfiles import INDEX_LIMIT, check_regular, read_bounded

Record = SampleRecord | BoxSampleRecord
# The comparison columns of a run with one method (or a row without a baseline to compare with).
NO_COMPARISON: dict[str, Any] = {"accuracy_ci95": None, "difference_vs_baseline": None, "difference_ci95": None,
                                 "answers_changed": None, "n_compared": None, "bootstrap_resamples": None,
                                 "bootstrap_seed": None}


@dataclass(frozen=True)
class RunResults:
    """The rows of one run: ``runs`` (one per method) and ``samples`` (one per sample, both methods)."""

    run_id: str
    runs: list[dict[str, Any]]
    samples: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """Publish-time overrides of how a run was produced. The run's own ``run.json`` ``provenance`` (written by the
    runner: argv, hardware, versions, date) is used otherwise; only a run folder without it falls back to the
    publishing machine and a command rebuilt from the settings."""

    model_revision: str = ""
    dataset_revision: str = ""
    hardware: str = ""
    command: str = ""


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def folder_revision(folder: Path) -> str:
    """A content hash of a local dataset folder's Parquet shards (``local-sha256:<16 hex>``)."""
    digest = hashlib.sha256()
    for path in sorted((folder / "data").rglob("*.parquet")):
        digest.update(str(path.relative_to(folder)).encode())
        check_regular(path, what="shard")  # a pipe would never end
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return f"local-sha256:{digest.hexdigest()[:16]}"


def dataset_revision(dataset: str) -> str:
    """The dataset's revision: a content hash for a folder, the commit sha for a Hub id ("" if unreachable)."""
    path = Path(dataset)
    if path.is_dir():
        return folder_revision(path)
    try:
        from huggingface_hub import HfApi

        return str(HfApi().dataset_info(dataset).sha or "")
    except Exception:  # noqa: BLE001 - offline or private: recorded as unknown rather than failing the publish
        return ""


def model_revision(model: str) -> str:
    """The checkpoint's revision: a hash of its config for a folder, the commit sha for a Hub id."""
    path = Path(model)
    if path.is_dir():
        config = path / "config.json"
        if not config.exists():
            return "local"
        digest = hashlib.sha256(read_bounded(config, limit=INDEX_LIMIT, what="config.json")).hexdigest()
        return f"local-sha256:{digest[:16]}"
    try:
        from huggingface_hub import HfApi

        return str(HfApi().model_info(model).sha or "")
    except Exception:  # noqa: BLE001 - see dataset_revision
        return ""


def reconstructed_command(manifest: Manifest, *, config: str, split: str, methods: Sequence[str]) -> str:
    """``vgmed eval run ...`` with the settings the run folder records (runs that did not store argv)."""
    parts = ["vgmed", "eval", "run", "--model", manifest.model, "--dataset", manifest.dataset,
             "--config", config, "--split", split]
    if manifest.layers:
        parts += ["--layers", ",".join(str(v) for v in manifest.layers)]
    if manifest.query != QueryMode.LAST:
        parts += ["--query", manifest.query]
    if manifest.attention_prompt != "official":
        parts += ["--attention-prompt", manifest.attention_prompt]
    if manifest.run_protocol is not Protocol.DEFAULT:
        parts += ["--protocol", manifest.run_protocol]
    for flag in ("max_pixels", "min_pixels"):  # run.json extras (absent in older runs)
        value = manifest.extra.get(flag)
        if value is not None:
            parts += [f"--{flag.replace('_', '-')}", str(value)]
    if list(methods) != [BASELINE]:
        parts += ["--method", ",".join(methods)]
    return shlex.join(parts)


def box_columns(boxes: Mapping[str, Any] | None) -> dict[str, float | None]:
    """The ``runs`` box-score columns from a ``--task boxes`` summary (``summary.json["boxes"]``, the
    :class:`vgmed_data.eval.boxes.report.ScoreReport` of the run's predictions); None where the run has no box scores."""
    by_system = (boxes or {}).get("summary") or {}

    def pick(system: str, metric: str) -> float | None:
        value = (by_system.get(system) or {}).get("all", {}).get(metric)
        return None if value is None else float(value)

    return {"box_miou": pick("model", "miou"), "box_acc50": pick("model", "acc@0.5"),
            "box_full_image_miou": pick("full_image", "miou"), "box_mean_box_miou": pick("mean_box", "miou")}


def run_id_of(manifest: Manifest, records: Iterable[Record]) -> str:
    digest = hashlib.sha256(manifest.fingerprint.encode())
    for record in records:
        digest.update(json.dumps(without_timings(record), sort_keys=True).encode())
    return digest.hexdigest()[:20]


def _refined(record: Record) -> VGRefineRecord | None:
    return record.vgrefine if isinstance(record, SampleRecord) else None


@dataclass(frozen=True)
class _View:
    """What a method's summary needs from one record: its status, the method's correctness (None: no answer)
    and its layer metrics (None: none)."""

    status: Status
    correct: bool | None
    metrics: Mapping[str, Sequence[float]] | None


def _method_view(record: Record, method: str) -> _View | None:
    """The fields a method's summary needs from one record (None: the record has no result for it)."""
    if not isinstance(record, SampleRecord):  # a box run: its baseline has no answer to score nor metrics
        return _View(record.status, None, None) if method == BASELINE else None
    if method == BASELINE:
        return _View(record.status, record.correct, record.metrics)  # correct None: no baseline answer
    if method == VGREFINE:
        part = record.vgrefine  # its metrics: after the knockout (None in older runs)
        return None if part is None else _View(record.status, bool(part.correct), part.metrics_after)
    other = record.methods.get(method)
    if other is None:
        return None  # an intervention of eval.methods: its metrics are those after it (attention-changing ones)
    return _View(record.status, other.correct, other.metrics_after)


def _parameters(records: Sequence[Record], manifest: Manifest, method: str) -> dict[str, Any]:
    if method == VGREFINE:
        return next((dict(p.parameters) for r in records if (p := _refined(r)) is not None and p.parameters), {})
    if method == BASELINE:
        return {}
    recorded = (manifest.interventions or {}).get(method)
    if recorded is not None:
        return dict(recorded)
    return next((dict(m.parameters) for r in records if isinstance(r, SampleRecord)
                 and (m := r.methods.get(method)) is not None), {})


def _comparison(records: Sequence[SampleRecord], methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``method -> runs columns`` of the paired-bootstrap comparison (eval.methods.compare; empty with one
    method)."""
    from vgmed_data.eval.methods.compare import side_by_side

    table = side_by_side(records, methods=methods) if len(methods) > 1 else None
    if table is None:
        return {}
    return {row["method"]: {"accuracy_ci95": row["ci95"], "difference_vs_baseline": row.get("difference"),
                            "difference_ci95": row.get("difference_ci95"), "answers_changed": row.get("changed"),
                            "n_compared": table["n"], "bootstrap_resamples": table["resamples"],
                            "bootstrap_seed": table["seed"]} for row in table["methods"]}


def _stats(views: Sequence[_View], n_layers: int, best: int | None) -> dict[str, Any]:
    answered = [v for v in views if v.status == Status.OK]
    grounded = [v.metrics for v in answered if v.metrics]
    out: dict[str, Any] = {"n": len(views), "answered": len(answered), "grounded": len(grounded),
                           "accuracy": _mean([float(v.correct) for v in answered if v.correct is not None])}
    for name in METRICS:
        per_layer = [_mean([m[name][i] for m in grounded]) for i in range(n_layers)] if grounded else []
        out[f"{name}_per_layer"] = per_layer
        out[name] = per_layer[best] if per_layer and best is not None else None
    return out


def _best_position(ar_per_layer: Sequence[float | None]) -> int | None:
    values = [v for v in ar_per_layer if v is not None]
    if not values or len(values) != len(ar_per_layer):
        return None
    return int(np.argmax(values))  # (every layer has a value)


def _facets(record: Record) -> tuple[str, str]:
    """(modality, question type) of a record; box records have neither ("None", as such runs always showed)."""
    if isinstance(record, SampleRecord):
        return str(record.modality), str(record.question_type)
    return "None", "None"


def _breakdown(records: Sequence[Record], views: Sequence[_View], n_layers: int,
               best: int | None) -> list[dict[str, Any]]:
    """Slices for every (modality | all) x (question type | all) that has samples."""
    keys = sorted({_facets(r) for r in records})
    modalities = [ALL, *sorted({m for m, _ in keys})]
    types = [ALL, *sorted({q for _, q in keys})]
    slices = []
    for modality in modalities:
        for question_type in types:
            chosen = [v for r, v in zip(records, views)
                      if modality in (ALL, _facets(r)[0]) and question_type in (ALL, _facets(r)[1])]
            if not chosen:
                continue
            stats = _stats(chosen, n_layers, best)
            slices.append({"modality": modality, "question_type": question_type, "n": stats["n"],
                           "answered": stats["answered"], "grounded": stats["grounded"],
                           "accuracy": stats["accuracy"], **{name: stats[name] for name in METRICS}})
    return slices


def _map_frame(record: SampleRecord, size: tuple[int, int]) -> list[float]:
    """Where the model's input frame (and so the token grid) lies on the stored image, xyxy."""
    from vgmed_data.geometry.transforms import Transform

    data = record.input_transform
    if not data:
        return [0.0, 0.0, float(size[0]), float(size[1])]
    transform = Transform.from_dict(data)
    width, height = transform.dst_size
    corners = transform.inverse_points(np.array([[0.0, 0.0], [float(width), float(height)]]))
    return [float(v) for v in corners.reshape(-1)]


def _sample_rows(folder: RunFolder, run_id: str, manifest: Manifest, records: Sequence[SampleRecord],
                 *, config: str, split: str, best_layer_position: int | None) -> list[dict[str, Any]]:
    from vgmed_data.eval.data import iter_samples
    from vgmed_data.eval.metrics import normalised_map

    dataset = {s.id: s for s in iter_samples(manifest.dataset, config=config, split=split)}
    maps = dict(folder.attention())
    rows = []
    for record in records:
        sample = dataset.get(record.id)
        if sample is None:
            raise InvalidInputError(f"sample {record.id} of the run is not in {manifest.dataset} ({split})",
                                    path=folder.root, fix="publish from the dataset the run evaluated")
        grid = [int(v) for v in record.grid or (0, 0)]
        position = best_layer_position
        baseline_map: list[float] = []
        question, general = maps.get(f"{sample.id}__question"), maps.get(f"{sample.id}__general")
        if question is not None and general is not None and position is not None:
            layer_map = normalised_map(question[position].astype(np.float64).mean(axis=0),
                                       general[position].astype(np.float64).mean(axis=0))
            baseline_map = [float(v) for v in layer_map]
        metrics = record.metrics or {}
        refine = record.vgrefine
        triage = maps.get(f"{sample.id}__triage")
        image = sample.image()
        rows.append({
            "run_id": run_id, "id": sample.id, "index": record.index, "modality": sample.modality,
            "question_type": sample.question_type, "question": sample.question, "answer": sample.answer,
            "options": list(sample.options), "image": {"bytes": sample.image_bytes, "path": None},
            "width": image.width, "height": image.height, "boxes": [list(b) for b in sample.boxes],
            "grid": grid, "map_frame": _map_frame(record, image.size),
            "best_layer": None if position is None or record.layers is None else int(record.layers[position]),
            "baseline_prediction": record.prediction,
            "baseline_correct": bool(record.correct) if record.ok else None,
            "baseline_map": baseline_map,
            "vgrefine_prediction": None if refine is None else refine.answer,
            "vgrefine_correct": None if refine is None or refine.correct is None else refine.correct,
            "vgrefine_map": [] if triage is None else [float(v) for v in triage.reshape(-1).tolist()],
            "blocked_tokens": [] if refine is None else [int(v) for v in refine.blocked],
            **{name: (metrics[name][position] if metrics and position is not None else None) for name in METRICS},
            "ar_per_layer": list(metrics.get("ar", [])),
            "status": str(record.status),
        })
    return rows


def collect_run(run_dir: str | os.PathLike[str], *, provenance: Provenance = Provenance(),
                config: str | None = None, split: str | None = None,
                with_samples: bool = True) -> RunResults:
    """The ``runs`` rows (one per method) and, if asked, the ``samples`` rows of a finished run folder.

    Runs written by earlier versions read the same way (their missing fields take the meaning they had then);
    a file that does not read as a run is refused with the file, the line and the fix."""
    folder = RunFolder(run_dir)
    manifest = folder.read_manifest()
    boxes_run = manifest.task == Task.BOXES  # box scores only: no attention maps to view
    records: list[Record] = list(folder.read_box_samples() if boxes_run else folder.read_samples())
    summary = folder.read_summary()
    config = config or manifest.config
    split = split or manifest.split
    grounding = [r for r in records if isinstance(r, SampleRecord)]
    layers = [int(v) for v in (summary.get("layers") or next((r.layers for r in grounding if r.layers), []))]
    run_id = run_id_of(manifest, records)
    methods = [BASELINE] + ([VGREFINE] if any(r.vgrefine is not None for r in grounding) else []) + [
        m for m in manifest.methods if m not in (BASELINE, VGREFINE) and any(m in r.methods for r in grounding)]
    recorded = manifest.provenance
    finished = (dt.datetime.fromisoformat(recorded["date"]) if recorded.get("date") else
                dt.datetime.fromtimestamp(folder.samples_path.stat().st_mtime, tz=dt.UTC).replace(microsecond=0))
    adapter = summary.get("adapter") or {}
    common = {
        "run_id": run_id, "format_version": FORMAT_VERSION, "model": manifest.model,
        "model_revision": provenance.model_revision or model_revision(manifest.model),
        "model_family": str(adapter.get("family", "")),
        "random_weights": bool(summary.get("random_weights", False)),
        "dataset": manifest.dataset,
        "dataset_revision": provenance.dataset_revision or dataset_revision(manifest.dataset),
        "config": config, "split": split, "query": manifest.query,
        "attention_prompt": manifest.attention_prompt, "layers": layers,
        "protocol": str(manifest.run_protocol), "box_mapping": str(manifest.mapping),
        **box_columns(summary.get("boxes")),
        "toolkit_version": str(recorded.get("toolkit_version") or toolkit_version()),
        "hardware": provenance.hardware or str(recorded.get("hardware") or describe_hardware()),
        "date": finished,
        "command": provenance.command or str(recorded.get("command") or "")
        or reconstructed_command(manifest, config=config, split=split, methods=methods),
    }
    baseline_views = [_method_view(r, BASELINE) for r in records]
    best = _best_position(_stats([v for v in baseline_views if v], len(layers), None)["ar_per_layer"])
    comparison = _comparison(grounding, methods)
    runs = []
    for method in methods:
        pairs = [(r, v) for r in records if (v := _method_view(r, method)) is not None]
        kept, views = [p[0] for p in pairs], [p[1] for p in pairs]
        stats = _stats(views, len(layers), best)
        params = _parameters(kept, manifest, method)
        runs.append({
            **common, "row_id": hashlib.sha256(f"{run_id}|{method}|{json.dumps(params, sort_keys=True)}".encode()
                                               ).hexdigest()[:20],
            "method": method, "method_params": json.dumps(params, sort_keys=True),
            "n_samples": stats["n"], "n_answered": stats["answered"], "n_grounded": stats["grounded"],
            "accuracy": stats["accuracy"],
            **{f"{name}_per_layer": stats[f"{name}_per_layer"] for name in METRICS},
            "best_layer": None if best is None else layers[best],
            **{f"{name}_best": stats[name] for name in METRICS},
            "breakdown": _breakdown(kept, views, len(layers), best),
            **{**NO_COMPARISON, **comparison.get(method, {})},
        })
    samples = _sample_rows(folder, run_id, manifest, grounding, config=config, split=split,
                           best_layer_position=best) if with_samples and not boxes_run else []
    return RunResults(run_id=run_id, runs=runs, samples=samples)
