"""``vgmed annotate finalize``: the reviewed dataset, written as a dataset folder.

For every sample of the pushed dataset, the decision is, in order:

1. the adjudicator's latest annotation in the adjudication project, when the sample went there (status
   ``adjudicated``);
2. else, when the experts agree (box IoU at or above the threshold and the same verdict), the consensus: the
   regions of the annotator whose regions agree best with the others' (the medoid, so every final region was
   drawn by one expert), corrections from the first annotator who wrote one (status ``accepted`` for "accept",
   ``corrected`` for "region fixed"/"question fixed");
3. a single annotation counts as the decision when the project asked for one annotator per task.

Left out, each listed with its reason in ``review_report.json``: rejected or "not answerable" samples, samples
without any region after review, samples awaiting adjudication, samples not reviewed yet.

Regions: rectangles give the boxes (rotated ones their bounding box); when there is no rectangle, the outlines'
and brushes' bounding boxes do. Polygons and brushes of the target label, rasterised and united, give the mask.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

from vgmed_data.errors import InvalidInputError, SchemaError
from vgmed_data.folder import iter_rows
from vgmed_data.writer import write_config
from vgmed_data.manifest import copy_build_records
from vgmed_data.schema import GroundingSample, Provenance, Review, row_metadata

from vgmed_data.annotation import config
from vgmed_data.annotation.adjudicate import adjudication_name, needs_adjudication
from vgmed_data.annotation.agreement import latest_per_annotator, matched_box_iou, task_agreement
from vgmed_data.annotation.defaults import DEFAULT_THRESHOLD
from vgmed_data.annotation.pull import ExpertAnnotation, PulledTask, current_tasks
from vgmed_data.annotation.state import State

_STATUS = {config.ACCEPT: "accepted", config.REGION_FIXED: "corrected", config.QUESTION_FIXED: "corrected"}


@dataclass
class FinalizeReport:
    out: Path
    kept: dict[str, int] = field(default_factory=dict)  # status -> count
    left_out: list[dict[str, str]] = field(default_factory=list)  # {"id", "reason"}
    left_out_counts: dict[str, int] = field(default_factory=dict)  # category -> count (the Decision's category)

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "kept": self.kept, "left_out": self.left_out}

    def leave_out(self, sample_id: str, *, reason: str, category: str) -> None:
        self.left_out.append({"id": sample_id, "reason": reason})
        self.left_out_counts[category] = self.left_out_counts.get(category, 0) + 1

    def lines(self) -> list[str]:
        kept = ", ".join(f"{status} {count}" for status, count in sorted(self.kept.items())) or "none"
        reasons = self.left_out_counts
        text = [f"wrote {sum(self.kept.values())} reviewed sample(s) to {self.out} ({kept})"]
        if self.left_out:
            text.append(f"left out {len(self.left_out)}: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
                        + f" (listed in {self.out / 'review_report.json'})")
        return text


@dataclass(frozen=True, kw_only=True)
class Decision:
    annotation: ExpertAnnotation | None  # the annotation whose regions/corrections are used
    status: str  # a REVIEW_STATUSES value
    verdicts: tuple[str, ...]
    annotators: tuple[str, ...]
    agreement: float | None
    adjudicator: str = ""
    notes: str = ""
    corrected_question: str = ""
    corrected_answer: str = ""
    reason: str = ""  # why the sample is left out ("" when kept)
    category: str = ""  # the short category the reason is counted under ("adjudicator", "rejected", ...)


def _notes(annotations: Sequence[ExpertAnnotation]) -> str:
    return "\n".join(f"{a.annotator}: {a.comment}" for a in annotations if a.comment)


def _first(annotations: Sequence[ExpertAnnotation], attribute: str) -> str:
    return next((getattr(a, attribute) for a in annotations if getattr(a, attribute)), "")


def _rejection_category(annotation: ExpertAnnotation) -> str:
    """What :func:`_rejection` says, without the comment: the category it is counted under."""
    reason = _rejection(annotation)
    return "rejected" if annotation.verdict == config.REJECT and not annotation.not_answerable else reason


def _rejection(annotation: ExpertAnnotation) -> str:
    if annotation.not_answerable:
        return "not answerable from the image"
    if annotation.verdict == config.REJECT:
        return "rejected" + (f": {annotation.comment}" if annotation.comment else "")
    if annotation.verdict is None:
        return "no verdict"
    return ""


def medoid(annotations: Sequence[ExpertAnnotation]) -> ExpertAnnotation:
    """The annotation whose regions agree best (mean matched box IoU) with the others; ties: earliest."""
    def score(candidate: ExpertAnnotation) -> float:
        others = [a for a in annotations if a is not candidate]
        return float(np.mean([matched_box_iou(candidate.regions, o.regions) for o in others])) if others else 1.0
    return max(sorted(annotations, key=lambda a: a.annotation_id), key=score)


def decide(review: PulledTask | None, adjudication: PulledTask | None, *, threshold: float,
           single_annotator: bool) -> Decision:
    annotations = latest_per_annotator(review.annotations) if review else []
    verdicts = tuple(str(a.verdict) for a in annotations)
    annotators = tuple(a.annotator for a in annotations)
    agreement = task_agreement(review) if review else None
    base: dict[str, Any] = dict(verdicts=verdicts, annotators=annotators,
                                agreement=None if agreement is None else agreement.box_iou)
    decided = latest_per_annotator(adjudication.annotations) if adjudication else []
    if decided:
        final = max(decided, key=lambda a: a.annotation_id)
        reason = _rejection(final)
        return Decision(annotation=final, status="rejected" if reason else "adjudicated", adjudicator=final.annotator,
                        notes=_notes([*annotations, final]), corrected_question=final.corrected_question,
                        corrected_answer=final.corrected_answer, reason=reason and f"adjudicator: {reason}",
                        category="adjudicator" if reason else "", **base)
    if not annotations:
        return Decision(annotation=None, status="unreviewed", reason="not reviewed yet", category="not reviewed yet",
                        **base)
    if agreement is None and not single_annotator:
        return Decision(annotation=None, status="unreviewed", reason="waiting for a second annotator",
                        category="waiting for a second annotator", **base)
    if agreement is not None and needs_adjudication(agreement, threshold=threshold):
        return Decision(annotation=None, status="unreviewed", reason=f"awaiting adjudication (box IoU "
                        f"{agreement.box_iou:.3f}, verdicts {', '.join(verdicts)})", category="awaiting adjudication",
                        **base)
    chosen = medoid(annotations)
    rejecting = next((a for a in (chosen, *annotations) if _rejection(a)), None)
    reason = _rejection(rejecting) if rejecting is not None else ""
    status = "rejected" if reason else _STATUS.get(str(chosen.verdict), "corrected")
    return Decision(annotation=chosen, status=status, notes=_notes(annotations),
                    corrected_question=_first(annotations, "corrected_question"),
                    corrected_answer=_first(annotations, "corrected_answer"), reason=reason,
                    category=_rejection_category(rejecting) if rejecting is not None else "", **base)


def final_regions(annotation: ExpertAnnotation, *, target: str, image_size: tuple[int, int]
                  ) -> tuple[list[list[float]], list[str], np.ndarray | None]:
    """(boxes, box labels, mask or None) from the decision's regions."""
    rectangles = [r for r in annotation.regions if r.kind == "rectangle"]
    outlined = [r for r in annotation.regions if r.kind != "rectangle"]
    sources = rectangles or outlined
    boxes = [[max(0.0, r.box[0]), max(0.0, r.box[1]), min(float(image_size[0]), r.box[2]),
              min(float(image_size[1]), r.box[3])] for r in sources]
    labels = [r.label for r in sources]
    masked = [r for r in outlined if r.label == target] or outlined
    mask = None
    if masked:
        width, height = image_size
        mask = np.zeros((height, width), dtype=bool)
        for region in masked:
            mask |= region.to_mask()
        if not mask.any():
            mask = None
    return boxes, labels, mask


