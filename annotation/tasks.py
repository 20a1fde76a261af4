"""Dataset folder rows -> Label Studio tasks: the task data (question, target, case/series/slice/window) and the
builder's regions as predictions (rectangles for boxes; the mask as a brush RLE or as polygons)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage

from vgmed_data.errors import SchemaError
from vgmed_data.folder import iter_rows
from vgmed_data.geometry import mask_to_polygons
from vgmed_data.schema import row_metadata

from vgmed_data.annotation import config, regions
from vgmed_data.annotation.defaults import MASK_AS
from vgmed_data.annotation.views import View, extra_views, stored_image

CONFIG = "vgmed"
PREDICTION_MODEL_VERSION = "vgmed-builder"
_LABEL_COLUMNS = ["box_labels", "target"]


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """One sample ready to import: its image file and the task payload without the image URL."""

    sample_id: str
    image_bytes: bytes
    image_file: str  # file name for the image under the project's media folder
    data: dict[str, Any]
    predictions: list[dict[str, Any]] = field(default_factory=list)
    views: tuple[View, ...] = ()  # window views after the stored image, in its pixel frame

    def view_files(self) -> list[tuple[str, bytes]]:
        """(file name, PNG) of each extra view, named after the stored image's file and the view's window."""
        stem = self.image_file.rsplit(".", 1)[0]
        return [(f"{stem}.{view.window}.png", view.image_bytes) for view in self.views]

    def payload(self, *, image_url: str, view_urls: list[str] | None = None) -> dict[str, Any]:
        """The import payload; with ``view_urls`` (a project whose image shows several views) the task's
        ``images`` list holds the stored image then each view, and the pre-drawn regions are on the first page."""
        data = {**self.data, config.IMAGE: image_url}
        if view_urls is None:
            return {"data": data, "predictions": self.predictions}
        titles = [f"stored window ({self.data.get('window') or 'as built'})", *(v.title for v in self.views)]
        data[config.IMAGES] = [image_url, *view_urls]
        data[config.VIEWS] = "\n".join(f"{page}. {title}" for page, title in enumerate(titles, start=1))
        predictions = [{**p, "result": [{**r, "item_index": 0} for r in p["result"]]} for p in self.predictions]
        return {"data": data, "predictions": predictions}


def dataset_labels(folder: Path) -> tuple[str, ...]:
    """Every target label of the dataset: box labels and targets."""
    labels: set[str] = set()
    for row in iter_rows(folder, config=CONFIG, columns=_LABEL_COLUMNS):
        labels.update(row["box_labels"] or [])
        if row["target"]:
            labels.add(row["target"])
    return config.target_labels(labels)


def _decode_mask(cell: Mapping[str, Any] | None, *, record: str) -> NDArray[np.bool_] | None:
    if not cell or not cell.get("bytes"):
        return None
    with PILImage.open(io.BytesIO(cell["bytes"])) as image:
        array = np.asarray(image)
    if array.ndim == 3:
        array = array[..., 0]
    mask = array > 0
    return mask if mask.any() else None


def _image_file(sample_id: str, data: bytes) -> str:
    with PILImage.open(io.BytesIO(data)) as image:
        extension = (image.format or "PNG").lower().replace("jpeg", "jpg")
    return f"{sample_id}.{extension}"


def _summary(row: Mapping[str, Any]) -> str:
    parts = [f"Target: {row['target']}", f"Expected answer: {row['answer']}", f"Question type: {row['question_type']}"]
    if row.get("options"):
        parts.append("Options: " + " | ".join(row["options"]))
    return "\n".join(parts)


def _context(row: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    lines = [f"Case: {row['patient_id']}", f"Series: {metadata.get('series', row['source_id'])}",
             f"Modality: {row['modality']} ({row['body_part'] or 'body part not given'})"]
    if row.get("slice_index") is not None:
        lines.append(f"Slice: {row['slice_index']}" + (f" ({row['plane']})" if row.get("plane") else ""))
    if row.get("window"):
        lines.append(f"Window: {row['window']}")
    lines.append(f"Image: {row['width']} x {row['height']} px; source {row['source']} ({row['license']})")
    return "\n".join(lines)


def predictions_for(row: Mapping[str, Any], *, mask_as: str) -> list[dict[str, Any]]:
    """The builder's regions as one prediction (pre-annotation) in Label Studio's result format."""
    if mask_as not in MASK_AS:
        raise SchemaError(f"mask_as {mask_as!r} is not one of {', '.join(MASK_AS)}")
    size = (int(row["width"]), int(row["height"]))
    results = [regions.rectangle_result(box, label=label, image_size=size, result_id=f"box-{index}")
               for index, (box, label) in enumerate(zip(row["boxes"] or [], row["box_labels"] or []))]
    mask = _decode_mask(row.get("mask"), record=row["id"]) if mask_as != "none" else None
    if mask is not None:
        if mask.shape != (size[1], size[0]):
            raise SchemaError(f"mask shape {mask.shape} differs from the image's {size[1]}x{size[0]}",
                              record=row["id"])
        if mask_as == "brush":
            results.append(regions.brush_result(mask, label=row["target"], result_id="mask-0"))
        else:
            for index, polygon in enumerate(mask_to_polygons(mask)):
                results.append(regions.polygon_result(list(polygon.exterior.coords)[:-1], label=row["target"],
                                                      image_size=size, result_id=f"outline-{index}"))
    if not results:
        return []
    return [{"model_version": PREDICTION_MODEL_VERSION, "score": 1.0, "result": results}]


def task_spec(row: Mapping[str, Any], *, mask_as: str, dataset: str, sources: Mapping[str, Path] | None = None
              ) -> TaskSpec:
    """One row's task; with ``sources`` (source key -> local copy, as ``vgmed hydrate`` takes them) a CT or MR
    row also gets its window views (:mod:`vgmed_data.annotation.views`), and an annotations-only row its image."""
    sample_id = row["id"]
    sources = sources or {}
    image_bytes = stored_image(row, sources=sources)
    if not image_bytes:
        raise SchemaError("the sample has no embedded image", record=sample_id,
                          fix="push a dataset folder whose images are embedded (redistributable build), or pass "
                              f"--source {row['source']}=PATH (a local copy of the source) to render it")
    metadata = row_metadata(row)
    data = {
        "sample_id": sample_id, "dataset": dataset, "question": row["question"], "answer": row["answer"],
        "target": row["target"], "question_type": row["question_type"], "options": list(row.get("options") or []),
        "summary": _summary(row), "context": _context(row, metadata),
        "case": row["patient_id"], "series": str(metadata.get("series", row["source_id"])),
        "slice_index": row.get("slice_index"), "plane": row.get("plane") or "", "window": row.get("window") or "",
        "modality": row["modality"], "body_part": row["body_part"], "source": row["source"],
        "width": int(row["width"]), "height": int(row["height"]), "split": row["split"],
    }
    return TaskSpec(sample_id=sample_id, image_bytes=image_bytes, image_file=_image_file(sample_id, image_bytes),
                    data=data, predictions=predictions_for(row, mask_as=mask_as),
                    views=extra_views(row, sources=sources))


def iter_task_specs(folder: Path, *, mask_as: str = "brush", split: str | None = None,
                    sources: Mapping[str, Path] | None = None) -> Iterator[TaskSpec]:
    dataset = Path(folder).resolve().name
    for row in iter_rows(folder, config=CONFIG, split=split):
        yield task_spec(row, mask_as=mask_as, dataset=dataset, sources=sources)
