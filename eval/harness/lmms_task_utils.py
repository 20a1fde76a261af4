"""What an exported lmms-eval task runs: prompts, visuals and scoring, bound to the task's own settings file.

Each exported task ``<task>`` is three files (:mod:`vgmed_data.eval.harness.lmms_eval_export`): ``<task>.yaml``,
``<task>.json`` (its settings: configuration, box format, frame, fitted baseline) and ``<task>.py``, a fixed
module that calls :func:`bind` on the JSON beside it. So two tasks in one ``--include_path`` folder never share
scoring state, and no generated file holds text formatted from a user's names.

lmms-eval 0.7.3 conventions (``lmms_eval/api/task.py``): ``doc_to_visual(doc)``, ``doc_to_text(doc,
lmms_eval_specific_kwargs)`` (what "simple" models read: images first, then the text), ``doc_to_messages(doc)``
(what "chat" models read: a user turn of ``{"type": "text"|"image"}`` parts, ``lmms_eval/protocol.py``),
``process_results(doc, results)`` with the stripped generations, one dict of per-document metric values.

Prompts are ``vgmed eval run``'s: the official wording or lettered options for closed questions
(:func:`~vgmed_data.eval.adapters.base.question_prompt`), the box prompt of the format
(:func:`~vgmed_data.eval.boxes.prompts.box_prompt`), and on multi-image samples each image labelled
``Image k:`` before it (:meth:`~vgmed_data.eval.adapters.base.Adapter.chat_text`). ``doc_to_messages`` builds
exactly that turn; ``doc_to_text`` writes the labels with lmms-eval's ``<image k>`` placeholders, which its
simple Qwen models interleave when run with ``interleave_visuals=True`` (``models/simple/qwen2_vl.py`` lines
302-340).

Scores are vgmed-data's own, imported, not re-implemented: answers by
:func:`~vgmed_data.eval.answers.score_answer`, boxes by :func:`~vgmed_data.eval.boxes.scoring.score_output` in
the task's lmms-eval frame (:mod:`vgmed_data.eval.harness.lmms_frames`), baselines by
:mod:`vgmed_data.eval.boxes.baselines`. Values are fractions (0-1), as in ``vgmed eval score``'s
summary.json; its printed table shows them x100.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vgmed_data.configs import dataset_config
from vgmed_data.eval.adapters.base import question_prompt
from vgmed_data.eval.answers import score_answer
from vgmed_data.eval.boxes.baselines import MeanBox, full_image
from vgmed_data.eval.boxes.dataset import sequence_target
from vgmed_data.eval.boxes.formats import get_format
from vgmed_data.eval.boxes.prompts import box_prompt
from vgmed_data.eval.boxes.scoring import THRESHOLDS, SampleScore, score_output
from vgmed_data.eval.harness.lmms_frames import LmmsFrame

SETTINGS_VERSION = 1
BASELINES = ("full_image", "mean_box")
# per-document metrics of a sequences task: the model's, then each baseline's miou / acc@0.5 / image_and_iou50
MODEL_METRICS = ("miou", *(f"acc@{t}" for t in THRESHOLDS), "image_acc", "image_and_iou50")
BASELINE_METRICS = ("miou", "acc@0.5", "image_and_iou50")
MULTI_IMAGE_ONLY = ("image_acc", "image_and_iou50")  # None on single-image documents, averaged over the rest


def sequence_metric_names() -> list[str]:
    return [*MODEL_METRICS, *(f"{b}_{m}" for b in BASELINES for m in BASELINE_METRICS)]


def _rgb(image: Any) -> Any:
    return image.convert("RGB") if getattr(image, "mode", "RGB") != "RGB" else image


def _labelled(images: list[Any], text: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "image", "url": images[0]}] if len(images) == 1 else [
        part for k, image in enumerate(images)
        for part in ({"type": "text", "text": f"Image {k + 1}:"}, {"type": "image", "url": image})]
    return [{"role": "user", "content": [*parts, {"type": "text", "text": text}]}]


def _placeholders(count: int, text: str) -> str:
    return text if count == 1 else "".join(f"Image {k + 1}:<image {k + 1}>" for k in range(count)) + text


def _metrics(score: SampleScore) -> dict[str, float | None]:
    correct = score.image_correct  # None: a single-image row
    return {"miou": score.iou, **{f"acc@{t}": float(score.iou >= t) for t in THRESHOLDS},
            "image_acc": None if correct is None else float(correct),
            "image_and_iou50": None if correct is None else float(correct and score.iou >= 0.5)}


@dataclass(frozen=True)
class TaskFunctions:
    """The functions one task's YAML names (``!function <task>.<name>``)."""

    doc_to_visual: Callable[[dict[str, Any]], list[Any]]
    doc_to_text: Callable[..., str]
    doc_to_messages: Callable[..., list[dict[str, Any]]]
    process_results: Callable[[dict[str, Any], Sequence[str]], dict[str, float | None]]


