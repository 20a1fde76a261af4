"""Checks on the values of a VGMED release JSONL line before anything is built from it.

A release line is untrusted input: ``image`` must be a relative path that stays inside ``--images``
(:func:`vgmed_data.safepaths.resolve_inside`: no ``../``, no absolute path, no link out), ``question`` a
non-empty string, ``bbox`` one box of four finite numbers or a list of such boxes. Every refusal is a typed error
naming the file and the line. Exports read the line back from a row's metadata, so :func:`original_line`
checks that stored copy the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vgmed_data.errors import SchemaError
from vgmed_data.safepaths import resolve_inside
from vgmed_data.schema import row_metadata

BBOX_FIX = "write bbox as [x1, y1, x2, y2] (or [x, y, w, h] for Slake images), or a list of such boxes"


@dataclass(frozen=True)
class ReleaseLine:
    name: str  # the image path as written in the line
    image_path: Path  # resolved inside --images
    question: str
    boxes: list[list[float]]  # as written (the release's own box format)
    box_key: str = "bbox"  # the key the boxes were read from: "bbox", or the official fallback "original_bboxes"


def box_key_of(item: dict[str, Any]) -> str | None:
    """The key the official reader takes the boxes from: ``sample.get("bbox", sample.get("original_bboxes"))``
    (Medical-MLLMs-Fail ``measure_attention.py``, ``get_sample_attention``): ``bbox`` whenever the key is
    present (a ``null`` there is refused, as the official code raises on it), else ``original_bboxes``."""
    if "bbox" in item:
        return "bbox"
    return "original_bboxes" if "original_bboxes" in item else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def release_boxes(raw: Any, *, where: str, path: Path | str | None, record: str | None = None,
                  fix: str = BBOX_FIX) -> list[list[float]]:
    """``bbox`` as a list of 4-number boxes; a single box is wrapped, an empty list means no box."""
    if not isinstance(raw, list):
        raise SchemaError(f"{where}: bbox is a {type(raw).__name__}, not a list", path=path, record=record,
                          fix=fix)
    boxes = [raw] if raw and not isinstance(raw[0], list) else raw
    for box in boxes:
        if not isinstance(box, list) or len(box) != 4 or not all(_number(v) for v in box):
            shown = json.dumps(box)[:80] if isinstance(box, (list, dict, str, int, float, type(None))) else repr(box)
            raise SchemaError(f"{where}: bbox entry {shown} is not four finite numbers", path=path, record=record,
                              fix=fix)
    return [[float(v) for v in box] for box in boxes]


def release_line(number: int, item: Any, *, path: Path, images: Path) -> ReleaseLine:
    """The checked values of line ``number`` of the release file ``path``."""
    where = f"line {number}"
    if not isinstance(item, dict):
        raise SchemaError(f"{where} is a JSON {type(item).__name__}, not an object", path=path,
                          fix="each line must be an object with image, question and bbox")
    key = box_key_of(item)
    missing = [k for k in ("image", "question") if k not in item] + (["bbox"] if key is None else [])
    if missing or key is None:
        raise SchemaError(f"{where} lacks {', '.join(missing)}", path=path,
                          fix="each line needs image, question and bbox (or the official fallback original_bboxes)")
    name, question = item["image"], item["question"]
    if not isinstance(name, str) or not name.strip():
        raise SchemaError(f"{where}: image must be a non-empty path string, got {json.dumps(name)[:60]}", path=path,
                          fix="write the image path relative to --images")
    if not isinstance(question, str) or not question.strip():
        raise SchemaError(f"{where}: question must be a non-empty string, got {json.dumps(question)[:60]}",
                          path=path, fix="write the question text")
    image_path = resolve_inside(images, name, what=f"{path}: image path of {where}")
    return ReleaseLine(name, image_path, question, release_boxes(item[key], where=where, path=path), key)


def original_line(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The release line a stored row was imported from (``metadata["vgmed_jsonl"]``), checked; ``None`` for
    rows built by vgmed."""
    record = str(row.get("id"))
    original = row_metadata(row).get("vgmed_jsonl")
    if original is None:
        return None
    if not isinstance(original, dict) or not isinstance(original.get("image"), str):
        raise SchemaError("metadata.vgmed_jsonl is not a release line with an image path", record=record,
                          fix="rebuild the row by importing the release JSONL again")
    key = box_key_of(original) or "bbox"
    release_boxes(original.get(key), where="metadata.vgmed_jsonl", path=None, record=record)
    return original
