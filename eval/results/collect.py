"""Read a finished run folder (``vgmed eval run --out RUN_DIR``) into results rows.

What is read (the runner's own outputs, see :mod:`vgmed_data.eval.runner`): ``run.json`` (model, dataset, settings
fingerprint), ``samples.jsonl`` (answers, correctness, metrics per layer, grid, input transform), the attention
shards ``attention/*.npz`` (question and general maps per sample), ``summary.json`` (adapter description), and
the dataset itself (for the images and boxes the viewer shows). Summary numbers are recomputed here from the
per-sample records (means over answered / grounded samples), so every breakdown slice follows one rule.

VGRefine (``--method baseline,vgrefine``): a record's ``vgrefine`` object (prediction, correctness, blocked
tokens, triage map, parameters) becomes a second ``runs`` row with ``method = "vgrefine"`` and fills the
VGRefine columns of the ``samples`` row.

The run id is a hash of the settings fingerprint and the records without their timings: re-reading the same
run gives the same id (a re-publish is recognised), another run gets another id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vgmed_data.eval.provenance import describe_hardware, toolkit_version
from vgmed_data.eval.results.schema import ALL, FORMAT_VERSION, METRICS
from vgmed_data.errors import InvalidInputError, SourceNotFoundError

BASELINE = "baseline"
VGREFINE = "vgrefine"


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


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def folder_revision(folder: Path) -> str:
    """A content hash of a local dataset folder's Parquet shards (``local-sha256:<16 hex>``)."""
    digest = hashlib.sha256()
    for path in sorted((folder / "data").rglob("*.parquet")):
        digest.update(str(path.relative_to(folder)).encode())
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
        return f"local-sha256:{hashlib.sha256(config.read_bytes()).hexdigest()[:16]}" if config.exists() else "local"
    try:
        from huggingface_hub import HfApi

        return str(HfApi().model_info(model).sha or "")
    except Exception:  # noqa: BLE001 - see dataset_revision
        return ""


def reconstructed_command(manifest: Mapping[str, Any], *, config: str, split: str, methods: Sequence[str]) -> str:
    """``vgmed eval run ...`` with the settings the run folder records (the runner does not store argv)."""
    parts = ["vgmed", "eval", "run", "--model", str(manifest["model"]), "--dataset", str(manifest["dataset"]),
             "--config", config, "--split", split]
    if manifest.get("layers"):
        parts += ["--layers", ",".join(str(v) for v in manifest["layers"])]
    if manifest.get("query") and manifest["query"] != "last":
        parts += ["--query", str(manifest["query"])]
    if manifest.get("attention_prompt", "answer") != "official":
        parts += ["--attention-prompt", str(manifest.get("attention_prompt", "answer"))]
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


