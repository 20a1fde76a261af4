"""The evaluation runner behind ``vgmed eval run``.

For each sample: one question pass (``generate``, greedy; the prefill captures the answer-predicting row of
the chosen layers) and one general-prompt pass (a plain forward with the same capture), the normalised map on
the image-token grid, the official metrics per layer and per head, and the answer score. A closed question
(lettered options) is answered on the lettered prompt, but with ``attention_prompt="official"`` (the default)
its maps come from one more capture-only forward on the official open prompt, as the official code measures
them; ``"answer"`` keeps the lettered prompt's capture. Open questions need no extra pass.

``cfg.protocol`` (:mod:`vgmed_data.eval.protocol`): ``official`` sets the processor, prompts, generation and box
rules to the official VGMED code's per family; where its answers use other processor settings than its
measurement (the Qwen path) the baseline answers get one more, generating, pass and VGRefine runs on the answer
settings. Every record carries ``protocol`` and ``grid`` (and ``answer_grid`` when the answers' grid is another).

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

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vgmed_data.eval.answers import score_answer
from vgmed_data.eval.choices import BoxMapping, QueryMode, Task
from vgmed_data.eval.config import BASELINE, VGREFINE, EvalConfig, SkipPolicy
from vgmed_data.eval.data import EvalSample, in_shard, iter_samples, rank_and_world
from vgmed_data.eval.metrics import (HEAD_METRICS, boxes_to_token_mask, boxes_to_token_mask_padding_aware,
                                     grounding_metrics)
from vgmed_data.eval.plan import RunPlan, plan_run, run_options
from vgmed_data.eval.progress import progress_bar
from vgmed_data.eval.protocol import mappings_agree
from vgmed_data.eval.run_folder import MethodRecord, RunFolder, SampleRecord, Status, VGRefineRecord
from vgmed_data.eval.vgrefine.options import VGRefineOptions
from vgmed_data.errors import FileFormatError, GeometryError, InvalidInputError, VgmedError
from vgmed_data.onbad import warn_skipped

__all__ = ["EvalConfig", "evaluate_batch", "merge", "run_demo_eval", "run_eval", "run_rank"]


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
    weights = (_row_weights(encoded, encoded.prompt_lengths).to(device) if query == QueryMode.QUESTION_MEAN
               else None)
    replies: list[str] = []
    with torch.inference_mode(), capture_attention(model, layers=layers, row_weights=weights) as plan:
        if generate:
            replies = _generate(adapter, inputs)
        else:
            model(**inputs)
    missing = [layer for layer in layers if layer not in plan.maps]
    if missing:
        raise InvalidInputError(f"no attention was captured for layer(s) {missing}",
                                fix="the model's language layers must use the attention interface")
    maps = torch.stack([plan.maps[layer] for layer in layers], dim=1).float().cpu().numpy()
    return maps, replies


def _generate(adapter: Any, inputs: dict[str, Any]) -> list[str]:
    """The decoded replies of ``generate`` with the adapter's settings (call under inference mode)."""
    output = adapter.model.generate(**inputs, **adapter.generation_settings())
    new = output[:, inputs["input_ids"].shape[1]:]
    return [text.strip() for text in adapter.tokenizer.batch_decode(new, skip_special_tokens=True)]


def _answer_pass(adapter: Any, encoded: Any, *, device: str) -> list[str]:
    """Generate the answers of a batch, no capture (the answer pass of the official Qwen protocol)."""
    import torch

    with torch.inference_mode():
        return _generate(adapter, encoded.on(device, dtype=adapter.model.dtype).inputs)


def _is_oom(error: BaseException) -> bool:
    """Out of memory, by type: torch's (CUDA and other accelerators) or Python's (CPU allocations)."""
    import torch

    return isinstance(error, (torch.OutOfMemoryError, MemoryError))


