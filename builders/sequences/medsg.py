"""MedSG-Bench JSON interop, so its data can be scored by our code and ours by theirs.

MedSG-Bench's evaluation reads a JSON list of objects with ``task``, ``images`` (paths), ``question`` and
``answer`` (the answer box, absolute pixel ``[x1, y1, x2, y2]`` on the image), plus ``size`` ([w, h]) on
multi-view items; a reference box is written in the question as ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` in
pixels (read from MedSG-Bench's eval/MedSG_Bench.py and eval/utils.py). Its task keys other than ``referring``
and ``multi_view`` could not be confirmed; ours are used as they are.

* Export adds ``answer_image`` (1-based) and ``id``; MedSG-Bench's code ignores keys it does not know.
* Import takes ``answer_image`` when present; otherwise the answer image is **assumed to be the last image**
  (MedSG-Bench's query image), and each such sample says so in its metadata (``answer_image: "assumed last"``).
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from vgmed_data.errors import FileFormatError, SchemaError, SourceNotFoundError
from vgmed_data.folder import iter_rows
from vgmed_data.geometry import box_text
from vgmed_data.schema import SEQUENCE_TASKS, Provenance, SequenceImage, SequenceSample, make_sample_id

_TOKENS = re.compile(r"<\|box_start\|>\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)\s*,\s*\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)"
                     r"<\|box_end\|>")
_OUR_PHRASE = " (pixel x1, y1, x2, y2)"


def _tokens(box: list[float]) -> str:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return f"<|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"


def export_medsg(folder: str | os.PathLike[str], out: str | os.PathLike[str], *, split: str | None = None) -> Path:
    """Write ``out/medsg.json`` and ``out/images/*.png`` from a dataset folder's ``sequences`` configuration."""
    target = Path(out)
    (target / "images").mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    for row in iter_rows(folder, config="sequences", split=split):
        paths = []
        for index, cell in enumerate(row["images"]):
            name = f"images/{row['id']}_{index + 1}.png"
            (target / name).write_bytes(cell["bytes"])
            paths.append(name)
        question = row["question"]
        if row["reference_box"] is not None:
            size = row["image_sizes"][row["reference_image_index"]]
            phrase = box_text(row["reference_box"], fmt="xyxy", image_size=size) + _OUR_PHRASE
            question = question.replace(phrase, _tokens(row["reference_box"]))
        item = {"id": row["id"], "task": row["task"], "images": paths, "question": question,
                "answer": [float(v) for v in row["answer_box"]], "answer_image": int(row["answer_image_index"]) + 1}
        if row["task"] == "multi_view":
            item["size"] = list(row["image_sizes"][row["answer_image_index"]])
        items.append(item)
    path = target / "medsg.json"
    path.write_text(json.dumps(items, indent=2) + "\n")
    return path


def import_medsg(path: str | os.PathLike[str], *, images_root: str | os.PathLike[str] | None = None,
                 license: str = "LicenseRef-MedSG-Bench", redistributable: bool = False,
                 modality: str = "OTHER", split: str = "test") -> Iterator[SequenceSample]:
    """MedSG-Bench JSON -> samples (images read from disk, relative to ``images_root`` or the JSON's folder)."""
    file = Path(path)
    if not file.exists():
        raise SourceNotFoundError("MedSG JSON not found", path=file)
    try:
        items = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise FileFormatError(f"is not JSON ({error.msg})", path=file) from error
    if not isinstance(items, list):
        raise FileFormatError("is not a JSON list of MedSG items", path=file)
    root = Path(images_root) if images_root is not None else file.parent
    for number, item in enumerate(items):
        yield _sample(item, number, root=root, file=file, license=license, redistributable=redistributable,
                      modality=modality, split=split)


def _sample(item: dict[str, Any], number: int, *, root: Path, file: Path, license: str, redistributable: bool,
            modality: str, split: str) -> SequenceSample:
    record = str(item.get("id", number))
    for key in ("task", "images", "question", "answer"):
        if key not in item:
            raise SchemaError(f"MedSG item has no {key!r}", path=file, record=record)
    if item["task"] not in SEQUENCE_TASKS:
        raise SchemaError(f"task {item['task']!r} is not one of {', '.join(SEQUENCE_TASKS)}", path=file,
                          record=record, fix="map the task name to ours before importing")
    images = []
    for relative in item["images"]:
        image_path = Path(relative) if Path(relative).is_absolute() else root / relative
        if not image_path.exists():
            raise SourceNotFoundError("MedSG image not found", path=image_path, record=record,
                                      fix="pass images_root= the folder the image paths are relative to")
        data = image_path.read_bytes()
        with Image.open(io.BytesIO(data)) as opened:
            opened.verify()
        images.append(SequenceImage(image=data, source="medsg-bench", source_id=str(relative)))
    metadata: dict[str, Any] = {"medsg_index": number}
    if "answer_image" in item:
        answer_index = int(item["answer_image"]) - 1
    else:
        answer_index = len(images) - 1
        metadata["answer_image"] = "assumed last"
    answer = item["answer"][0] if item["answer"] and isinstance(item["answer"][0], list) else item["answer"]
    reference = _TOKENS.search(item["question"])
    reference_box = [float(v) for v in reference.groups()] if reference else None
    return SequenceSample(
        id=str(item["id"]) if "id" in item else make_sample_id("medsg-bench", record, item["task"]),
        images=images, task=item["task"], question=item["question"],
        answer=f"Image {answer_index + 1}: {box_text(answer, fmt='xyxy', image_size=(1, 1))}",
        target=str(item.get("target", "")), answer_image_index=answer_index, answer_box=[float(v) for v in answer],
        reference_image_index=0 if reference_box else None, reference_box=reference_box,
        provenance=Provenance(modality=modality, body_part="", source="medsg-bench", source_id=record,
                              license=license, redistributable=redistributable, patient_id=record, split=split,
                              metadata=metadata))


