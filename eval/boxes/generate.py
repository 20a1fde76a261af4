"""``vgmed eval run --task boxes``: ask a supported family for boxes, write the predictions ``vgmed eval score``
reads, and score them with the baselines beside the model.

Samples: the ``sequences`` configuration (several images per prompt, the reference box re-expressed in the
family's convention by :func:`vgmed_data.eval.boxes.prompts.box_prompt`) or ``vgmed`` rows with boxes (one image, "Locate
the <target>" by :func:`vgmed_data.eval.boxes.prompts.target_prompt`). The output format is the family's
(its descriptor's ``output_format``, :mod:`vgmed_data.eval.adapters.family`); a family without one, or one whose adapter takes one image per
prompt given a multi-image sample, is refused with the reason.

Outputs under ``--out``: ``predictions.jsonl`` (``{"id", "output", "input_transforms"}``: the raw model text and
each image's stored -> input transform, exactly what ``vgmed eval score`` reads, plus the prompt),
``samples.jsonl`` (prompt, raw output, parse mode strict/lenient/unparsed, IoU, image choice, per sample),
``scores/`` (:func:`vgmed_data.eval.boxes.report.write_report`), ``summary.json`` (``"boxes"``: the score report) and
``summary.md``. Resume: finished ids in ``predictions.jsonl`` are skipped. One process (no rank sharding).
Batch size 1: prompts of several images differ too much in length to batch usefully.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from vgmed_data.eval.adapters.base import inputs_on
from vgmed_data.eval.boxes.prompts import box_prompt, target_prompt
from vgmed_data.eval.config import EvalConfig, Task
from vgmed_data.eval.progress import progress_bar
from vgmed_data.eval.run_folder import (BoxPrediction, BoxSampleRecord, Manifest, RunFolder, Status, append_records,
                                        read_records, resume_records, write_json, write_records)
from vgmed_data.configs import CONFIGS
from vgmed_data.errors import InvalidInputError


@dataclass(frozen=True)
class BoxSample:
    index: int
    id: str
    task: str
    images: tuple[bytes, ...]
    image_sizes: tuple[tuple[int, int], ...]
    question: str
    target: str
    reference_box: tuple[float, ...] | None
    reference_image_index: int | None
    names_target: bool  # asked for the box of its named target (target_prompt), else its own question (box_prompt)

    def decoded(self) -> list[Image.Image]:
        out = []
        for data in self.images:
            with Image.open(io.BytesIO(data)) as opened:
                out.append(opened.convert("RGB"))
        return out


def _bytes(image: Any) -> bytes:
    if isinstance(image, dict) and image.get("bytes") is not None:
        return bytes(image["bytes"])
    if isinstance(image, dict) and image.get("path"):
        return Path(image["path"]).read_bytes()
    raise InvalidInputError("a row has an image without bytes or path")


def iter_box_samples(dataset: str | os.PathLike[str], *, config: str, split: str, limit: int | None
                     ) -> Iterator[BoxSample]:
    """The samples of a local dataset folder or a Hub dataset id that can be asked for a box (``vgmed`` rows need
    boxes)."""
    from vgmed_data.eval.data import iter_dataset_rows

    if config not in CONFIGS:
        raise InvalidInputError(f"--task boxes reads the {' or '.join(CONFIGS)} configuration, not {config!r}")
    boxes_answer = CONFIGS[config].answer == "box"
    index = 0
    for row in iter_dataset_rows(dataset, config=config, split=split):
        if limit is not None and index >= limit:
            break
        if boxes_answer:  # the question asks for a box in one of several images
            reference = row.get("reference_box")
            yield BoxSample(index=index, id=str(row["id"]), task=str(row["task"]),
                            images=tuple(_bytes(i) for i in row["images"]),
                            image_sizes=tuple((int(w), int(h)) for w, h in row["image_sizes"]),
                            question=str(row["question"]), target=str(row.get("target") or ""),
                            reference_box=tuple(float(v) for v in reference) if reference else None,
                            reference_image_index=row.get("reference_image_index"), names_target=False)
        else:  # the question names a target: the model is asked for its box
            if not row.get("boxes"):
                continue  # the scorer skips rows without boxes too (eval.boxes.dataset.iter_targets)
            yield BoxSample(index=index, id=str(row["id"]), task="vgmed", images=(_bytes(row["image"]),),
                            image_sizes=((int(row["width"]), int(row["height"])),), question=str(row["question"]),
                            target=str(row.get("target") or ""), reference_box=None, reference_image_index=None,
                            names_target=True)
        index += 1


def output_format_of(family: str) -> str:
    """The output format the family's descriptor names for ``--task boxes``; a family without one is refused."""
    from vgmed_data.eval.adapters import descriptor, families

    fmt = descriptor(family).output_format
    if fmt is None:
        supported = ", ".join(f.name for f in families() if f.output_format)
        raise InvalidInputError(f"the {family} family has no box output format",
                                fix=f"--task boxes supports: {supported}")
    return fmt


def prompt_for(sample: BoxSample, *, fmt: str, transforms: list[Any]) -> str:
    if sample.names_target:
        return target_prompt(target=sample.target, fmt=fmt)
    text, _ = box_prompt(question=sample.question, fmt=fmt, image_sizes=sample.image_sizes,
                         reference_box=sample.reference_box, reference_image_index=sample.reference_image_index,
                         transforms=transforms)
    return text