def _gt_masks(sample: EvalSample, layout: Any, size: tuple[int, int], *, mapping: BoxMapping, clip: bool = False
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mask of `mapping`, mask of the other mapping or None)``, flat over the grid. The other is None where
    the input transform is a pure resize: then both mappings give the same cells."""
    scaled = boxes_to_token_mask(sample.boxes, image_size=size, grid=layout.grid, clip=clip).reshape(-1)
    if all(step.kind == "resize" for step in layout.transform.steps):
        return scaled, None
    aware = boxes_to_token_mask_padding_aware(sample.boxes, transform=layout.transform, grid=layout.grid).reshape(-1)
    return (aware, scaled) if mapping is BoxMapping.PADDING_AWARE else (scaled, aware)


def _metric_lists(result: dict[str, Any]) -> dict[str, tuple[float, ...]]:
    return {name: tuple(round(float(v), 6) for v in values) for name, values in result["layer"].items()}


def _sample_fields(sample: EvalSample) -> dict[str, Any]:
    """What every record of a sample carries, whatever happened to it."""
    return {"index": sample.index, "id": sample.id, "modality": sample.modality,
            "question_type": sample.question_type, "question": sample.question, "answer": sample.answer,
            "options": tuple(sample.options)}


def _skipped(sample: EvalSample, error: VgmedError) -> SampleRecord:
    """A counted skip: the error's reason (its category) and its full text."""
    return SampleRecord(**_sample_fields(sample), status=Status.SKIPPED, skip_reason=error.reason,
                        skip_detail=str(error))


def _warn_skips(records: Sequence[SampleRecord]) -> None:
    """``--on-bad warn``: one stderr line per sample the policy skipped: the sample (unreadable image, rejected
    by the processor) or its grounding metrics (a bad box); not the rows that have no box to measure."""
    for record in records:
        if record.status == Status.SKIPPED:
            warn_skipped(f"sample {record.id}", reason=str(record.skip_reason), detail=str(record.skip_detail))
        elif record.grounding_skip == "bad box":
            warn_skipped(f"sample {record.id} (grounding metrics)", reason=record.grounding_skip,
                         detail=str(record.grounding_skip_detail))


def _encode_rows(adapter: Any, ready: list[tuple[EvalSample, Any]], text_of: Callable[[EvalSample], str],
                 plan: RunPlan, records: list[SampleRecord]) -> tuple[list[tuple[EvalSample, Any]], Any]:
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
                if plan.cfg.on_bad_sample is SkipPolicy.ERROR:
                    raise
                records.append(_skipped(sample, error))
        return kept, encode(kept)


def _load_images(samples: Sequence[EvalSample], plan: RunPlan, records: list[SampleRecord]
                 ) -> list[tuple[EvalSample, Any]]:
    """``(sample, image)`` of the samples whose image reads and has the row's size; the others become counted
    skips appended to ``records`` (or raise, by policy)."""
    ready: list[tuple[EvalSample, Any]] = []
    for sample in samples:
        try:
            image = sample.image()
            if sample.size != (0, 0) and image.size != sample.size:
                raise GeometryError(f"image is {image.size} but the row says {sample.size}", record=sample.id,
                                    reason="image size mismatch")
            ready.append((sample, image))
        except VgmedError as error:
            if plan.cfg.on_bad_sample is SkipPolicy.ERROR:
                raise
            records.append(_skipped(sample, error))
    return ready


@dataclass(frozen=True)
class _Passes:
    """A batch's shared passes, row by row: the rows kept, where each row's metric maps come from (an encoded
    batch, its maps, the row in it), the general prompt's maps, the baseline's replies (empty when it does not
    answer), the answer pass's grids (official Qwen protocol: the answers' grid where it is another), and the
    time each row is charged for the passes."""

    ready: list[tuple[EvalSample, Any]]
    sources: list[tuple[Any, np.ndarray, int]]
    general: Any
    general_maps: np.ndarray
    replies: list[str]
    answer_grids: list[tuple[int, int]]
    timings: list[dict[str, float]]


