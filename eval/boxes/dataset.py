"""Targets from a dataset folder and predictions from a JSONL file.

Predictions: one JSON object per line, ``{"id": ..., "output": "<raw model text>"}``, optionally
``"input_transforms": [<Transform JSON>, ...]`` (one per image, stored image -> what the model received) when
the run used something other than the format's default preprocessing.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vgmed_data.eval.boxes.parsing import MAX_OUTPUT_CHARS
from vgmed_data.eval.boxes.scoring import Target
from vgmed_data.eval.data import dataset_splits, iter_dataset_rows
from vgmed_data.configs import CONFIGS
from vgmed_data.errors import FileFormatError, InvalidInputError, SchemaError, SourceNotFoundError, VgmedError
from vgmed_data.geometry import Transform
from vgmed_data.jsonl import json_lines

SEQUENCE_COLUMNS = ["id", "task", "split", "image_sizes", "answer_image_index", "answer_box", "metadata"]
VGMED_COLUMNS = ["id", "split", "width", "height", "boxes"]


def available_splits(dataset: str | os.PathLike[str], *, config: str) -> list[str]:
    """The splits of ``config`` in a local dataset folder or a Hub dataset id."""
    return dataset_splits(dataset, config=config)


@contextlib.contextmanager
def _naming_row(row: Mapping[str, Any]) -> Iterator[None]:
    """A stored value that cannot be a target (a null size, a box that is not four numbers) names its row."""
    try:
        yield
    except VgmedError:
        raise
    except (TypeError, ValueError, IndexError) as error:
        raise SchemaError(f"the row cannot be scored: a size, image index or box is missing or malformed "
                          f"({type(error).__name__}: {' '.join(str(error).split())[:120]})", record=str(row.get("id")),
                          fix="run `vgmed validate` on the dataset folder") from None


def iter_targets(dataset: str | os.PathLike[str], *, config: str, split: str) -> Iterator[Target]:
    """Targets of one split of a ``sequences`` or ``vgmed`` configuration (a local folder or a Hub dataset id)."""
    if config not in CONFIGS:
        raise InvalidInputError(f"box scoring supports the {' and '.join(CONFIGS)} configurations, not {config!r}",
                                fix=f"pass --config {' or --config '.join(CONFIGS)}")
    if CONFIGS[config].answer == "box":  # the answer is a box in one of several images
        for row in iter_dataset_rows(dataset, config=config, split=split, columns=SEQUENCE_COLUMNS):
            with _naming_row(row):
                target = sequence_target(row)
            yield target
    else:  # the question names a target; its boxes are the answer
        for row in iter_dataset_rows(dataset, config=config, split=split, columns=VGMED_COLUMNS):
            if not row["boxes"]:
                continue
            with _naming_row(row):
                target = Target(id=row["id"], task="vgmed", split=row["split"],
                                image_sizes=((int(row["width"]), int(row["height"])),), answer_image_index=None,
                                answer_boxes=tuple(tuple(float(v) for v in b) for b in row["boxes"]))  # type: ignore[misc]
            yield target


def sequence_target(row: Mapping[str, Any]) -> Target:
    """The scoring target of one ``sequences`` row (a dict with :data:`SEQUENCE_COLUMNS`); also used by the
    lmms-eval task export, so a harness scores exactly as ``vgmed eval score`` does."""
    return Target(id=row["id"], task=row["task"], split=row["split"],
                  image_sizes=tuple((int(w), int(h)) for w, h in row["image_sizes"]),
                  answer_image_index=int(row["answer_image_index"]),
                  answer_boxes=(tuple(float(v) for v in row["answer_box"]),),  # type: ignore[arg-type]
                  image_stated=_image_stated(row["metadata"]))


def _image_stated(metadata: str | None) -> bool:
    """False for imported records whose source never named the answer image (``answer_image_rule`` of
    :mod:`vgmed_data.builders.sequences.medsg_tasks`)."""
    try:
        data = json.loads(metadata) if metadata else {}
    except json.JSONDecodeError:
        return True
    return not (isinstance(data, dict) and data.get("answer_image_rule") == "unstated")


@dataclass(frozen=True)
class Prediction:
    id: str
    output: str
    transforms: tuple[Transform, ...] | None = None


def read_predictions(path: str | os.PathLike[str]) -> dict[str, Prediction]:
    file = Path(path)
    if not file.exists():
        raise SourceNotFoundError("predictions file not found", path=file, fix="check the path")
    predictions: dict[str, Prediction] = {}
    for number, data in json_lines(file, fix='write one {"id": ..., "output": ...} object per line'):
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) \
                or not isinstance(data.get("output"), str):
            raise FileFormatError(f'line {number} needs a string "id" and a string "output"', path=file)
        if data["id"] in predictions:
            raise FileFormatError(f"line {number} repeats id {data['id']!r}", path=file,
                                  fix="keep one prediction per sample")
        if len(data["output"]) > MAX_OUTPUT_CHARS:
            raise FileFormatError(f"line {number}: the output is {len(data['output'])} characters, above the "
                                  f"{MAX_OUTPUT_CHARS} a model output may have", path=file,
                                  fix="check the generation (a runaway output); scores are read from the first box")
        transforms = None
        if data.get("input_transforms") is not None:
            transforms = _transforms(data["input_transforms"], number=number, file=file)
        predictions[data["id"]] = Prediction(data["id"], data["output"], transforms)
    return predictions


def _transforms(value: object, *, number: int, file: Path) -> tuple[Transform, ...]:
    """``input_transforms`` of one line: a list of :class:`Transform` JSON strings or objects."""
    fix = "write one Transform per image, as Transform.to_json() or Transform.to_dict() gives it"
    if not isinstance(value, list):
        raise FileFormatError(f'line {number}: "input_transforms" is a {type(value).__name__}, not a list', path=file,
                              fix=fix)
    transforms = []
    for index, item in enumerate(value):
        try:
            transforms.append(Transform.from_json(item) if isinstance(item, str) else Transform.from_dict(item))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as error:
            detail = " ".join(str(error).split())[:120]
            raise FileFormatError(f"line {number}: input transform {index} is not a transform "
                                  f"({type(error).__name__}: {detail})", path=file, fix=fix) from None
    return tuple(transforms)