def mean_skip_none(items: Sequence[float | None]) -> float | None:
    """Mean over the documents that have the metric (multi-image ones for ``image_acc`` and
    ``image_and_iou50``), as ``vgmed eval score`` summarises them; None when there are none."""
    values = [v for v in items if v is not None]
    return sum(values) / len(values) if values else None


def _vgmed(settings: dict[str, Any]) -> TaskFunctions:
    def doc_to_visual(doc: dict[str, Any]) -> list[Any]:
        return [_rgb(doc["image"])]

    def doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
        return question_prompt(doc["question"], doc.get("options") or ())

    def doc_to_messages(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> list:
        return _labelled(doc_to_visual(doc), doc_to_text(doc))

    def process_results(doc: dict[str, Any], results: Sequence[str]) -> dict[str, float | None]:
        scored = score_answer(results[0] if results else "", answer=doc["answer"], options=doc.get("options") or ())
        return {"accuracy": float(scored["correct"])}

    return TaskFunctions(doc_to_visual, doc_to_text, doc_to_messages, process_results)


def _sequences(settings: dict[str, Any]) -> TaskFunctions:
    fmt = get_format(settings["box_format"])
    frame = LmmsFrame.from_dict(settings["frame"])
    fitted = settings.get("mean_box")
    mean_box = None if fitted is None else MeanBox(
        fitted["fitted_on"], {k: tuple(v) for k, v in fitted["relative"].items()}, dict(fitted["image_index"]),
        tuple(fitted["overall"]), int(fitted["n"]))

    def doc_to_visual(doc: dict[str, Any]) -> list[Any]:
        return [_rgb(image) for image in doc["images"]]

    def prompt(doc: dict[str, Any]) -> str:
        text, _ = box_prompt(question=doc["question"], fmt=fmt.name,
                             image_sizes=[tuple(size) for size in doc["image_sizes"]],
                             reference_box=doc.get("reference_box"),
                             reference_image_index=doc.get("reference_image_index"))
        return text

    def doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
        return _placeholders(len(doc["image_sizes"]), prompt(doc))  # media columns may be absent here

    def doc_to_messages(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> list:
        return _labelled(doc_to_visual(doc), prompt(doc))

    def process_results(doc: dict[str, Any], results: Sequence[str]) -> dict[str, float | None]:
        target = sequence_target(doc)
        transforms = [frame.transform(size) for size in target.image_sizes]
        values = _metrics(score_output(target, results[0] if results else "", fmt=fmt, transforms=transforms))
        baselines = {"full_image": full_image(target)}
        if mean_box is not None:
            baselines["mean_box"] = mean_box.predict(target)
        for name, score in baselines.items():
            scored = _metrics(score)
            values.update({f"{name}_{m}": scored[m] for m in BASELINE_METRICS})
        return values

    return TaskFunctions(doc_to_visual, doc_to_text, doc_to_messages, process_results)


def bind(settings_file: str | Path) -> TaskFunctions:
    """The functions of the task whose settings are ``settings_file`` (the JSON written beside its YAML)."""
    settings = json.loads(Path(settings_file).read_text(encoding="utf-8"))
    if settings.get("version") != SETTINGS_VERSION:
        raise ValueError(f"{settings_file}: settings version {settings.get('version')!r}, this vgmed-data reads "
                         f"{SETTINGS_VERSION}; export the task again with this vgmed-data")
    return (_sequences if dataset_config(settings["config"]).answer == "box" else _vgmed)(settings)