def _run_passes(adapter: Any, ready: list[tuple[EvalSample, Any]], plan: RunPlan, records: list[SampleRecord]
                ) -> _Passes | None:
    """The question pass (the answer prompt, generating, when the baseline answers there; else the attention
    prompt, capture only), a capture-only pass on the attention prompt for the rows whose attention prompt is not
    the question pass's (closed questions with ``attention_prompt="official"``), the general pass and, where the
    baseline answers apart (:attr:`RunPlan.separate_answers`), the answer pass. None: no row could be encoded."""
    from vgmed_data.eval.adapters import GENERAL_PROMPT

    cfg, layers = plan.cfg, plan.layers
    start = time.perf_counter()
    ready, encoded_q = _encode_rows(adapter, ready, plan.question_text, plan, records)
    if encoded_q is None:
        return None
    generate = plan.answer_baseline and not plan.separate_answers
    q_maps, replies = _capture_pass(adapter, encoded_q, layers, generate=generate, query=cfg.query, device=cfg.device)
    t_question = time.perf_counter() - start
    images, ids = [image for _, image in ready], [s.id for s, _ in ready]
    sources: list[tuple[Any, np.ndarray, int]] = [(encoded_q, q_maps, row) for row in range(len(ready))]
    extra = [row for row, (sample, _) in enumerate(ready) if plan.attention_text(sample) != plan.question_text(sample)]
    start = time.perf_counter()
    if extra:
        encoded_a = adapter.encode([images[row] for row in extra],
                                   [plan.attention_text(ready[row][0]) for row in extra],
                                   record_ids=[ids[row] for row in extra])
        a_maps, _ = _capture_pass(adapter, encoded_a, layers, generate=False, query=cfg.query, device=cfg.device)
        for at, row in enumerate(extra):
            sources[row] = (encoded_a, a_maps, at)
    t_attention = time.perf_counter() - start
    start = time.perf_counter()
    encoded_g = adapter.encode(images, [GENERAL_PROMPT] * len(ready), record_ids=ids)
    g_maps, _ = _capture_pass(adapter, encoded_g, layers, generate=False, query=cfg.query, device=cfg.device)
    t_general = time.perf_counter() - start
    answer_grids: list[tuple[int, int]] = []
    if plan.separate_answers:
        start = time.perf_counter()
        with adapter.using(plan.answer):
            encoded_r = adapter.encode(images, [plan.answer_text(s) for s, _ in ready], record_ids=ids)
            replies = _answer_pass(adapter, encoded_r, device=cfg.device)
        answer_grids = [tuple(layout.grid) for layout in encoded_r.layouts]
        t_question += time.perf_counter() - start
    per = len(ready)
    timings = [{"question_s": round(t_question / per, 6), "general_s": round(t_general / per, 6),
                **({"attention_s": round(t_attention / len(extra), 6)} if row in extra else {})}
               for row in range(per)]
    return _Passes(ready=ready, sources=sources, general=encoded_g, general_maps=g_maps, replies=replies,
                   answer_grids=answer_grids, timings=timings)


def evaluate_batch(adapter: Any, samples: Sequence[EvalSample], plan: RunPlan
                   ) -> tuple[list[SampleRecord], dict[str, np.ndarray]]:
    """Records and attention arrays for one batch (:func:`_run_passes`, then each row's record). Bad samples
    become counted skips (or raise, by policy)."""
    records: list[SampleRecord] = []
    arrays: dict[str, np.ndarray] = {}
    passes = _run_passes(adapter, _load_images(samples, plan, records), plan, records)
    if passes is not None:
        records += [_row_record(adapter, passes, row, plan, arrays) for row in range(len(passes.ready))]
    records.sort(key=lambda r: r.index)
    return records, arrays


def _row_record(adapter: Any, passes: _Passes, row: int, plan: RunPlan, arrays: dict[str, np.ndarray]
                ) -> SampleRecord:
    """One answered row's record: prompts, grid, answers (baseline, VGRefine, interventions) and its grounding
    metrics; its maps go into ``arrays``."""
    sample, image = passes.ready[row]
    source, source_maps, at = passes.sources[row]
    layout_a, layout_g = source.layouts[at], passes.general.layouts[row]
    q = source_maps[at][..., layout_a.positions]
    g = passes.general_maps[row][..., layout_g.positions]
    timings = dict(passes.timings[row])
    fields: dict[str, Any] = {
        **_sample_fields(sample), "status": Status.OK, "prompt": adapter.chat_text(plan.answer_text(sample)),
        "attention_prompt": plan.cfg.attention_prompt, "attention_text": source.texts[at],
        "grid": tuple(layout_a.grid), "input_transform": layout_a.transform.to_dict(), "layers": plan.layers,
        "box_mapping": plan.settings.box_mapping, "protocol": plan.settings.protocol,
    }
    if passes.answer_grids:  # the grid the answer was generated on, where it is not the measured one
        fields["answer_grid"] = passes.answer_grids[row]
    prediction = passes.replies[row] if plan.answer_baseline else None
    if prediction is not None:
        fields.update(prediction=prediction,
                      score=score_answer(prediction, answer=sample.answer, options=sample.options))
    refined = None
    if plan.cfg.vgrefine is not None:
        with adapter.using(plan.answer):
            result = _vgrefine_sample(adapter, sample, image, plan)
        refined = result.record
        timings["vgrefine_s"] = round(result.seconds, 6)
        arrays.update(result.arrays)
    outcomes = _interventions(adapter, sample, image, plan, prediction=prediction, timings=timings)
    arrays[f"{sample.id}__question"] = q.astype(np.float16)
    arrays[f"{sample.id}__general"] = g.astype(np.float16)
    grounding = _Grounding(adapter=adapter, plan=plan, sample=sample, image=image, layout=layout_a,
                           question=q, general=g)
    fields.update(grounding.fields(arrays))
    if grounding.mask is not None:
        outcomes = {name: _with_metrics_after(grounding, outcome) for name, outcome in outcomes.items()}
        if refined is not None and tuple(refined.grid) == tuple(layout_a.grid):
            refined = _vgrefine_after(grounding, refined)
    return SampleRecord(**fields, vgrefine=refined, methods={name: o.record for name, o in outcomes.items()},
                        timings=timings)


