"""The evaluation runner behind ``vgmed eval run``.

For each sample: one question pass (``generate``, greedy; the prefill captures the answer-predicting row of
the chosen layers) and one general-prompt pass (a plain forward with the same capture), the normalised map on
the image-token grid, the official metrics per layer and per head, and the answer score. A closed question
(lettered options) is answered on the lettered prompt, but with ``attention_prompt="official"`` (the default)
its maps come from one more capture-only forward on the official open prompt, as the official code measures
them; ``"answer"`` keeps the lettered prompt's capture. Open questions need no extra pass.

Outputs under ``--out`` (see docs/evaluation.md):

* ``samples.jsonl``: one record per sample, dataset order (answer, correctness, metrics per layer, timings,
  status, skip reason);
* ``attention/shard-RRRRR-of-WWWWW.npz``: float16 ``[layers, heads, N]`` question and general maps per
  sample (``<id>__question``: captured on the record's ``attention_text``; ``<id>__general``), one
  compressed file per rank shard;
* ``summary.json`` and ``summary.md``: counts, accuracy and metrics by modality, question type and layer;
* ``layers.png``: metrics per layer; ``overlays/*.png``: image + ground-truth boxes + attention.

Resume: each rank appends finished records to ``ranks/rank-R-of-W/samples.jsonl`` and their maps to part
files; a restart with the same arguments skips finished ids, and the merge sorts by dataset order, so the final
files equal an uninterrupted run's (timings aside). Multi-GPU: under ``torchrun`` each rank takes rows
``index % WORLD_SIZE == RANK``; rank 0 waits for the others and merges (or run ``vgmed eval merge``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vgmed_data.eval.adapters.base import ATTENTION_PROMPTS
from vgmed_data.eval.answers import score_answer
from vgmed_data.eval.data import EvalSample, in_shard, iter_samples, rank_and_world
from vgmed_data.eval.metrics import boxes_to_token_mask, boxes_to_token_mask_padding_aware, grounding_metrics
from vgmed_data.eval.provenance import run_provenance
from vgmed_data.eval.vgrefine.options import VGRefineOptions
from vgmed_data.errors import FileFormatError, GeometryError, InvalidInputError, VgmedError

SKIP_POLICIES = ("skip", "error")
QUERY_MODES = ("last", "question_mean")
TIMING_KEYS = ("timings",)
BASELINE, VGREFINE = "baseline", "vgrefine"
METHODS = (BASELINE, VGREFINE)
TASKS = ("grounding", "boxes")


def parse_methods(text: str) -> tuple[str, ...]:
    """``"baseline"``, ``"vgrefine"`` or ``"baseline,vgrefine"`` -> the methods in canonical order."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in METHODS]
    if unknown or not names:
        raise InvalidInputError(f"unknown method(s) {unknown or text!r}",
                                fix=f"use one or more of {', '.join(METHODS)}, comma-separated")
    return tuple(m for m in METHODS if m in names)


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """Everything a run depends on; the CLI fills it from its flags (same names)."""

    model: str
    dataset: str
    out: Path
    config: str = "vgmed"
    split: str = "test"
    layers: tuple[int, ...] | None = None  # None: every decoder layer (the official protocol)
    limit: int | None = None
    batch_size: int = 1
    dtype: str = "float32"
    device: str = "cpu"
    max_pixels: int | None = None  # None: the family default (eval.adapters); 0: the checkpoint's own
    max_new_tokens: int = 16
    query: str = "last"  # "last" (official) or "question_mean" (mean over the rows after the image)
    overlays: int = 8
    on_bad_sample: str = "skip"
    progress: bool = True
    merge_timeout_s: float = 3600.0
    methods: tuple[str, ...] = (BASELINE,)  # "baseline" and/or "vgrefine" (docs/vgrefine.md)
    vgrefine: VGRefineOptions | None = None  # required when "vgrefine" is in methods
    argv: tuple[str, ...] | None = None  # the command line recorded in run.json (None: this process's sys.argv)
    task: str = "grounding"  # "grounding" (attention + answers) or "boxes" (eval.boxes.generate)
    # the prompt the grounding metrics' attention is captured on for closed questions: "official" (the official
    # open prompt, one more capture-only forward) or "answer" (the lettered prompt the answer is generated from)
    attention_prompt: str = "official"

    def __post_init__(self) -> None:
        methods = tuple(self.methods)
        if not methods or any(m not in METHODS for m in methods) or len(set(methods)) != len(methods):
            raise InvalidInputError(f"methods {methods!r}", fix=f"use one or more of {METHODS}, each once")
        object.__setattr__(self, "methods", tuple(m for m in METHODS if m in methods))
        if self.task not in TASKS:
            raise InvalidInputError(f"task {self.task!r}", fix=f"use one of {TASKS}")
        if self.task == "boxes" and methods != (BASELINE,):
            raise InvalidInputError("--task boxes runs the baseline method only", fix="drop --method/--heads")
        if (VGREFINE in methods) != (self.vgrefine is not None):
            raise InvalidInputError("VGRefine options are needed exactly when the vgrefine method runs",
                                    fix="pass --heads heads.json|PRESET with --method vgrefine or "
                                        "baseline,vgrefine (and no --heads otherwise)")
        if self.batch_size < 1:
            raise InvalidInputError(f"batch size must be >= 1, got {self.batch_size}")
        if self.on_bad_sample not in SKIP_POLICIES:
            raise InvalidInputError(f"on_bad_sample {self.on_bad_sample!r}", fix=f"use one of {SKIP_POLICIES}")
        if self.query not in QUERY_MODES:
            raise InvalidInputError(f"query {self.query!r}", fix=f"use one of {QUERY_MODES}")
        if self.attention_prompt not in ATTENTION_PROMPTS:
            raise InvalidInputError(f"attention prompt {self.attention_prompt!r}",
                                    fix=f"use one of {ATTENTION_PROMPTS}")

    def fingerprint(self) -> str:
        """What must match for a resume: everything that changes results (not batch size, device, limit)."""
        keys = ("model", "dataset", "config", "split", "layers", "dtype", "max_pixels", "max_new_tokens", "query",
                "methods")
        settings = {k: getattr(self, k) for k in keys}
        if self.task != "grounding":  # only box runs carry it
            settings["task"] = self.task
        elif self.attention_prompt != "answer":
            # Runs from before the option measured closed questions on the answer prompt: "answer" keeps their
            # fingerprint (they resume with --attention-prompt answer), any other choice refuses to mix with them.
            settings["attention_prompt"] = self.attention_prompt
        settings["vgrefine"] = self.vgrefine.to_dict() if self.vgrefine is not None else None
        text = json.dumps(settings, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class RankPaths:
    root: Path
    rank: int
    world: int
    dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.dir = self.root / "ranks" / f"rank-{self.rank:05d}-of-{self.world:05d}"

    @property
    def records(self) -> Path:
        return self.dir / "samples.jsonl"

    @property
    def parts(self) -> Path:
        return self.dir / "attention-parts"

    @property
    def done(self) -> Path:
        return self.dir / "DONE"


# ---- per-batch work ------------------------------------------------------------------------------------------
def _row_weights(encoded: Any, lengths: Sequence[int]) -> Any:
    """``[batch, q]`` weights: uniform over the rows from the first token after the image to the prompt end."""
    import torch

    seq = encoded.inputs["input_ids"].shape[1]
    weights = torch.zeros(len(encoded.layouts), seq)
    for row, layout in enumerate(encoded.layouts):
        start = layout.span[1]
        weights[row, start:seq] = 1.0 / max(seq - start, 1)
    return weights


def _capture_pass(adapter: Any, encoded: Any, layers: Sequence[int], *, generate: bool, query: str,
                  device: str) -> tuple[np.ndarray, list[str]]:
    """Run one pass; returns maps ``[batch, layers, heads, seq]`` (float32) and the decoded replies."""
    import torch

    from vgmed_data.eval.capture import capture_attention

    model = adapter.model
    inputs = encoded.on(device, dtype=model.dtype).inputs
    weights = _row_weights(encoded, encoded.prompt_lengths).to(device) if query == "question_mean" else None
    replies: list[str] = []
    with torch.inference_mode(), capture_attention(model, layers=layers, row_weights=weights) as plan:
        if generate:
            output = model.generate(**inputs, **adapter.generation_settings())
            new = output[:, inputs["input_ids"].shape[1]:]
            replies = [text.strip() for text in adapter.tokenizer.batch_decode(new, skip_special_tokens=True)]
        else:
            model(**inputs)
    missing = [layer for layer in layers if layer not in plan.maps]
    if missing:
        raise InvalidInputError(f"no attention was captured for layer(s) {missing}",
                                fix="the model's language layers must use the attention interface")
    maps = torch.stack([plan.maps[layer] for layer in layers], dim=1).float().cpu().numpy()
    return maps, replies


def _is_oom(error: BaseException) -> bool:
    import torch

    return isinstance(error, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in str(error).lower()


def _gt_masks(sample: EvalSample, layout: Any, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    official = boxes_to_token_mask(sample.boxes, image_size=size, grid=layout.grid).reshape(-1)
    pure_resize = all(step.kind == "resize" for step in layout.transform.steps)
    padded = None if pure_resize else boxes_to_token_mask_padding_aware(
        sample.boxes, transform=layout.transform, grid=layout.grid).reshape(-1)
    return official, padded


def _metric_lists(result: dict[str, Any]) -> dict[str, list[float]]:
    return {name: [round(float(v), 6) for v in values] for name, values in result["layer"].items()}


def _sample_fields(sample: EvalSample) -> dict[str, Any]:
    """What every record of a sample carries, whatever happened to it."""
    return {"index": sample.index, "id": sample.id, "modality": sample.modality,
            "question_type": sample.question_type, "question": sample.question, "answer": sample.answer,
            "options": list(sample.options)}


def _encode_rows(adapter: Any, ready: list[tuple[EvalSample, Any]], text_of: Callable[[EvalSample], str],
                 cfg: EvalConfig, records: list[dict[str, Any]]) -> tuple[list[tuple[EvalSample, Any]], Any]:
    """``(kept rows, Encoded or None)`` for ``ready`` with the user text ``text_of(sample)``. Images the processor
    rejects become counted skips appended to ``records`` (or raise, by policy); the other rows go on."""
    from vgmed_data.eval.adapters import GENERAL_PROMPT

    def encode(rows: list[tuple[EvalSample, Any]]) -> Any:
        return adapter.encode([i for _, i in rows], [text_of(s) for s, _ in rows],
                              record_ids=[s.id for s, _ in rows]) if rows else None

    try:
        return ready, encode(ready)
    except FileFormatError:
        kept = []
        for sample, image in ready:  # find the image(s) the processor rejects
            try:
                adapter.encode([image], [GENERAL_PROMPT], record_ids=[sample.id])
                kept.append((sample, image))
            except FileFormatError as error:
                if cfg.on_bad_sample == "error":
                    raise
                records.append({**_sample_fields(sample), "status": "skipped", "skip_reason": str(error)})
        return kept, encode(kept)


def evaluate_batch(adapter: Any, samples: Sequence[EvalSample], cfg: EvalConfig, layers: Sequence[int]
                   ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Records and attention arrays for one batch. Bad samples become counted skips (or raise, by policy).

    Passes: the question pass (the answer prompt, generating, when the baseline answers; else the attention
    prompt, capture only), a capture-only pass on the attention prompt for the rows whose attention prompt is
    not the one the question pass ran (closed questions with ``attention_prompt="official"``), the general pass.
    """
    from vgmed_data.eval.adapters import GENERAL_PROMPT, question_prompt
    from vgmed_data.eval.adapters.base import attention_question_prompt

    def answer_text(sample: EvalSample) -> str:
        return question_prompt(sample.question, sample.options)

    def attention_text(sample: EvalSample) -> str:
        return attention_question_prompt(sample.question, sample.options, mode=cfg.attention_prompt)

    records: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    ready: list[tuple[EvalSample, Any]] = []
    for sample in samples:
        try:
            image = sample.image()
            if sample.size != (0, 0) and image.size != sample.size:
                raise GeometryError(f"image is {image.size} but the row says {sample.size}", record=sample.id)
            ready.append((sample, image))
        except VgmedError as error:
            if cfg.on_bad_sample == "error":
                raise
            records.append({**_sample_fields(sample), "status": "skipped", "skip_reason": str(error)})
    answer_baseline = BASELINE in cfg.methods  # --method vgrefine alone: the question pass only captures
    first_text = answer_text if answer_baseline else attention_text
    start = time.perf_counter()
    ready, encoded_q = _encode_rows(adapter, ready, first_text, cfg, records)
    if encoded_q is None:
        records.sort(key=lambda r: r["index"])
        return records, arrays
    q_maps, replies = _capture_pass(adapter, encoded_q, layers, generate=answer_baseline, query=cfg.query,
                                    device=cfg.device)
    t_question = time.perf_counter() - start
    images = [image for _, image in ready]
    # Where each row's metric maps come from: (encoded batch, its maps, row in it).
    sources: list[tuple[Any, np.ndarray, int]] = [(encoded_q, q_maps, row) for row in range(len(ready))]
    extra = [row for row, (sample, _) in enumerate(ready) if attention_text(sample) != first_text(sample)]
    start = time.perf_counter()
    if extra:
        encoded_a = adapter.encode([images[row] for row in extra], [attention_text(ready[row][0]) for row in extra],
                                   record_ids=[ready[row][0].id for row in extra])
        a_maps, _ = _capture_pass(adapter, encoded_a, layers, generate=False, query=cfg.query, device=cfg.device)
        for at, row in enumerate(extra):
            sources[row] = (encoded_a, a_maps, at)
    t_attention = time.perf_counter() - start
    start = time.perf_counter()
    encoded_g = adapter.encode(images, [GENERAL_PROMPT] * len(ready), record_ids=[s.id for s, _ in ready])
    g_maps, _ = _capture_pass(adapter, encoded_g, layers, generate=False, query=cfg.query, device=cfg.device)
    t_general = time.perf_counter() - start
    per = len(ready)
    for row, (sample, image) in enumerate(ready):
        source, source_maps, at = sources[row]
        layout_a, layout_g = source.layouts[at], encoded_g.layouts[row]
        q = source_maps[at][..., layout_a.positions]
        g = g_maps[row][..., layout_g.positions]
        timings = {"question_s": round(t_question / per, 6), "general_s": round(t_general / per, 6)}
        if row in extra:
            timings["attention_s"] = round(t_attention / len(extra), 6)
        record: dict[str, Any] = {
            **_sample_fields(sample), "status": "ok", "prompt": adapter.chat_text(answer_text(sample)),
            "attention_prompt": cfg.attention_prompt, "attention_text": source.texts[at],
            "grid": list(layout_a.grid), "input_transform": layout_a.transform.to_dict(), "layers": list(layers),
            "timings": timings,
        }
        if answer_baseline:
            record.update(prediction=replies[row],
                          **score_answer(replies[row], answer=sample.answer, options=sample.options))
        if cfg.vgrefine is not None:
            refined = _vgrefine_sample(adapter, sample, image, cfg, cfg.vgrefine)
            record["vgrefine"] = refined.record
            record["timings"]["vgrefine_s"] = round(refined.seconds, 6)
            arrays.update(refined.arrays)
        arrays[f"{sample.id}__question"] = q.astype(np.float16)
        arrays[f"{sample.id}__general"] = g.astype(np.float16)
        if not sample.boxes:
            record["grounding_skip"] = "no boxes"
        else:
            try:
                official, padded = _gt_masks(sample, layout_a, image.size)
            except GeometryError as error:
                if cfg.on_bad_sample == "error":
                    raise GeometryError(error.message, record=sample.id, fix=error.fix) from error
                record["grounding_skip"] = f"bad box: {error.message}"
            else:
                result = grounding_metrics(q, g, official)
                record["gt_tokens"] = int(official.sum())
                record["metrics"] = _metric_lists(result)
                arrays[f"{sample.id}__head_metrics"] = np.stack(
                    [result["head"][k] for k in ("ar", "kl", "js")]).astype(np.float32)
                if padded is not None and padded.any():
                    record["metrics_padding_aware"] = _metric_lists(grounding_metrics(q, g, padded))
        records.append(record)
    records.sort(key=lambda r: r["index"])
    return records, arrays


def _vgrefine_sample(adapter: Any, sample: EvalSample, image: Any, cfg: EvalConfig, options: VGRefineOptions
                     ) -> Any:
    """VGRefine on one sample (fast path, batch size 1); with the baseline, the plain answer is decoded too."""
    from vgmed_data.eval.adapters import question_prompt
    from vgmed_data.eval.vgrefine.evaluate import evaluate_sample

    return evaluate_sample(adapter, image=image, user_text=question_prompt(sample.question, sample.options),
                           sample_id=sample.id, answer=sample.answer, options=sample.options,
                           method_options=options, max_new_tokens=cfg.max_new_tokens,
                           with_plain=BASELINE in cfg.methods)


def _evaluate_with_oom_fallback(adapter: Any, batch: Sequence[EvalSample], cfg: EvalConfig,
                                layers: Sequence[int]) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    try:
        return evaluate_batch(adapter, batch, cfg, layers)
    except Exception as error:  # noqa: BLE001 - only out-of-memory is handled here
        if not _is_oom(error):
            raise
        _empty_cache(cfg.device)
        if len(batch) > 1:  # retry one by one so only the offending sample is lost
            records: list[dict[str, Any]] = []
            arrays: dict[str, np.ndarray] = {}
            for sample in batch:
                more, more_arrays = _evaluate_with_oom_fallback(adapter, [sample], cfg, layers)
                records += more
                arrays.update(more_arrays)
            return records, arrays
        sample = batch[0]
        return [{**_sample_fields(sample), "status": "oom",
                 "skip_reason": f"out of memory: {str(error).splitlines()[0][:200]}"}], {}


def _empty_cache(device: str) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---- files -----------------------------------------------------------------------------------------------------
def _read_records(path: Path) -> list[dict[str, Any]]:
    """Complete JSON lines of ``path``; a torn last line (killed run) is dropped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def _check_manifest(cfg: EvalConfig, world: int) -> None:
    path = cfg.out / "run.json"
    manifest = {"fingerprint": cfg.fingerprint(), "world": world, "model": cfg.model, "dataset": cfg.dataset,
                "config": cfg.config, "split": cfg.split, "layers": cfg.layers, "query": cfg.query,
                "task": cfg.task, "methods": list(cfg.methods), "attention_prompt": cfg.attention_prompt,
                "vgrefine": cfg.vgrefine.to_dict() if cfg.vgrefine is not None else None,
                "provenance": run_provenance(device=cfg.device, config=cfg.config, split=cfg.split, argv=cfg.argv)}
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("fingerprint") != manifest["fingerprint"] or old.get("world") != world:
            raise InvalidInputError(
                f"{cfg.out} holds a run with other settings ({old.get('model')}, world {old.get('world')})",
                path=cfg.out, fix="use a new --out folder, or the same arguments and number of ranks to resume")
        return
    cfg.out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    tmp.replace(path)


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="sample", disable=not enabled, file=sys.stderr, dynamic_ncols=True,
                desc="vgmed eval")


def run_rank(cfg: EvalConfig, *, rank: int, world: int, adapter: Any | None = None) -> RankPaths:
    """Evaluate this rank's shard (resuming), writing under ``ranks/``."""
    from vgmed_data.eval.adapters import AdapterOptions, load_adapter

    paths = RankPaths(cfg.out, rank, world)
    _check_manifest(cfg, world)
    paths.parts.mkdir(parents=True, exist_ok=True)
    finished = {r["id"] for r in _read_records(paths.records)}
    clean = _read_records(paths.records)
    paths.records.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in clean))  # drop a torn line
    todo = [s for s in iter_samples(cfg.dataset, config=cfg.config, split=cfg.split, limit=cfg.limit)
            if in_shard(s.index, rank=rank, world=world) and s.id not in finished]
    options = AdapterOptions(max_pixels=cfg.max_pixels, max_new_tokens=cfg.max_new_tokens)
    if adapter is not None:
        adapter.set_options(options)
    else:
        device = cfg.device
        if device == "cuda" and world > 1:
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
            cfg = replace(cfg, device=device)
        adapter = load_adapter(cfg.model, dtype=cfg.dtype, device=cfg.device, options=options)
    layers = list(cfg.layers) if cfg.layers is not None else list(range(adapter.num_layers))
    if cfg.vgrefine is not None:  # fail before the first sample, not inside it
        cfg.vgrefine.check_model(layers=adapter.num_layers, heads=adapter.num_heads)
    bar = _progress(len(todo), cfg.progress)
    with paths.records.open("a") as sink:
        for start in range(0, len(todo), cfg.batch_size):
            batch = todo[start:start + cfg.batch_size]
            records, arrays = _evaluate_with_oom_fallback(adapter, batch, cfg, layers)
            if arrays:  # maps first: a record in the JSONL always has its maps on disk
                _atomic_savez(paths.parts / f"part-{batch[0].index:08d}.npz", arrays)
            for record in records:
                sink.write(json.dumps(record, sort_keys=True) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            bar.update(len(batch))
    bar.close()
    paths.done.write_text(json.dumps({"adapter": adapter.describe()}) + "\n")
    return paths


def merge(out: str | os.PathLike[str], *, overlays: int = 8, dataset: str | None = None,
          config: str = "vgmed", split: str = "test") -> dict[str, Any]:
    """Merge every rank's records and maps into the final outputs; returns the summary."""
    from vgmed_data.eval.report import write_reports

    root = Path(out)
    manifest = json.loads((root / "run.json").read_text())
    world = int(manifest["world"])
    records: list[dict[str, Any]] = []
    adapter_info: dict[str, Any] = {}
    (root / "attention").mkdir(exist_ok=True)
    for rank in range(world):
        paths = RankPaths(root, rank, world)
        if not paths.done.exists():
            raise InvalidInputError(f"rank {rank} of {world} has not finished", path=paths.dir,
                                    fix="run (or resume) that rank, then merge again")
        adapter_info = json.loads(paths.done.read_text()).get("adapter", adapter_info)
        rank_records = _read_records(paths.records)
        keep = {r["id"] for r in rank_records}
        arrays: dict[str, np.ndarray] = {}
        for part in sorted(paths.parts.glob("part-*.npz")):
            if part.name.endswith(".tmp.npz"):
                continue
            with np.load(part) as data:
                for key in data.files:
                    if key.split("__")[0] in keep and key not in arrays:
                        arrays[key] = data[key]
        _atomic_savez(root / "attention" / f"shard-{rank:05d}-of-{world:05d}.npz", dict(sorted(arrays.items())))
        records += rank_records
    records.sort(key=lambda r: r["index"])
    with (root / "samples.jsonl").open("w") as sink:
        for record in records:
            sink.write(json.dumps(record, sort_keys=True) + "\n")
    return write_reports(root, records, manifest=manifest, adapter=adapter_info, overlays=overlays,
                         dataset=dataset or manifest.get("dataset"), config=config, split=split)


def run_eval(cfg: EvalConfig, *, adapter: Any | None = None) -> dict[str, Any] | None:
    """Run this process's rank; the rank-0 process then waits for the others and merges (returns the summary)."""
    if cfg.task == "boxes":
        from vgmed_data.eval.boxes.generate import run_boxes

        return run_boxes(cfg, adapter=adapter)
    rank, world = rank_and_world()
    run_rank(cfg, rank=rank, world=world, adapter=adapter)
    if rank != 0:
        return None
    deadline = time.monotonic() + cfg.merge_timeout_s
    while not all(RankPaths(cfg.out, r, world).done.exists() for r in range(world)):
        if time.monotonic() > deadline:
            raise InvalidInputError(f"ranks did not finish within {cfg.merge_timeout_s:.0f} s", path=cfg.out,
                                    fix="resume the missing ranks, then run `vgmed eval merge --out DIR`")
        time.sleep(2.0)
    return merge(cfg.out, overlays=cfg.overlays, dataset=cfg.dataset, config=cfg.config, split=cfg.split)


def strip_timings(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without their wall-clock fields (what must be identical between two runs)."""
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


def run_demo_eval(dataset_folder: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                  limit: int | None = None, progress: bool = False) -> dict[str, Any]:
    """What ``vgmed demo`` calls: build a tiny **random-weight** Qwen2-VL-family checkpoint and evaluate it on
    the demo dataset folder. Scores are meaningless by construction; the output says so."""
    from vgmed_data.eval.tiny import build_tiny_checkpoint

    out = Path(out_dir)
    checkpoint = build_tiny_checkpoint("qwen2_vl", out / "tiny-qwen2-vl-random")
    print("vgmed eval: using a tiny RANDOMLY INITIALISED Qwen2-VL model (no weights are downloaded): "
          "its answers and attention are noise; this run only exercises the evaluator.")
    print(f"vgmed eval: --method baseline,vgrefine with a FIXED head list for the tiny model (not chosen by "
          f"`vgmed eval select`): heads {[list(h) for h in DEMO_VGREFINE.heads]}, masked layer(s) "
          f"{list(DEMO_VGREFINE.masked_layers)}, percentile {DEMO_VGREFINE.percentile:g}")
    cfg = EvalConfig(model=str(checkpoint), dataset=str(dataset_folder), out=out / "results", limit=limit,
                     overlays=4, progress=progress, methods=(BASELINE, VGREFINE), vgrefine=DEMO_VGREFINE)
    summary = run_eval(cfg) or {}
    print(f"vgmed eval: report (baseline and VGRefine side by side) written to {cfg.out / 'summary.md'} "
          "(random model)")
    return summary


# The demo's VGRefine setting: every head of the middle layer of the 3-layer tiny Qwen2-VL (eval/tiny.py) triages,
# the last layer knocks out. A fixed, valid list: the demo has no natural-image set to select heads on.
DEMO_VGREFINE = VGRefineOptions(heads=((1, 0), (1, 1), (1, 2), (1, 3)), masked_layers=(2,))


def config_dict(cfg: EvalConfig) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