def _png(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(mask.astype(np.uint8) * 255, mode="L").save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def reviewed_sample(row: Mapping[str, Any], decision: Decision) -> GroundingSample:
    if decision.annotation is None:
        raise InvalidInputError(f"review decision ({decision.status}) has no annotation to take regions from",
                                record=str(row["id"]), fix="pass a decision from decide() that kept an annotation")
    size = (int(row["width"]), int(row["height"]))
    boxes, labels, mask = final_regions(decision.annotation, target=row["target"], image_size=size)
    metadata = row_metadata(row)
    review = Review(status=decision.status, verdicts=decision.verdicts, annotators=decision.annotators,
                    agreement=decision.agreement, adjudicator=decision.adjudicator, notes=decision.notes)
    provenance = Provenance(modality=row["modality"], body_part=row["body_part"], source=row["source"],
                            source_id=row["source_id"], license=row["license"], redistributable=row["redistributable"],
                            patient_id=row["patient_id"], split=row["split"], metadata=metadata, review=review)
    spacing = row.get("pixel_spacing_mm")
    return GroundingSample(
        id=row["id"], image=(row.get("image") or {}).get("bytes"), size=size,
        question=decision.corrected_question or row["question"], question_type=row["question_type"],
        answer=decision.corrected_answer or row["answer"], target=row["target"], boxes=boxes, box_labels=labels,
        options=tuple(row.get("options") or ()), mask=None if mask is None else _png(mask),
        pixel_spacing_mm=None if spacing is None else (float(spacing[0]), float(spacing[1])),
        plane=row.get("plane") or "", slice_index=row.get("slice_index"), window=row.get("window") or "",
        image_origin=row.get("image_origin") or "raster", provenance=provenance)


def finalize(state: State, *, project: str, out: Path, threshold: float = DEFAULT_THRESHOLD,
             adjudication_project: str | None = None) -> FinalizeReport:
    record = state.require_project(project)
    if record.kind != "review":
        raise InvalidInputError(f"project {project!r} is an adjudication project",
                                fix=f"finalize its review project {record.parent!r}")
    review_tasks = {t.sample_id: t for t in current_tasks(state, project).values()}
    adjudication_name_ = adjudication_project or adjudication_name(project)
    adjudicated: dict[str, PulledTask] = {}
    if state.project(adjudication_name_) is not None:
        adjudicated = {t.sample_id: t for t in current_tasks(state, adjudication_name_).values()}
    single = record.annotators_per_task == 1
    out = Path(out)
    if out.resolve() == Path(record.dataset).resolve():
        raise InvalidInputError("the output folder is the pushed dataset", path=out,
                                fix="write the reviewed dataset to a new folder")
    if not any(task.annotations for task in review_tasks.values()):  # else the next step finds an empty folder
        raise InvalidInputError(f"project {project!r} has no submitted review pulled yet",
                                fix=f"let the annotators submit, run `vgmed annotate pull --project {project}`, "
                                    "then finalize")
    report = FinalizeReport(out=out)

    def samples() -> Iterator[GroundingSample]:
        for row in iter_rows(record.dataset, config="vgmed"):
            decision = decide(review_tasks.get(row["id"]), adjudicated.get(row["id"]), threshold=threshold,
                              single_annotator=single)
            if not decision.reason and decision.annotation is not None and not decision.annotation.regions:
                decision = Decision(**{**decision.__dict__, "reason": "no region after review",
                                       "category": "no region after review"})
            if decision.reason:
                report.leave_out(row["id"], reason=decision.reason, category=decision.category)
                continue
            try:
                sample = reviewed_sample(row, decision)
            except SchemaError as error:
                report.leave_out(row["id"], reason=f"invalid after review: {error}", category="invalid after review")
                continue
            report.kept[decision.status] = report.kept.get(decision.status, 0) + 1
            yield sample
        if not report.kept:  # raised inside the write: a new folder does not appear
            raise InvalidInputError(f"no sample of project {project!r} can be kept yet ("
                                    + "; ".join(f"{k}: {v}" for k, v in sorted(report.left_out_counts.items()))
                                    + ")", fix="finish the reviews (and adjudication), pull, then finalize")

    write_config(out, samples(), config="vgmed")
    copy_build_records(record.dataset, out)  # the reviewed release's card still names its build and sources
    (out / "review_report.json").write_text(json.dumps(report.to_json(), indent=1))
    return report