@dataclass
class _Grounding:
    """A row's grounding metrics: the boxes on the measured grid (:attr:`mask`, set by :meth:`fields` when the
    metrics could be computed) and the maps they are scored on."""

    adapter: Any
    plan: RunPlan
    sample: EvalSample
    image: Any
    layout: Any
    question: np.ndarray
    general: np.ndarray
    mask: np.ndarray | None = None

    def fields(self, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        """The record's grounding fields (``metrics``, ``gt_tokens``, the other mapping's metrics) or why there
        are none (``grounding_skip``); the per-head metrics go into ``arrays``."""
        sample, settings = self.sample, self.plan.settings
        if not sample.boxes:
            return {"grounding_skip": "no boxes"}
        try:
            mask, other = _gt_masks(sample, self.layout, self.image.size, mapping=settings.box_mapping,
                                    clip=settings.clip_boxes)
        except GeometryError as error:
            if self.plan.cfg.on_bad_sample is SkipPolicy.ERROR:
                raise GeometryError(error.message, record=sample.id, fix=error.fix) from error
            return {"grounding_skip": "bad box", "grounding_skip_detail": error.message}
        if not mask.any():  # official protocol, every box clipped away (the official code raises)
            return {"grounding_skip": "bad box",
                    "grounding_skip_detail": "no image token overlaps the boxes clipped to the image"}
        self.mask = mask
        result = grounding_metrics(self.question, self.general, mask)
        arrays[f"{sample.id}__head_metrics"] = np.stack([result["head"][k] for k in HEAD_METRICS]
                                                        ).astype(np.float32)
        out: dict[str, Any] = {"gt_tokens": int(mask.sum()), "metrics": _metric_lists(result)}
        if other is not None and other.any():  # the other mapping: metrics_padding_aware / _input_scale
            other_name = ("metrics_input_scale" if settings.box_mapping is BoxMapping.PADDING_AWARE
                          else "metrics_padding_aware")
            out[other_name] = _metric_lists(grounding_metrics(self.question, self.general, other))
        return out

    def metrics_after(self, maps: Mapping[int, np.ndarray]) -> dict[str, tuple[float, ...]]:
        """The layer metrics of ``maps`` (layer -> map on the grid), with the row's normaliser and cells."""
        assert self.mask is not None, "metrics_after follows fields()"
        after = np.stack([maps[layer] for layer in self.plan.layers])
        return _metric_lists(grounding_metrics(after, self.general, self.mask))


def _vgrefine_sample(adapter: Any, sample: EvalSample, image: Any, plan: RunPlan) -> Any:
    """VGRefine on one sample (fast path, batch size 1); with the baseline, the plain answer is decoded too."""
    from vgmed_data.eval.vgrefine.evaluate import evaluate_sample

    assert plan.cfg.vgrefine is not None
    return evaluate_sample(adapter, image=image, user_text=plan.answer_text(sample), sample_id=sample.id,
                           answer=sample.answer, options=sample.options, method_options=plan.cfg.vgrefine,
                           max_new_tokens=plan.answer.max_new_tokens, with_plain=BASELINE in plan.cfg.methods)


@dataclass(frozen=True)
class _Outcome:
    """One intervention on one sample: its record and, for attention-changing methods, what the metrics after
    it need (the maps on the answer prompt, the method, its per-sample choices)."""

    record: MethodRecord
    method: Any
    maps: dict[int, np.ndarray] | None


def _interventions(adapter: Any, sample: EvalSample, image: Any, plan: RunPlan, *, prediction: str | None,
                   timings: dict[str, float]) -> dict[str, _Outcome]:
    """Every intervention of the plan (eval.methods) answers the sample on the answer prompt, batch size 1."""
    outcomes: dict[str, _Outcome] = {}
    for name, method in plan.interventions.items():
        capture = list(plan.layers) if method.changes_attention and sample.boxes else []
        start = time.perf_counter()
        with adapter.using(plan.answer):
            result = method.answer(adapter, image, plan.answer_text(sample), max_new_tokens=plan.answer.max_new_tokens,
                                   capture_layers=capture, sample_id=sample.id)
        seconds = time.perf_counter() - start
        timings[f"{name}_s"] = round(seconds, 6)
        record = MethodRecord(method=name, parameters=method.parameters(), answer=result.text,
                              changed=None if prediction is None else result.text != prediction,
                              details=dict(result.details), seconds=round(seconds, 6),
                              score=score_answer(result.text, answer=sample.answer, options=sample.options))
        outcomes[name] = _Outcome(record=record, method=method, maps=result.maps)
    return outcomes


def _with_metrics_after(grounding: _Grounding, outcome: _Outcome) -> _Outcome:
    """The layer metrics of the attention after an attention-changing intervention, on the prompt the record's
    ``metrics`` were measured on (its answer pass's maps when that is the answer prompt, else one capture-only
    forward with the same per-sample choices) and with the same general-prompt normaliser and cells."""
    if not outcome.method.changes_attention:
        return outcome
    plan, sample = grounding.plan, grounding.sample
    attention_text = plan.attention_text(sample)
    maps = outcome.maps
    if maps is None or attention_text != plan.answer_text(sample):
        maps = outcome.method.capture(grounding.adapter, grounding.image, attention_text, layers=list(plan.layers),
                                      details=outcome.record.details)
    return replace(outcome, record=replace(outcome.record, metrics_after=grounding.metrics_after(maps)))


def _vgrefine_after(grounding: _Grounding, refined: VGRefineRecord) -> VGRefineRecord:
    """VGRefine's record with ``metrics_after``: one capture-only forward of the attention prompt with the
    sample's knockout (its blocked tokens, masked layers, rows from the first token after the image), the last
    row of every captured layer, normalised and scored like the record's ``metrics``."""
    import torch

    from vgmed_data.eval.capture import AttentionPlan, attention_plan
    from vgmed_data.eval.methods.base import encode_one, image_maps
    from vgmed_data.eval.vgrefine.knockout import Knockout

    adapter, layers = grounding.adapter, list(grounding.plan.layers)
    encoded = encode_one(adapter, grounding.image, grounding.plan.attention_text(grounding.sample))
    layout = encoded.layouts[0]
    length = int(encoded.inputs["input_ids"].shape[1])
    knockout = Knockout(first_row=layout.span[1], prompt_length=length,
                        blocked_positions=layout.positions[np.asarray(refined.blocked, dtype=np.int64)],
                        layers=frozenset(int(v) for v in refined.parameters["masked_layers"]))

    def edit(layer: int, attention: Any, query: Any, key: Any) -> Any:
        return knockout.edit_sdpa_mask(attention, q_len=query.shape[2], k_len=key.shape[2], device=query.device)

    plan = AttentionPlan(mask_edit=edit, edit_layers=knockout.layers, capture_layers=frozenset(layers))
    with torch.inference_mode(), attention_plan(adapter.model, plan):
        adapter.model(**encoded.inputs, logits_to_keep=1)
    return replace(refined, metrics_after=grounding.metrics_after(image_maps(plan, encoded, layers)))


def _evaluate_with_oom_fallback(adapter: Any, batch: Sequence[EvalSample], plan: RunPlan
                                ) -> tuple[list[SampleRecord], dict[str, np.ndarray]]:
    try:
        return evaluate_batch(adapter, batch, plan)
    except Exception as error:  # noqa: BLE001 - only out-of-memory is handled here
        if not _is_oom(error):
            raise
        _empty_cache(plan.cfg.device)
        if len(batch) > 1:  # retry one by one so only the offending sample is lost
            records: list[SampleRecord] = []
            arrays: dict[str, np.ndarray] = {}
            for sample in batch:
                more, more_arrays = _evaluate_with_oom_fallback(adapter, [sample], plan)
                records += more
                arrays.update(more_arrays)
            return records, arrays
        sample = batch[0]
        text = str(error).strip()
        return [SampleRecord(**_sample_fields(sample), status=Status.OOM, skip_reason="out of memory",
                             skip_detail=text[:200] if "\n" not in text else text[:text.index("\n")][:200])], {}


def _empty_cache(device: str) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_rank(cfg: EvalConfig, *, rank: int, world: int, adapter: Any | None = None) -> Path:
    """Evaluate this rank's shard (resuming), writing under ``ranks/``; returns the rank's folder.

    Nothing is written until the inputs load (the dataset's rows, the model): a mistyped dataset or model
    leaves no run folder behind."""
    from vgmed_data.eval.adapters import load_adapter

    if cfg.task != Task.GROUNDING:
        raise InvalidInputError(f"the grounding runner was given --task {cfg.task}",
                                fix="run box tasks with `vgmed eval run --task boxes`")
    if cfg.overwrite and world > 1:
        raise InvalidInputError("--overwrite cannot be used under torchrun (the ranks would race)",
                                path=cfg.out, fix="empty the folder first, or use a new --out")
    folder = RunFolder(cfg.out)
    manifest = cfg.manifest(world)
    unmapped = cfg.unmapped_fingerprint()  # runs written before the box mapping was recorded
    folder.check_resume(manifest, overwrite=cfg.overwrite, unmapped_fingerprint=unmapped)  # before loading anything
    samples = [s for s in iter_samples(cfg.dataset, config=cfg.config, split=cfg.split, limit=cfg.limit)
               if in_shard(s.index, rank=rank, world=world)]
    if adapter is None:
        if cfg.device == "cuda" and world > 1:
            cfg = replace(cfg, device=f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}")
        adapter = load_adapter(cfg.model, dtype=cfg.dtype, device=cfg.device, options=run_options(cfg))
    # the family is known once the model is loaded: the run's plan, resolved once
    plan = plan_run(cfg, family=adapter.family, num_layers=adapter.num_layers)
    if cfg.vgrefine is not None:  # fail before the first sample, not inside it
        cfg.vgrefine.check_model(layers=adapter.num_layers, heads=adapter.num_heads)
    for method in plan.interventions.values():
        method.check(adapter)
    folder.start(manifest, overwrite=cfg.overwrite, unmapped_fingerprint=unmapped,
                 mappings_agree=mappings_agree(adapter.family))  # the first write
    paths = folder.rank(rank, world)
    finished = {r.id for r in paths.resume()}
    todo = [s for s in samples if s.id not in finished]
    bar = progress_bar(len(todo), enabled=cfg.progress)
    with paths.records.open("a") as sink, adapter.using(plan.measure):
        for start in range(0, len(todo), cfg.batch_size):
            batch = todo[start:start + cfg.batch_size]
            records, arrays = _evaluate_with_oom_fallback(adapter, batch, plan)
            paths.append(sink, records, arrays, part=batch[0].index)
            if cfg.on_bad_sample is SkipPolicy.WARN:
                _warn_skips(records)
            bar.update(len(batch))
        description = adapter.describe()  # with the measurement's processor settings, as before
    bar.close()
    paths.finish({**description, "protocol": plan.settings.to_dict()})
    return paths.dir


def merge(out: str | os.PathLike[str], *, overlays: int = 8, dataset: str | None = None,
          config: str = "vgmed", split: str = "test") -> dict[str, Any]:
    """Merge every rank's records and maps into the final outputs; returns the summary."""
    from vgmed_data.eval.report import write_reports

    folder = RunFolder(out)
    manifest = folder.read_manifest()
    records, adapter_info = folder.merge_ranks(manifest.world)
    return write_reports(folder, records, manifest=manifest, adapter=adapter_info, overlays=overlays,
                         dataset=dataset or manifest.dataset, config=config, split=split)


def run_eval(cfg: EvalConfig, *, adapter: Any | None = None) -> dict[str, Any] | None:
    """Run this process's rank of a grounding run; the rank-0 process then waits for the others and merges
    (returns the summary). Box runs: :func:`vgmed_data.eval.boxes.generate.run_boxes`."""
    rank, world = rank_and_world()
    run_rank(cfg, rank=rank, world=world, adapter=adapter)
    if rank != 0:
        return None
    folder = RunFolder(cfg.out)
    deadline = time.monotonic() + cfg.merge_timeout_s
    while not folder.all_ranks_done(world):
        if time.monotonic() > deadline:
            raise InvalidInputError(f"ranks did not finish within {cfg.merge_timeout_s:.0f} s", path=cfg.out,
                                    fix="resume the missing ranks, then run `vgmed eval merge --out DIR`")
        time.sleep(2.0)
    return merge(cfg.out, overlays=cfg.overlays, dataset=cfg.dataset, config=cfg.config, split=cfg.split)


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
