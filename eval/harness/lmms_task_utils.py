"""The ``utils.py`` of an exported lmms-eval task (copied by :mod:`vgmed_data.eval.harness.lmms_eval_export`).

lmms-eval calls these from the task YAML (``doc_to_visual``, ``doc_to_text``, ``process_results``, and the
``aggregation`` of ``image_acc``); the conventions are lmms-eval 0.7.3's ``ConfigurableTask`` (``api/task.py``:
``doc_to_text(doc, lmms_eval_specific_kwargs)``, ``process_results(doc, results)`` with ``results`` the
stripped generations, one dict of per-document metric values). Scoring is vgmed-data's own, imported, not
re-implemented: answers by :func:`vgmed_data.eval.answers.score_answer` (as ``vgmed eval run`` scores them),
boxes by :func:`vgmed_data.eval.boxes.scoring.score_output` on the target ``vgmed eval score`` builds. The
environment lmms-eval runs in therefore needs vgmed-data installed, no extras (from a clone or a wheel:
docs/installing.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vgmed_data.eval.adapters.base import question_prompt
from vgmed_data.eval.answers import score_answer
from vgmed_data.eval.boxes.dataset import sequence_target
from vgmed_data.eval.boxes.formats import get_format
from vgmed_data.eval.boxes.prompts import box_prompt
from vgmed_data.eval.boxes.scoring import THRESHOLDS, score_output

BOX_FORMAT = "pixel_xyxy"  # the exporter writes the chosen --box-format here


def _rgb(image: Any) -> Any:
    return image.convert("RGB") if getattr(image, "mode", "RGB") != "RGB" else image


# ------------------------------------------------------------------------------------------------ vgmed config
def vgmed_doc_to_visual(doc: dict[str, Any]) -> list[Any]:
    return [_rgb(doc["image"])]


def vgmed_doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
    """The prompt ``vgmed eval run`` answers from: official wording, lettered options for closed questions."""
    return question_prompt(doc["question"], doc.get("options") or ())


def vgmed_process_results(doc: dict[str, Any], results: Sequence[str]) -> dict[str, float]:
    scored = score_answer(results[0] if results else "", answer=doc["answer"], options=doc.get("options") or ())
    return {"accuracy": float(scored["correct"])}


# -------------------------------------------------------------------------------------------- sequences config
def sequences_doc_to_visual(doc: dict[str, Any]) -> list[Any]:
    return [_rgb(image) for image in doc["images"]]


def sequences_doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
    """The prompt ``vgmed eval run --task boxes`` uses for :data:`BOX_FORMAT`."""
    text, _ = box_prompt(question=doc["question"], fmt=BOX_FORMAT,
                         image_sizes=[tuple(size) for size in doc["image_sizes"]],
                         reference_box=doc.get("reference_box"), reference_image_index=doc.get("reference_image_index"))
    return text


def sequences_process_results(doc: dict[str, Any], results: Sequence[str]) -> dict[str, float | None]:
    score = score_output(sequence_target(doc), results[0] if results else "", fmt=get_format(BOX_FORMAT))
    values: dict[str, float | None] = {"miou": score.iou}
    values.update({f"acc@{t}": float(score.iou >= t) for t in THRESHOLDS})
    values["image_acc"] = None if score.image_correct is None else float(score.image_correct)
    return values


def mean_skip_none(items: Sequence[float | None]) -> float | None:
    """Mean over the documents that have the metric (``image_acc``: multi-image samples whose answer image
    the source states), as ``vgmed eval score`` summarises it; None when there are none."""
    values = [v for v in items if v is not None]
    return sum(values) / len(values) if values else None