def answer_one(adapter: Any, sample: BoxSample, *, fmt: str, device: str) -> BoxPrediction:
    """Encode (twice: the transforms the prompt needs come from the processor), generate greedily, return the
    prediction line."""
    import torch

    images = sample.decoded()
    _, transforms = adapter.encode_images(images, "", record_id=sample.id)
    prompt = prompt_for(sample, fmt=fmt, transforms=transforms)
    inputs, transforms = adapter.encode_images(images, prompt, record_id=sample.id)
    inputs = inputs_on(inputs, device, dtype=adapter.model.dtype)
    start = time.perf_counter()
    with torch.inference_mode():
        output = adapter.model.generate(**inputs, **adapter.generation_settings())
    new = output[0, inputs["input_ids"].shape[1]:]
    text = adapter.tokenizer.decode(new, skip_special_tokens=True).strip()
    return BoxPrediction(id=sample.id, output=text, input_transforms=tuple(t.to_dict() for t in transforms),
                         prompt=prompt, seconds=round(time.perf_counter() - start, 6))


def run_boxes(cfg: EvalConfig, *, adapter: Any | None = None) -> dict[str, Any]:
    """Generate (resuming) and score; ``cfg.task`` is ``boxes``. Nothing is written until the dataset and the
    model have loaded and the family can answer the samples."""
    from vgmed_data.eval.adapters import AdapterOptions, load_adapter
    from vgmed_data.eval.data import rank_and_world

    if cfg.task != Task.BOXES:
        raise InvalidInputError(f"the boxes task was given --task {cfg.task}", fix="pass --task boxes")
    _, world = rank_and_world()
    if world > 1:
        raise InvalidInputError("--task boxes runs in one process", fix="launch it without torchrun")
    folder = RunFolder(cfg.out)
    manifest = cfg.manifest(1)
    folder.check_resume(manifest, overwrite=cfg.overwrite)
    samples = list(iter_box_samples(cfg.dataset, config=cfg.config, split=cfg.split, limit=cfg.limit))
    options = AdapterOptions(max_pixels=cfg.max_pixels, max_new_tokens=cfg.max_new_tokens)
    if adapter is None:
        adapter = load_adapter(cfg.model, dtype=cfg.dtype, device=cfg.device, options=options)
    with adapter.using(options):  # a given adapter gets the run's options for the run only
        return _generate_and_score(adapter, cfg, folder, manifest, samples)


def _generate_and_score(adapter: Any, cfg: EvalConfig, folder: RunFolder, manifest: Manifest,
                        samples: list[BoxSample]) -> dict[str, Any]:
    fmt = output_format_of(adapter.family)
    most = max((len(s.images) for s in samples), default=1)
    adapter.check_image_count(most)  # refuse before generating anything
    folder.start(manifest, overwrite=cfg.overwrite)  # the first write
    finished = {r.id for r in resume_records(folder.predictions_path, BoxPrediction)}
    todo = [s for s in samples if s.id not in finished]
    bar = progress_bar(len(todo), enabled=cfg.progress)
    with folder.predictions_path.open("a") as sink:
        for sample in todo:
            append_records(sink, [answer_one(adapter, sample, fmt=fmt, device=cfg.device)])
            bar.update(1)
    bar.close()
    return write_box_reports(folder, dataset=cfg.dataset, config=cfg.config, split=cfg.split, fmt=fmt,
                             adapter=adapter.describe(), model=cfg.model, order=[s.id for s in samples])


def write_box_reports(folder: RunFolder, *, dataset: str, config: str, split: str, fmt: str,
                      adapter: dict[str, Any], model: str, order: list[str]) -> dict[str, Any]:
    """Score ``predictions.jsonl`` exactly as ``vgmed eval score`` does and write the run's reports."""
    from vgmed_data.eval.boxes.report import format_table, score_predictions, write_report

    out = folder.root
    predictions = {r.id: r for r in read_records(folder.predictions_path, BoxPrediction)}
    report = score_predictions(dataset, folder.predictions_path, fmt=fmt, config=config, split=split)
    write_report(report, out / "scores")
    by_id = {s.id: s for s in report.samples}
    records = []
    for index, sample_id in enumerate(order):
        line, scored = predictions[sample_id], by_id[sample_id]
        records.append(BoxSampleRecord(
            index=index, id=sample_id, task=scored.task, status=Status.OK, prompt=line.prompt, output=line.output,
            parse=str(scored.mode), iou=scored.iou, image_correct=scored.image_correct,
            predicted_image_index=scored.predicted_image_index, box=None if scored.box is None else tuple(scored.box),
            notes=tuple(scored.notes), timings={"generate_s": line.seconds}))
    write_records(folder.samples_path, records)
    summary = {"task": "boxes", "model": model, "dataset": dataset, "config": config, "split": split,
               "adapter": adapter, "format": fmt,
               "random_weights": (Path(model) / "tiny_checkpoint.json").exists(),
               "counts": {"samples": len(order)}, "boxes": report.to_dict()}
    write_json(folder.summary_path, summary)
    note = ("**This model has random weights: every number below is noise.**\n\n"
            if summary["random_weights"] else "")
    (out / "summary.md").write_text(
        f"# Box scores: {model}\n\n{note}Dataset `{dataset}` ({config}, {split}); output format `{fmt}`; "
        "metrics in percent; parse counts: strict / lenient / unparsed.\n\n```\n" + format_table(report) + "\n```\n")
    return summary
