"""MedSG-Bench JSON interop, so its data can be scored by our code and ours by theirs.

MedSG-Bench's evaluation (``eval/MedSG_Bench.py``, commit 046a9fa; see :mod:`.medsg_tasks` for every source)
reads a JSON list of objects with ``task`` (one of its eight keys), ``images`` (paths, opened as given),
``question`` and ``answer`` (the answer box, absolute pixel ``[x1, y1, x2, y2]``); ``multi_view`` items also
carry ``size`` ([w, h]), which its Qwen2-VL / InternVL / LLaVA paths use to rescale 0-1000 or 0-1 outputs
(``width, height = obj['size']``, lines 122-125, 313-316; 336x336 for the other tasks). A reference box is
written in the question as ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` in pixels of image 1.

* Import maps the task key to our name through the one table in :mod:`.medsg_tasks`, and derives the answer
  image per task (``answer_image_rule`` in the record's metadata: ``given`` when the item carries our
  ``answer_image`` key, ``question``, ``task``, or ``unstated`` with a note).
* Export writes the benchmark's task keys (so its task filter selects every item), ``size`` on ``multi_view``
  items, and two keys its code ignores: ``id`` and ``answer_image`` (1-based). Image file names come from the
  ids through :func:`vgmed_data.safepaths.filename_for_id` (ids may contain slashes; a name never leaves the
  export folder). Rows of tasks MedSG-Bench does not have (``longitudinal``) are not written and are counted.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vgmed_data.builders.sequences.medsg_tasks import (GIVEN, INTERNAL_TO_BENCHMARK, UNSTATED, UNSTATED_NOTE,
                                                       AnswerImage, answer_image, internal_task)
from vgmed_data.builders.release_checks import release_boxes
from vgmed_data.errors import FileFormatError, InvalidInputError, SchemaError, SourceNotFoundError
from vgmed_data.folder import iter_rows
from vgmed_data.geometry import box_text
from vgmed_data.imaging.decode import decode_bytes
from vgmed_data.jsonl import parse_json
from vgmed_data.safepaths import PathEscapeError, filename_for_id, resolve_inside, unsafe_id_reason
from vgmed_data.schema import Provenance, SequenceImage, SequenceSample, make_sample_id, row_metadata
from vgmed_data.staging import staged_folder
from vgmed_data.userfiles import IMAGE_LIMIT, INDEX_LIMIT, read_bounded

_TOKENS = re.compile(r"<\|box_start\|>\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)\s*,\s*\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)"
                     r"<\|box_end\|>")
_OUR_PHRASE = " (pixel x1, y1, x2, y2)"


@dataclass
class MedsgExport:
    """What :func:`export_medsg` wrote: the JSON file, its item count, and rows left out per task."""

    path: Path
    items: int = 0
    not_exported: dict[str, int] = field(default_factory=dict)


def _tokens(box: list[float]) -> str:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return f"<|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"


def export_medsg(folder: str | os.PathLike[str], out: str | os.PathLike[str], *,
                 split: str | None = None) -> MedsgExport:
    """Write ``out/medsg.json`` and ``out/images/*.png`` from a dataset folder's ``sequences`` configuration; a
    new ``out`` appears only when the export succeeded."""
    target = Path(out)
    if target.exists():
        report = _export_medsg(folder, target, split=split)
    else:
        with staged_folder(target, what="MedSG export folder") as building:
            report = _export_medsg(folder, building, split=split)
    report.path = target / "medsg.json"
    return report


def _output(target: Path, relative: str) -> Path:
    """``target / relative``, refused when a link there leads out of the export folder."""
    return resolve_inside(target, relative, what="export path")


def _export_medsg(folder: str | os.PathLike[str], target: Path, *, split: str | None) -> MedsgExport:
    if not target.is_dir():
        raise InvalidInputError("the export folder is a file", path=target, fix="pass a folder")
    (target / "images").mkdir(parents=True, exist_ok=True)
    report = MedsgExport(path=_output(target, "medsg.json"))
    _output(target, "images")
    items: list[dict[str, Any]] = []
    for row in iter_rows(folder, config="sequences", split=split):
        key = INTERNAL_TO_BENCHMARK.get(row["task"])
        if key is None:
            report.not_exported[row["task"]] = report.not_exported.get(row["task"], 0) + 1
            continue
        paths = []
        for index, cell in enumerate(row["images"]):
            if not cell or not cell.get("bytes"):
                raise SchemaError(f"image {index + 1} has no bytes (an annotations-only folder?)", record=row["id"],
                                  fix="run `vgmed hydrate` on the folder first")
            name = "images/" + filename_for_id(row["id"], suffix=f".img{index + 1}.png")
            decode_bytes(cell["bytes"], what=f"image {index + 1}", record=row["id"]).close()
            _output(target, name).write_bytes(cell["bytes"])
            paths.append(name)
        question = row["question"]
        if row["reference_box"] is not None:
            size = row["image_sizes"][row["reference_image_index"]]
            phrase = box_text(row["reference_box"], fmt="xyxy", image_size=size) + _OUR_PHRASE
            question = question.replace(phrase, _tokens(row["reference_box"]))
        item: dict[str, Any] = {"task": key, "images": paths, "question": question,
                                "answer": [float(v) for v in row["answer_box"]]}
        if key == "multi_view":  # an imported item keeps its own size; ours: the answer image's [w, h]
            kept = row_metadata(row).get("medsg_size")
            item["size"] = kept or [int(v) for v in row["image_sizes"][row["answer_image_index"]]]
        item["id"] = row["id"]
        item["answer_image"] = int(row["answer_image_index"]) + 1
        items.append(item)
    report.path.write_text(json.dumps(items, indent=2) + "\n")
    report.items = len(items)
    return report


def import_medsg(path: str | os.PathLike[str], *, images_root: str | os.PathLike[str] | None = None,
                 strip_prefix: str | None = None, license: str = "LicenseRef-MedSG-Bench", redistributable: bool = False,
                 modality: str = "OTHER", split: str = "test") -> Iterator[SequenceSample]:
    """MedSG-Bench JSON -> samples (images read from disk, paths relative to ``images_root`` or the JSON's
    folder; a path that leaves that folder, absolute or through ``..``, is refused). MedSG-Bench's published JSON
    holds absolute paths of the authors' machine (``/root/autodl-tmp/...``): ``strip_prefix`` removes that leading
    part, and what is left is read inside ``images_root``."""
    file = Path(path)
    items = parse_json(read_bounded(file, limit=INDEX_LIMIT, what="MedSG JSON"), path=file)
    if not isinstance(items, list):
        raise FileFormatError("is not a JSON list of MedSG items", path=file)
    root = Path(images_root) if images_root is not None else file.parent
    for number, item in enumerate(items):
        if not isinstance(item, dict):
            raise SchemaError(f"item {number} is not a JSON object", path=file)
        yield _sample(item, number, root=root, strip_prefix=strip_prefix, file=file, license=license, redistributable=redistributable,
                      modality=modality, split=split)


def _image_bytes(relative: Any, *, root: Path, strip_prefix: str | None, file: Path, record: str, number: int
                 ) -> bytes:
    if not isinstance(relative, str) or not relative:
        raise SchemaError(f"image {number + 1} is not a path", path=file, record=record)
    if strip_prefix and relative.startswith(strip_prefix):
        relative = relative[len(strip_prefix):].lstrip("/")
    elif os.path.isabs(relative):
        raise PathEscapeError(f"image {number + 1} {relative!r} is an absolute path", path=file, record=record,
                              fix="pass --strip-prefix with the leading part to drop (e.g. the authors' "
                                  "'/root/autodl-tmp/') and --images-root with the folder the rest is under")
    image_path = resolve_inside(root, relative, what=f"{file}: image {number + 1} of item {record}")
    if not image_path.exists():
        raise SourceNotFoundError("MedSG image not found",
                                  path=image_path, record=record,
                                  fix="pass images_root= the folder the image paths are relative to")
    data = read_bounded(image_path, limit=IMAGE_LIMIT, what="MedSG image", record=record)
    decode_bytes(data, what=f"image {number + 1}", path=image_path, record=record).close()
    return data


def _reference_box(question: str, *, file: Path, record: str) -> list[float] | None:
    """The reference box written in the question as MedSG-Bench's box tokens, ``None`` when there is none."""
    found = _TOKENS.search(question)
    if found is None:
        return None
    try:
        return [float(value) for value in found.groups()]
    except ValueError:  # the pattern admits runs of digits and dots: "1.2.3", "."
        raise SchemaError(f"the box {found.group(0)!r} in the question has a coordinate that is not a number",
                          path=file, record=record,
                          fix="write it as <|box_start|>(x1,y1),(x2,y2)<|box_end|> with plain numbers") from None


def _answer_image(item: dict[str, Any], *, count: int, record: str, file: Path) -> AnswerImage:
    if "answer_image" not in item:
        return answer_image(item["task"], str(item["question"]), count, record=record)
    value = item["answer_image"]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= count:
        raise SchemaError(f"answer_image {value!r} is not an image number 1..{count}", path=file, record=record)
    return AnswerImage(value - 1, GIVEN)


def _sample(item: dict[str, Any], number: int, *, root: Path, strip_prefix: str | None, file: Path, license: str, redistributable: bool,
            modality: str, split: str) -> SequenceSample:
    record = str(item.get("id", number))
    for key in ("task", "images", "question", "answer"):
        if key not in item:
            raise SchemaError(f"MedSG item has no {key!r}", path=file, record=record)
    task = internal_task(str(item["task"]), record=record)
    if "id" in item and unsafe_id_reason(str(item["id"])):
        raise SchemaError(f"id {item['id']!r} cannot be used: {unsafe_id_reason(str(item['id']))}", path=file,
                          record=record, fix="give the item an id without '.'/'..' segments or control characters")
    if not isinstance(item["question"], str) or not item["question"].strip():
        raise SchemaError("question is not a non-empty string", path=file, record=record)
    if "size" in item and not (isinstance(item["size"], list) and len(item["size"]) == 2
                               and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in item["size"])):
        raise SchemaError(f"size {item['size']!r} is not [width, height] in whole pixels", path=file, record=record)
    if not isinstance(item["images"], list) or not item["images"]:
        raise SchemaError("'images' is not a non-empty list of paths", path=file, record=record)
    images = [SequenceImage(image=_image_bytes(relative, root=root, strip_prefix=strip_prefix, file=file, record=record,
                                                 number=index),
                            source="medsg-bench", source_id=str(relative))
              for index, relative in enumerate(item["images"])]
    chosen = _answer_image(item, count=len(images), record=record, file=file)
    metadata: dict[str, Any] = {"medsg_index": number, "medsg_task": item["task"], "answer_image_rule": chosen.rule}
    if chosen.rule == UNSTATED:
        metadata["answer_image_note"] = UNSTATED_NOTE
    if "size" in item:
        metadata["medsg_size"] = list(item["size"])
    boxes = release_boxes(item["answer"], where="answer", path=file, record=record,
                          fix="write the answer as [x1, y1, x2, y2] in pixels of the image")
    if not boxes:
        raise SchemaError("answer has no box", path=file, record=record, fix="write the answer as [x1, y1, x2, y2]")
    answer = boxes[0]
    reference_box = _reference_box(str(item["question"]), file=file, record=record)
    return SequenceSample(
        id=str(item["id"]) if "id" in item else make_sample_id("medsg-bench", record, item["task"]),
        images=images, task=task, question=str(item["question"]),
        answer=f"Image {chosen.index + 1}: {box_text(answer, fmt='xyxy', image_size=(1, 1))}",
        target=str(item.get("target", "")), answer_image_index=chosen.index, answer_box=[float(v) for v in answer],
        reference_image_index=0 if reference_box else None, reference_box=reference_box,
        provenance=Provenance(modality=modality, body_part="", source="medsg-bench", source_id=record,
                              license=license, redistributable=redistributable, patient_id=record, split=split,
                              metadata=metadata))