def run_id_of(manifest: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> str:
    from vgmed_data.eval.runner import strip_timings

    digest = hashlib.sha256(str(manifest.get("fingerprint", "")).encode())
    for record in strip_timings([dict(r) for r in records]):
        digest.update(json.dumps(record, sort_keys=True).encode())
    return digest.hexdigest()[:20]


def _vgrefine(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """A record's VGRefine result in one shape: prediction, correct, status, params, blocked_tokens, triage_map,
    metrics. The triage map itself is read from the attention shards (``<id>__triage``). Reads
    :meth:`vgmed_data.eval.vgrefine.result.VGRefineAnswer.record` fields (``answer``, ``parameters``,
    ``blocked``) nested under ``record["vgrefine"]``; correctness is scored with the baseline's rule when the
    record does not carry it."""
    from vgmed_data.eval.answers import score_answer

    part = record.get(VGREFINE)
    if not isinstance(part, Mapping):
        return None
    prediction = part.get("prediction", part.get("answer"))
    correct = part.get("correct")
    if correct is None and prediction is not None:
        correct = score_answer(str(prediction), answer=str(record.get("answer") or ""),
                               options=record.get("options") or ())["correct"]
    return {"prediction": prediction, "correct": correct, "status": part.get("status", record.get("status")),
            "params": part.get("params", part.get("parameters")) or {},
            "blocked_tokens": part.get("blocked_tokens", part.get("blocked")) or [],
            "triage_map": part.get("triage_map") or [], "metrics": part.get("metrics")}


def _method_view(record: Mapping[str, Any], method: str) -> dict[str, Any] | None:
    """The fields a method's summary needs from one record (None: the record has no result for it)."""
    if method == BASELINE:
        return {"status": record.get("status"),  # None: no baseline answer (--method vgrefine, --task boxes)
                "correct": None if "correct" not in record else bool(record["correct"]),
                "metrics": record.get("metrics")}
    part = _vgrefine(record)
    if part is None:
        return None
    return {"status": part.get("status", record.get("status")), "correct": bool(part.get("correct")),
            "metrics": part.get("metrics")}


def _stats(views: Sequence[Mapping[str, Any]], n_layers: int, best: int | None) -> dict[str, Any]:
    answered = [v for v in views if v["status"] == "ok"]
    grounded = [v for v in answered if v.get("metrics")]
    out: dict[str, Any] = {"n": len(views), "answered": len(answered), "grounded": len(grounded),
                           "accuracy": _mean([float(v["correct"]) for v in answered if v["correct"] is not None])}
    for name in METRICS:
        per_layer = [_mean([v["metrics"][name][i] for v in grounded]) for i in range(n_layers)] if grounded else []
        out[f"{name}_per_layer"] = per_layer
        out[name] = per_layer[best] if per_layer and best is not None else None
    return out


def _best_position(ar_per_layer: Sequence[float | None]) -> int | None:
    values = [v for v in ar_per_layer if v is not None]
    if not values or len(values) != len(ar_per_layer):
        return None
    return int(np.argmax(ar_per_layer))


def _breakdown(records: Sequence[Mapping[str, Any]], views: Sequence[Mapping[str, Any]], n_layers: int,
               best: int | None) -> list[dict[str, Any]]:
    """Slices for every (modality | all) x (question type | all) that has samples."""
    keys = sorted({(str(r.get("modality")), str(r.get("question_type"))) for r in records})
    modalities = [ALL, *sorted({m for m, _ in keys})]
    types = [ALL, *sorted({q for _, q in keys})]
    slices = []
    for modality in modalities:
        for question_type in types:
            chosen = [v for r, v in zip(records, views)
                      if modality in (ALL, str(r.get("modality"))) and question_type in (ALL, str(r.get("question_type")))]
            if not chosen:
                continue
            stats = _stats(chosen, n_layers, best)
            slices.append({"modality": modality, "question_type": question_type, "n": stats["n"],
                           "answered": stats["answered"], "grounded": stats["grounded"],
                           "accuracy": stats["accuracy"], **{name: stats[name] for name in METRICS}})
    return slices


def _attention(run_dir: Path) -> Iterator[tuple[str, np.ndarray]]:
    for shard in sorted((run_dir / "attention").glob("shard-*.npz")):
        with np.load(shard) as data:
            for key in data.files:
                yield key, data[key]


def _map_frame(record: Mapping[str, Any], size: tuple[int, int]) -> list[float]:
    """Where the model's input frame (and so the token grid) lies on the stored image, xyxy."""
    from vgmed_data.geometry.transforms import Transform

    data = record.get("input_transform")
    if not data:
        return [0.0, 0.0, float(size[0]), float(size[1])]
    transform = Transform.from_dict(data)
    width, height = transform.dst_size
    corners = transform.inverse_points(np.array([[0.0, 0.0], [float(width), float(height)]]))
    return [float(v) for v in corners.reshape(-1)]


def _sample_rows(run_dir: Path, run_id: str, manifest: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
                 *, config: str, split: str, best_layer_position: int | None) -> list[dict[str, Any]]:
    from vgmed_data.eval.data import iter_samples
    from vgmed_data.eval.metrics import normalised_map

    dataset = {s.id: s for s in iter_samples(str(manifest["dataset"]), config=config, split=split)}
    maps = dict(_attention(run_dir))
    rows = []
    for record in records:
        sample = dataset.get(str(record["id"]))
        if sample is None:
            raise InvalidInputError(f"sample {record['id']} of the run is not in {manifest['dataset']} ({split})",
                                    path=run_dir, fix="publish from the dataset the run evaluated")
        grid = [int(v) for v in record.get("grid") or (0, 0)]
        position = best_layer_position
        baseline_map: list[float] = []
        question, general = maps.get(f"{sample.id}__question"), maps.get(f"{sample.id}__general")
        if question is not None and general is not None and position is not None:
            layer_map = normalised_map(question[position].astype(np.float64).mean(axis=0),
                                       general[position].astype(np.float64).mean(axis=0))
            baseline_map = [float(v) for v in layer_map]
        metrics = record.get("metrics") or {}
        refine = _vgrefine(record) or {}
        image = sample.image()
        rows.append({
            "run_id": run_id, "id": sample.id, "index": int(record["index"]), "modality": sample.modality,
            "question_type": sample.question_type, "question": sample.question, "answer": sample.answer,
            "options": list(sample.options), "image": {"bytes": sample.image_bytes, "path": None},
            "width": image.width, "height": image.height, "boxes": [list(b) for b in sample.boxes],
            "grid": grid, "map_frame": _map_frame(record, image.size),
            "best_layer": None if position is None else int(record["layers"][position]),
            "baseline_prediction": record.get("prediction"),
            "baseline_correct": bool(record.get("correct")) if record.get("status") == "ok" else None,
            "baseline_map": baseline_map,
            "vgrefine_prediction": refine.get("prediction"),
            "vgrefine_correct": bool(refine["correct"]) if "correct" in refine else None,
            "vgrefine_map": [float(v) for v in (refine.get("triage_map") or
                                                (maps[f"{sample.id}__triage"].reshape(-1).tolist()
                                                 if f"{sample.id}__triage" in maps else []))],
            "blocked_tokens": [int(v) for v in refine.get("blocked_tokens") or refine.get("blocked") or []],
            **{name: (metrics[name][position] if metrics and position is not None else None) for name in METRICS},
            "ar_per_layer": list(metrics.get("ar", [])),
            "status": str(record.get("status")),
        })
    return rows


def collect_run(run_dir: str | os.PathLike[str], *, provenance: Provenance = Provenance(),
                config: str | None = None, split: str | None = None,
                with_samples: bool = True) -> RunResults:
    """The ``runs`` rows (one per method) and, if asked, the ``samples`` rows of a finished run folder."""
    root = Path(run_dir)
    for name in ("run.json", "samples.jsonl"):
        if not (root / name).exists():
            raise SourceNotFoundError(f"{name} is missing: not a finished run folder", path=root,
                                      fix="run `vgmed eval run ... --out DIR` (or `vgmed eval merge`) first")
    manifest = json.loads((root / "run.json").read_text())
    summary = json.loads((root / "summary.json").read_text()) if (root / "summary.json").exists() else {}
    records = _read_jsonl(root / "samples.jsonl")
    config = config or str(manifest.get("config") or summary.get("config") or "vgmed")
    split = split or str(manifest.get("split") or summary.get("split") or "test")
    layers = [int(v) for v in (summary.get("layers") or next((r["layers"] for r in records if r.get("layers")), []))]
    run_id = run_id_of(manifest, records)
    methods = [BASELINE] + ([VGREFINE] if any(_vgrefine(r) for r in records) else [])
    recorded = manifest.get("provenance") or {}
    finished = (dt.datetime.fromisoformat(recorded["date"]) if recorded.get("date") else
                dt.datetime.fromtimestamp((root / "samples.jsonl").stat().st_mtime, tz=dt.UTC).replace(microsecond=0))
    adapter = summary.get("adapter") or {}
    common = {
        "run_id": run_id, "format_version": FORMAT_VERSION, "model": str(manifest["model"]),
        "model_revision": provenance.model_revision or model_revision(str(manifest["model"])),
        "model_family": str(adapter.get("family", "")),
        "random_weights": bool(summary.get("random_weights", False)),
        "dataset": str(manifest["dataset"]),
        "dataset_revision": provenance.dataset_revision or dataset_revision(str(manifest["dataset"])),
        "config": config, "split": split, "query": str(manifest.get("query") or "last"),
        # runs made before the option existed measured closed questions on the lettered prompt
        "attention_prompt": str(manifest.get("attention_prompt") or "answer"), "layers": layers,
        **box_columns(summary.get("boxes")),
        "toolkit_version": str(recorded.get("toolkit_version") or toolkit_version()),
        "hardware": provenance.hardware or str(recorded.get("hardware") or describe_hardware()),
        "date": finished,
        "command": provenance.command or str(recorded.get("command") or "")
        or reconstructed_command(manifest, config=config, split=split, methods=methods),
    }
    baseline_views = [_method_view(r, BASELINE) for r in records]
    best = _best_position(_stats([v for v in baseline_views if v], len(layers), None)["ar_per_layer"])
    runs = []
    for method in methods:
        pairs = [(r, v) for r in records if (v := _method_view(r, method)) is not None]
        kept, views = [p[0] for p in pairs], [p[1] for p in pairs]
        stats = _stats(views, len(layers), best)
        params = next((dict(p) for r in kept if method == VGREFINE and (p := (_vgrefine(r) or {}).get("params"))), {})
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
        })
    boxes_run = manifest.get("task") == "boxes"  # box scores only: no attention maps to view
    samples = _sample_rows(root, run_id, manifest, records, config=config, split=split,
                           best_layer_position=best) if with_samples and not boxes_run else []
    return RunResults(run_id=run_id, runs=runs, samples=samples)
