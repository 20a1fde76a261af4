"""The evaluation run folder: every file ``vgmed eval run --out DIR`` writes, and its typed records.

One module owns the layout, so the runner, the boxes task, the report, VGRefine head selection and results
collection read and write it the same way::

    run.json                                   Manifest: settings, fingerprint, world size, provenance
    samples.jsonl                              SampleRecord per sample, dataset order (box runs: BoxSampleRecord)
    predictions.jsonl                          BoxPrediction per sample (box runs; what `vgmed eval score` reads)
    attention/shard-RRRRR-of-WWWWW.npz         maps per sample, keys ``<id>__<kind>`` (question, general, ...)
    ranks/rank-RRRRR-of-WWWWW/samples.jsonl    a rank's records, appended as they finish (resume)
    ranks/rank-RRRRR-of-WWWWW/attention-parts  a rank's maps, one atomic ``part-IIIIIIII.npz`` per batch
    ranks/rank-RRRRR-of-WWWWW/DONE             written when the rank has finished (the adapter's description)
    summary.json, summary.md, layers.png, overlays/, scores/   reports (eval.report, eval.boxes.generate)

Records are frozen dataclasses with ``to_json``/``from_json``; ``to_json`` writes exactly the keys the runner has
always written (absent when not set), so files written before these classes existed read back unchanged, and
keys another writer adds are kept in ``extra``. Resume: appended JSON lines are flushed and fsynced, a torn last
line (a killed run) is dropped on restart; attention parts are written to a temporary name and renamed, maps
before records, so a record on disk always has its maps.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

from vgmed_data.errors import FileFormatError, InvalidInputError, SourceNotFoundError
from vgmed_data.eval.choices import (AttentionPrompt, BoxMapping, Choice, Method, Protocol, QueryMode, Task,
                                     parse_choice)
from vgmed_data.jsonl import json_lines, read_json_file, write_json_lines
from vgmed_data.safepaths import PathEscapeError, resolve_inside
from vgmed_data.staging import staged_file
from vgmed_data.userfiles import check_regular

MANIFEST = "run.json"
SAMPLES = "samples.jsonl"
PREDICTIONS = "predictions.jsonl"
SUMMARY = "summary.json"
ATTENTION = "attention"
RANKS = "ranks"
TIMINGS = "timings"
# Everything a run writes at the top of its folder (what --overwrite removes; nothing else is touched).
RUN_FILES = (MANIFEST, SAMPLES, PREDICTIONS, SUMMARY, "summary.md", "layers.png")
RUN_FOLDERS = (ATTENTION, RANKS, "overlays", "scores")
# Keys of eval.answers.score_answer, stored flat beside the answer they score.
SCORE_KEYS = ("kind", "correct", "chosen", "rule", "exact", "recall")
LEGACY_FIX = "re-run it with this version of vgmed-data (`vgmed eval run ... --out NEW_DIR`)"
# What runs and records written before the box mapping was recorded used for `metrics` (eval.choices.BoxMapping).
LEGACY_BOX_MAPPING = BoxMapping.INPUT_SCALE


class Status(StrEnum):
    """What happened to a sample: answered (``ok``), a counted skip, or out of memory."""

    OK = "ok"
    SKIPPED = "skipped"
    OOM = "oom"


def settings_fingerprint(settings: Mapping[str, Any]) -> str:
    """16 hex digits identifying the settings a resume must match (JSON with sorted keys, SHA-256)."""
    text = json.dumps(dict(settings), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _split(data: Mapping[str, Any], known: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = set(known)
    return ({k: v for k, v in data.items() if k in names}, {k: v for k, v in data.items() if k not in names})


def _require(data: Mapping[str, Any], names: Sequence[str], *, what: str) -> None:
    missing = [name for name in names if name not in data]
    if missing:
        raise FileFormatError(f"{what} lacks {', '.join(missing)}", fix=LEGACY_FIX)


def _score(data: Mapping[str, Any]) -> dict[str, Any] | None:
    score = {k: data[k] for k in SCORE_KEYS if k in data}
    return score or None


# ---- records -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class VGRefineRecord:
    """``samples.jsonl`` ``"vgrefine"``: one sample answered with VGRefine (eval.vgrefine.evaluate) and scored.

    ``blocked``: blocked token indices on the grid; ``blocked_positions``: their sequence positions; ``cut``: the
    threshold the triage scores were compared with; ``answer_without_vgrefine``: the plain answer decoded on the
    same path (only with the baseline); ``score``: :func:`vgmed_data.eval.answers.score_answer` keys."""

    method: str
    implementation: str
    parameters: Mapping[str, Any]
    grid: tuple[int, int]
    blocked: tuple[int, ...]
    blocked_positions: tuple[int, ...]
    cut: float
    answer: str
    answer_without_vgrefine: str | None = None
    triage_note: str | None = None  # set when the triage rule is undefined on the scores (eval.vgrefine.triage)
    # layer metrics of the attention after the knockout, on the record's attention prompt and cells (None: not
    # recorded: no boxes, another grid, or a run from before the field)
    metrics_after: Mapping[str, tuple[float, ...]] | None = None
    score: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool | None:
        return None if self.score is None else bool(self.score["correct"])

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "implementation": self.implementation,
                               "parameters": dict(self.parameters), "grid": list(self.grid),
                               "blocked": list(self.blocked), "blocked_positions": list(self.blocked_positions),
                               "cut": self.cut, "answer": self.answer}
        if self.answer_without_vgrefine is not None:
            out["answer_without_vgrefine"] = self.answer_without_vgrefine
        if self.triage_note is not None:
            out["triage_note"] = self.triage_note
        if self.metrics_after is not None:
            out["metrics_after"] = _metrics_json(self.metrics_after)
        return {**out, **(self.score or {}), **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VGRefineRecord:
        names = [f.name for f in fields(cls) if f.name not in ("score", "extra")]
        _require(data, [n for n in names if n not in ("answer_without_vgrefine", "triage_note", "metrics_after")],
                 what="a VGRefine record")
        known, extra = _split(data, (*names, *SCORE_KEYS))
        return cls(method=known["method"], implementation=known["implementation"], parameters=known["parameters"],
                   grid=tuple(known["grid"]), blocked=tuple(known["blocked"]),
                   blocked_positions=tuple(known["blocked_positions"]), cut=known["cut"], answer=known["answer"],
                   answer_without_vgrefine=known.get("answer_without_vgrefine"),
                   triage_note=known.get("triage_note"), metrics_after=_metrics_of(known.get("metrics_after")),
                   score=_score(data), extra=extra)


@dataclass(frozen=True, kw_only=True)
class MethodRecord:
    """``samples.jsonl`` ``"methods"[name]``: one sample answered with an intervention of ``eval.methods`` (PAI,
    VCD, AdaptVis, blind) and scored.

    ``parameters``: the method's settings; ``answer``: its greedy answer; ``changed``: whether it differs from the
    baseline's prediction (None without a baseline); ``details``: per-sample choices (AdaptVis' confidence and
    weight, VCD's noise seed); ``metrics_after``: for methods that change attention, the layer metrics (``ar``,
    ``kl``, ``js``, ...) of the attention after the intervention, on the record's ``attention_text`` and boxes
    (same general-prompt normaliser and box mapping as the record's ``metrics``)."""

    method: str
    parameters: Mapping[str, Any]
    answer: str
    changed: bool | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    metrics_after: Mapping[str, tuple[float, ...]] | None = None
    seconds: float | None = None
    score: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool | None:
        return None if self.score is None else bool(self.score["correct"])

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "parameters": dict(self.parameters), "answer": self.answer}
        optional = {"changed": self.changed, "details": dict(self.details) or None,
                    "metrics_after": _metrics_json(self.metrics_after), "seconds": self.seconds}
        out.update({k: v for k, v in optional.items() if v is not None})
        return {**out, **(self.score or {}), **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MethodRecord:
        names = [f.name for f in fields(cls) if f.name not in ("score", "extra")]
        _require(data, ("method", "parameters", "answer"), what="a method record")
        known, extra = _split(data, (*names, *SCORE_KEYS))
        return cls(method=str(known["method"]), parameters=known["parameters"], answer=str(known["answer"]),
                   changed=known.get("changed"), details=known.get("details") or {},
                   metrics_after=_metrics_of(known.get("metrics_after")), seconds=known.get("seconds"),
                   score=_score(data), extra=extra)


@dataclass(frozen=True, kw_only=True)
class SampleRecord:
    """One line of a grounding run's ``samples.jsonl`` (docs/evaluation.md lists the fields).

    Every record names its sample (index in the split, id, modality, question type, question, answer, options)
    and its ``status``; a skipped one has ``skip_reason``. An answered one has the prompts, the token grid, the
    input transform, the layers and ``timings``; with the baseline, ``prediction`` and ``score``; with VGRefine,
    ``vgrefine``; with the interventions of ``eval.methods``, ``methods`` (name -> :class:`MethodRecord`); with
    boxes, ``gt_tokens`` and ``metrics`` (metric -> one value per layer) on the cells of the
    record's ``box_mapping`` (``eval.protocol.BoxMapping``; absent in records written before it was recorded,
    whose metrics are input-scale: :attr:`mapping`), and where the input transform pads or crops the other
    mapping's metrics too (``metrics_padding_aware`` or ``metrics_input_scale``); else ``grounding_skip``.
    An answered record names its ``protocol`` and, where the answers saw another grid, ``answer_grid``."""

    index: int
    id: str
    modality: str
    question_type: str
    question: str
    answer: str
    options: tuple[str, ...]
    status: Status
    skip_reason: str | None = None  # the category a skip is counted under (VgmedError.reason)
    skip_detail: str | None = None  # the error's full text
    prompt: str | None = None
    attention_prompt: AttentionPrompt | None = None  # None: written before --attention-prompt (the answer prompt)
    attention_text: str | None = None
    grid: tuple[int, int] | None = None
    input_transform: Mapping[str, Any] | None = None
    layers: tuple[int, ...] | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    prediction: str | None = None
    score: Mapping[str, Any] | None = None
    vgrefine: VGRefineRecord | None = None
    methods: Mapping[str, MethodRecord] = field(default_factory=dict)  # interventions (eval.methods), by name
    grounding_skip: str | None = None  # why there are no metrics: "no boxes" or "bad box"
    grounding_skip_detail: str | None = None
    gt_tokens: int | None = None
    metrics: Mapping[str, tuple[float, ...]] | None = None
    metrics_padding_aware: Mapping[str, tuple[float, ...]] | None = None
    metrics_input_scale: Mapping[str, tuple[float, ...]] | None = None
    box_mapping: BoxMapping | None = None  # None: a record from before the field (see `mapping`)
    protocol: Protocol | None = None  # answered records; None: skipped, or a record from before --protocol
    answer_grid: tuple[int, int] | None = None  # the answers' grid, where it is not `grid` (official Qwen path)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    @property
    def mapping(self) -> BoxMapping:
        """The box mapping ``metrics`` were computed with: ``box_mapping``, or ``"input_scale"`` for a record
        written before the field existed (every run then used the input-scale mapping for ``metrics``)."""
        return self.box_mapping or LEGACY_BOX_MAPPING

    def metrics_by(self, mapping: BoxMapping) -> Mapping[str, tuple[float, ...]] | None:
        """The layer metrics on the cells of ``mapping`` (``"input_scale"``/``"padding_aware"``): ``metrics``
        when that is the record's own mapping, else the extra field; None where the record has no such
        metrics (also where the mappings agree: then ``metrics`` holds both)."""
        if mapping == self.mapping:
            return self.metrics
        return {BoxMapping.PADDING_AWARE: self.metrics_padding_aware,
                BoxMapping.INPUT_SCALE: self.metrics_input_scale}[mapping]

    @property
    def correct(self) -> bool | None:
        """The baseline answer's correctness; None without a baseline answer."""
        return None if self.score is None else bool(self.score["correct"])

    @property
    def grounded(self) -> bool:
        return self.ok and self.metrics is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "id": self.id, "modality": self.modality,
                               "question_type": self.question_type, "question": self.question,
                               "answer": self.answer, "options": list(self.options), "status": str(self.status)}
        optional = {"skip_reason": self.skip_reason, "skip_detail": self.skip_detail, "prompt": self.prompt,
                    "attention_prompt": self.attention_prompt,
                    "attention_text": self.attention_text, "grid": None if self.grid is None else list(self.grid),
                    "input_transform": None if self.input_transform is None else dict(self.input_transform),
                    "layers": None if self.layers is None else list(self.layers),
                    TIMINGS: dict(self.timings) or None, "prediction": self.prediction,
                    "vgrefine": None if self.vgrefine is None else self.vgrefine.to_json(),
                    "methods": {name: m.to_json() for name, m in self.methods.items()} or None,
                    "grounding_skip": self.grounding_skip, "grounding_skip_detail": self.grounding_skip_detail,
                    "gt_tokens": self.gt_tokens,
                    "metrics": _metrics_json(self.metrics),
                    "metrics_padding_aware": _metrics_json(self.metrics_padding_aware),
                    "metrics_input_scale": _metrics_json(self.metrics_input_scale), "box_mapping": self.box_mapping,
                    "protocol": self.protocol,
                    "answer_grid": None if self.answer_grid is None else list(self.answer_grid)}
        out.update({k: v for k, v in optional.items() if v is not None})
        return {**out, **(self.score or {}), **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SampleRecord:
        names = [f.name for f in fields(cls) if f.name not in ("score", "extra")]
        _require(data, ("index", "id", "status"), what="a sample record")
        known, extra = _split(data, (*names, *SCORE_KEYS))
        try:
            status = Status(known["status"])
        except ValueError:
            raise FileFormatError(f"a sample record has status {known['status']!r}", record=str(known["id"]),
                                  fix=f"status is one of {', '.join(Status)}") from None
        grid, layers, answer_grid = known.get("grid"), known.get("layers"), known.get("answer_grid")
        return cls(index=int(known["index"]), id=str(known["id"]), modality=str(known.get("modality")),
                   question_type=str(known.get("question_type")), question=str(known.get("question", "")),
                   answer=str(known.get("answer", "")), options=tuple(known.get("options") or ()), status=status,
                   skip_reason=known.get("skip_reason"), skip_detail=known.get("skip_detail"), prompt=known.get("prompt"),
                   attention_prompt=_optional_choice(known.get("attention_prompt"), AttentionPrompt,
                                                     "attention prompt"),
                   attention_text=known.get("attention_text"),
                   grid=None if grid is None else (int(grid[0]), int(grid[1])),
                   input_transform=known.get("input_transform"),
                   layers=None if layers is None else tuple(int(v) for v in layers),
                   timings=known.get(TIMINGS) or {}, prediction=known.get("prediction"), score=_score(data),
                   vgrefine=None if known.get("vgrefine") is None else VGRefineRecord.from_json(known["vgrefine"]),
                   methods={str(name): MethodRecord.from_json(m) for name, m in (known.get("methods") or {}).items()},
                   grounding_skip=known.get("grounding_skip"), grounding_skip_detail=known.get("grounding_skip_detail"),
                   gt_tokens=known.get("gt_tokens"),
                   metrics=_metrics_of(known.get("metrics")),
                   metrics_padding_aware=_metrics_of(known.get("metrics_padding_aware")),
                   metrics_input_scale=_metrics_of(known.get("metrics_input_scale")),
                   box_mapping=_optional_choice(known.get("box_mapping"), BoxMapping, "box mapping"),
                   protocol=_optional_choice(known.get("protocol"), Protocol, "protocol"),
                   answer_grid=None if answer_grid is None else (int(answer_grid[0]), int(answer_grid[1])),
                   extra=extra)


def _optional_choice(value: object, choices: type[Choice], what: str) -> Choice | None:
    """A choice as a file wrote it (None: absent, a file from before the field)."""
    return None if value is None else parse_choice(value, choices, what)


def _metrics_json(metrics: Mapping[str, Sequence[float]] | None) -> dict[str, list[float]] | None:
    return None if metrics is None else {name: list(values) for name, values in metrics.items()}


def _metrics_of(data: Mapping[str, Sequence[float]] | None) -> dict[str, tuple[float, ...]] | None:
    return None if data is None else {name: tuple(values) for name, values in data.items()}


@dataclass(frozen=True, kw_only=True)
class BoxPrediction:
    """One line of a box run's ``predictions.jsonl``: the raw model text and each image's stored -> input
    transform (what ``vgmed eval score`` reads), the prompt and the generation time."""

    id: str
    output: str
    input_transforms: tuple[Mapping[str, Any], ...]
    prompt: str
    seconds: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "output": self.output, "input_transforms": [dict(t) for t in self.input_transforms],
                "prompt": self.prompt, "seconds": self.seconds, **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BoxPrediction:
        names = [f.name for f in fields(cls) if f.name != "extra"]
        _require(data, names, what="a box prediction")
        known, extra = _split(data, names)
        return cls(id=str(known["id"]), output=str(known["output"]),
                   input_transforms=tuple(known["input_transforms"]), prompt=str(known["prompt"]),
                   seconds=float(known["seconds"]), extra=extra)


@dataclass(frozen=True, kw_only=True)
class BoxSampleRecord:
    """One line of a box run's ``samples.jsonl``: the prediction as scored (parse mode, IoU, image choice)."""

    index: int
    id: str
    task: str
    status: Status
    prompt: str
    output: str
    parse: str
    iou: float | None
    image_correct: bool | None
    predicted_image_index: int | None
    box: tuple[float, ...] | None
    notes: tuple[str, ...]
    timings: Mapping[str, float]
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "task": self.task, "status": str(self.status),
                "prompt": self.prompt, "output": self.output, "parse": self.parse, "iou": self.iou,
                "image_correct": self.image_correct, "predicted_image_index": self.predicted_image_index,
                "box": None if self.box is None else list(self.box), "notes": list(self.notes),
                TIMINGS: dict(self.timings), **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BoxSampleRecord:
        names = [f.name for f in fields(cls) if f.name != "extra"]
        _require(data, names, what="a box sample record")
        known, extra = _split(data, names)
        return cls(index=int(known["index"]), id=str(known["id"]), task=str(known["task"]),
                   status=Status(known["status"]), prompt=known["prompt"], output=known["output"],
                   parse=known["parse"], iou=known["iou"], image_correct=known["image_correct"],
                   predicted_image_index=known["predicted_image_index"],
                   box=None if known["box"] is None else tuple(known["box"]), notes=tuple(known["notes"]),
                   timings=known[TIMINGS], extra=extra)


Record = TypeVar("Record", SampleRecord, BoxSampleRecord, BoxPrediction)


def without_timings(record: SampleRecord | BoxSampleRecord) -> dict[str, Any]:
    """A record's JSON without its wall-clock fields (what must be identical between two runs)."""
    return {k: v for k, v in record.to_json().items() if k != TIMINGS}


# ---- the manifest ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Manifest:
    """``run.json``. Defaults are what runs written before a field existed meant: no ``task`` = grounding, no
    ``methods`` = baseline, no ``attention_prompt`` = the answer prompt, no ``provenance`` = unknown, no
    ``protocol`` = the default protocol (:attr:`run_protocol`), no ``box_mapping`` = input scale (:attr:`mapping`)."""

    fingerprint: str
    world: int
    model: str
    dataset: str
    config: str = "vgmed"
    split: str = "test"
    layers: tuple[int, ...] | None = None
    query: QueryMode = QueryMode.LAST
    task: Task = Task.GROUNDING
    methods: tuple[Method, ...] = (Method.BASELINE,)
    attention_prompt: AttentionPrompt = AttentionPrompt.ANSWER
    vgrefine: Mapping[str, Any] | None = None
    box_mapping: BoxMapping | None = None  # grounding runs; None: written before it was recorded (see `mapping`)
    protocol: Protocol | None = None  # None: written before --protocol (see `run_protocol`)
    # name -> parameters of the interventions of eval.methods the run applied (None: none, or a run before them)
    interventions: Mapping[str, Mapping[str, Any]] | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def mapping(self) -> BoxMapping:
        """The box mapping of the run's ``metrics`` (runs from before the field: ``"input_scale"``)."""
        return self.box_mapping or LEGACY_BOX_MAPPING

    @property
    def run_protocol(self) -> Protocol:
        """The protocol the run followed (runs from before the option: ``default``, the only one there was)."""
        return self.protocol or Protocol.DEFAULT

    def to_json(self) -> dict[str, Any]:
        written = {name: value for name, value in (("box_mapping", self.box_mapping), ("protocol", self.protocol),
                                                   ("interventions", self.interventions)) if value is not None}
        return {"fingerprint": self.fingerprint, "world": self.world, "model": self.model, "dataset": self.dataset,
                "config": self.config, "split": self.split,
                "layers": None if self.layers is None else list(self.layers), "query": self.query,
                "task": self.task, "methods": list(self.methods), "attention_prompt": self.attention_prompt,
                "vgrefine": None if self.vgrefine is None else dict(self.vgrefine), **written, **self.extra,
                "provenance": dict(self.provenance)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        """The manifest of ``data`` (``run.json`` as read); the choices are parsed here, once."""
        names = [f.name for f in fields(cls) if f.name != "extra"]
        _require(data, ("fingerprint", "world", "model", "dataset"), what="run.json")
        known, extra = _split(data, names)
        layers = known.pop("layers", None)
        methods = known.pop("methods", None)
        choices = {name: parse_choice(known[name], kind, name.replace("_", " "))
                   for name, kind in _MANIFEST_CHOICES.items() if known.get(name) is not None}
        return cls(**{**known, **choices, "world": int(known["world"]),
                      "layers": None if layers is None else tuple(int(v) for v in layers),
                      "methods": tuple(parse_choice(m, Method, "method") for m in methods) if methods else
                      (Method.BASELINE,),
                      "provenance": known.get("provenance") or {}}, extra=extra)


# The manifest's fields that hold one choice (absent or null in older files: the field's default).
_MANIFEST_CHOICES: dict[str, type[Any]] = {"query": QueryMode, "task": Task, "attention_prompt": AttentionPrompt,
                                           "box_mapping": BoxMapping, "protocol": Protocol}


# ---- rank files ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RankPaths:
    """One rank's resumable files under ``ranks/``."""

    root: Path
    rank: int
    world: int

    @property
    def dir(self) -> Path:
        return self.root / RANKS / f"rank-{self.rank:05d}-of-{self.world:05d}"

    @property
    def records(self) -> Path:
        return self.dir / SAMPLES

    @property
    def parts(self) -> Path:
        return self.dir / "attention-parts"

    @property
    def done(self) -> Path:
        return self.dir / "DONE"

    def resume(self) -> list[SampleRecord]:
        """The records finished so far (a torn last line dropped and cut from the file); creates the folders."""
        self.parts.mkdir(parents=True, exist_ok=True)
        return resume_records(self.records, SampleRecord)

    def append(self, sink: IO[str], records: Sequence[SampleRecord], arrays: Mapping[str, np.ndarray], *,
               part: int) -> None:
        """Maps first (one atomic part file), then the records (flushed and fsynced)."""
        if arrays:
            save_arrays(self.parts / f"part-{part:08d}.npz", arrays)
        append_records(sink, records)

    def finish(self, adapter: Mapping[str, Any]) -> None:
        self.done.write_text(json.dumps({"adapter": dict(adapter)}) + "\n")

    def adapter(self) -> dict[str, Any]:
        """The adapter description the rank recorded when it finished."""
        data = read_json_file(self.done, what="DONE file", fix=LEGACY_FIX)
        return dict((data.get("adapter") if isinstance(data, dict) else None) or {})

    def arrays(self, keep: set[str]) -> dict[str, np.ndarray]:
        """The maps of the samples in ``keep`` from the part files (a part written twice: first copy wins)."""
        arrays: dict[str, np.ndarray] = {}
        for part in sorted(self.parts.glob("part-*.npz")):
            if part.name.endswith(".tmp.npz"):
                continue
            with np.load(_regular(part)) as data:
                for key in data.files:
                    if key.split("__")[0] in keep and key not in arrays:
                        arrays[key] = data[key]
        return arrays


# ---- files -----------------------------------------------------------------------------------------------------
def read_records(path: Path, kind: type[Record], *, torn_tail: bool = False) -> list[Record]:
    """The records of a JSON Lines file; a record that does not read names the file, the line and the fix."""
    out = []
    for number, data in json_lines(path, fix=LEGACY_FIX, torn_tail=torn_tail):
        try:
            out.append(kind.from_json(data))
        except FileFormatError as error:
            raise FileFormatError(f"line {number}: {error.message}", path=path, record=error.record,
                                  fix=error.fix) from error
        except (TypeError, ValueError, KeyError, IndexError) as error:
            raise FileFormatError(f"line {number} is not a {kind.__name__} ({type(error).__name__}: {error})",
                                  path=path, fix=LEGACY_FIX) from error
    return out


def resume_records(path: Path, kind: type[Record]) -> list[Record]:
    """Records appended so far; a torn last line (a killed run) is dropped and the file rewritten without it."""
    if not path.exists():
        return []
    records = read_records(path, kind, torn_tail=True)
    write_records(path, records)
    return records


def write_records(path: Path, records: Iterable[SampleRecord | BoxSampleRecord | BoxPrediction]) -> None:
    write_json_lines(path, (record.to_json() for record in records))


def append_records(sink: IO[str], records: Iterable[SampleRecord | BoxSampleRecord | BoxPrediction]) -> None:
    """Append JSON lines to an open file, then flush and fsync (a record on disk survives a kill)."""
    for record in records:
        sink.write(json.dumps(record.to_json(), sort_keys=True) + "\n")
    sink.flush()
    os.fsync(sink.fileno())


def _regular(path: Path) -> Path:
    """``path`` once it is known to be a regular file (a named pipe would block ``np.load``)."""
    check_regular(path, what="attention file")
    return path


def save_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write a compressed ``.npz`` atomically (temporary name, then rename)."""
    tmp = path.with_name(path.name + ".tmp.npz")
    # numpy's stub types **kwds together with allow_pickle: bool, so a str -> array mapping is refused
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(path)


def write_json(path: Path, value: Any, *, indent: int | None = 2) -> None:
    """JSON with sorted keys and a final newline, written atomically."""
    with staged_file(path) as staged:  # a fresh name: never a file planted there, nor a link
        staged.write_text(json.dumps(value, indent=indent, sort_keys=True, default=str) + "\n")


# ---- the folder ------------------------------------------------------------------------------------------------
class RunFolder:
    """A run folder on disk (see the module docs for its layout)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def samples_path(self) -> Path:
        return self.root / SAMPLES

    @property
    def predictions_path(self) -> Path:
        return self.root / PREDICTIONS

    @property
    def summary_path(self) -> Path:
        return self.root / SUMMARY

    @property
    def attention_dir(self) -> Path:
        return self.root / ATTENTION

    def rank(self, rank: int, world: int) -> RankPaths:
        return RankPaths(self.root, rank, world)

    def has_manifest(self) -> bool:
        return self.manifest_path.exists()

    def read_manifest(self) -> Manifest:
        if not self.manifest_path.exists():
            raise SourceNotFoundError(f"{MANIFEST} is missing: not a run folder", path=self.root,
                                      fix="run `vgmed eval run ... --out DIR` first")
        data = read_json_file(self.manifest_path, what=MANIFEST, fix=LEGACY_FIX)
        try:
            return Manifest.from_json(data)
        except (FileFormatError, TypeError, ValueError, AttributeError) as error:
            raise FileFormatError(f"{MANIFEST} cannot be read ({error})", path=self.root, fix=LEGACY_FIX) from error

    def check_resume(self, manifest: Manifest, *, overwrite: bool = False, unmapped_fingerprint: str | None = None,
                     mappings_agree: bool | None = None) -> None:
        """Refuse a folder that holds a run with other settings (or another world size); writes nothing.
        With ``overwrite`` the old run is accepted (:meth:`start` removes it).

        A run written before the box mapping was recorded (its ``run.json`` has none: input-scale metrics) has
        the fingerprint of the settings without the mapping (``unmapped_fingerprint``). It resumes under another
        mapping only where both mappings give the same cells (``mappings_agree``, known once the model's family
        is: None accepts for now, the caller checks again with the family); otherwise the refusal says so."""
        if self.root.exists() and not self.root.is_dir():
            raise InvalidInputError("--out is a file, not a run folder", path=self.root,
                                    fix="pass a folder for the run (a new one, or a run to resume)")
        self.check_links()
        if overwrite or not self.has_manifest():
            return
        old = self.read_manifest()
        legacy = (old.box_mapping is None and unmapped_fingerprint is not None and old.world == manifest.world
                  and old.fingerprint == unmapped_fingerprint and manifest.mapping != old.mapping)
        if legacy and mappings_agree is not False:
            return
        if legacy:
            raise InvalidInputError(
                f"{self.root} holds a run made before the box mapping was recorded: its metrics map boxes by "
                f"{old.mapping}, this run by {manifest.mapping}, and on this model's padded or cropped input "
                "they differ", path=self.root,
                fix="add --overwrite to redo the run, or use a new --out folder (docs/evaluation.md: box mapping)")
        if old.fingerprint != manifest.fingerprint or old.world != manifest.world:
            raise InvalidInputError(
                f"{self.root} holds a run with other settings ({old.model}, world {old.world})", path=self.root,
                fix="use a new --out folder, the same arguments and number of ranks to resume, or --overwrite")

    def start(self, manifest: Manifest, *, overwrite: bool = False, unmapped_fingerprint: str | None = None,
              mappings_agree: bool | None = None) -> None:
        """Begin (or resume) a run: its first write. ``overwrite`` starts over: it first removes the run files a
        previous run left, whatever its settings (only those: other files in the folder stay). The other
        options: :meth:`check_resume`."""
        self.check_resume(manifest, overwrite=overwrite, unmapped_fingerprint=unmapped_fingerprint,
                          mappings_agree=mappings_agree)
        if overwrite:
            self.remove_run_files()
        if self.has_manifest():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.manifest_path, manifest.to_json())

    def check_links(self) -> None:
        """Refuse the folder when anything a run writes (its files, its folders and what they hold) is a link
        that leads out of it: nothing is ever written through one. Writes nothing."""
        for name in (*RUN_FILES, *RUN_FOLDERS):
            path = self.root / name
            entries = [path]
            if path.is_dir() and not path.is_symlink():
                entries += [p for p in path.rglob("*") if p.is_symlink()]
            for entry in entries:
                relative = entry.relative_to(self.root).as_posix()
                try:
                    resolve_inside(self.root, relative, what="run folder entry")
                except PathEscapeError:
                    raise PathEscapeError(f"{relative} is a link that leads out of the run folder", path=self.root,
                                          fix=f"remove the link {relative} (a run writes only inside its folder), "
                                              "or use a new --out folder") from None

    def remove_run_files(self) -> None:
        for name in RUN_FILES:
            (self.root / name).unlink(missing_ok=True)
        for name in RUN_FOLDERS:
            shutil.rmtree(self.root / name, ignore_errors=True)

    def read_samples(self) -> list[SampleRecord]:
        self._need(SAMPLES)
        return read_records(self.samples_path, SampleRecord)

    def read_box_samples(self) -> list[BoxSampleRecord]:
        self._need(SAMPLES)
        return read_records(self.samples_path, BoxSampleRecord)

    def read_summary(self) -> dict[str, Any]:
        if not self.summary_path.exists():
            return {}
        data = read_json_file(self.summary_path, what=SUMMARY, fix=LEGACY_FIX)
        return data if isinstance(data, dict) else {}

    def attention(self, keep: set[str] | None = None) -> Iterator[tuple[str, np.ndarray]]:
        """``(key, array)`` from the merged attention shards; ``keep``: only these sample ids."""
        for shard in sorted(self.attention_dir.glob("shard-*.npz")):
            with np.load(_regular(shard)) as data:
                for key in data.files:
                    if keep is None or key.split("__")[0] in keep:
                        yield key, data[key]

    def merge_ranks(self, world: int) -> tuple[list[SampleRecord], dict[str, Any]]:
        """Every rank's records (dataset order) and maps into ``samples.jsonl`` and ``attention/``; returns
        the records and the adapter description. Refuses while a rank has not finished."""
        records: list[SampleRecord] = []
        adapter: dict[str, Any] = {}
        self.check_links()  # `eval merge` writes here without a resume check
        self.attention_dir.mkdir(exist_ok=True)
        for rank in range(world):
            paths = self.rank(rank, world)
            if not paths.done.exists():
                raise InvalidInputError(f"rank {rank} of {world} has not finished", path=paths.dir,
                                        fix="run (or resume) that rank, then merge again")
            adapter = paths.adapter() or adapter
            rank_records = read_records(paths.records, SampleRecord, torn_tail=True) if paths.records.exists() else []
            arrays = paths.arrays({r.id for r in rank_records})
            save_arrays(self.attention_dir / f"shard-{rank:05d}-of-{world:05d}.npz", dict(sorted(arrays.items())))
            records += rank_records
        records.sort(key=lambda r: r.index)
        write_records(self.samples_path, records)
        return records, adapter

    def all_ranks_done(self, world: int) -> bool:
        return all(self.rank(r, world).done.exists() for r in range(world))

    def _need(self, name: str) -> None:
        if not (self.root / name).exists():
            raise SourceNotFoundError(f"{name} is missing: not a finished run folder", path=self.root,
                                      fix="run `vgmed eval run ... --out DIR` (or `vgmed eval merge`) first")
