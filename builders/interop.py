"""Interop with the official VGMED release format (JSONL with ``image``, ``question``, ``bbox``).

Box convention of the release: ``[x, y, w, h]`` for images whose file name starts with ``Slake`` and
``[x1, y1, x2, y2]`` otherwise. Conversion goes through the named formats of :mod:`vgmed_data.geometry`; inside
the project every box is pixel ``xyxy``. Import keeps each line's original keys in the row metadata
(``vgmed_jsonl``), so export writes the same objects back (boxes are converted from the stored internal boxes,
integers written as integers).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from vgmed_data.errors import SchemaError, SourceNotFoundError
from vgmed_data.folder import iter_rows, write_config
from vgmed_data.geometry import convert_boxes
from vgmed_data.jsonl import json_lines
from vgmed_data.schema import QUESTION_TYPES, GroundingSample, Provenance, encode_png, make_sample_id

SOURCE = "vgmed-official"


def box_format_for(image_name: str) -> str:
    return "xywh" if Path(image_name).name.startswith("Slake") else "xyxy"


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, item in json_lines(path):
        missing = [k for k in ("image", "question", "bbox") if k not in item]
        if missing:
            raise SchemaError(f"line {number} lacks {', '.join(missing)}", path=path,
                              fix="each line needs image, question and bbox")
        yield number, item


def _samples(path: Path, images: Path) -> Iterator[GroundingSample]:
    for number, item in read_jsonl(path):
        name = str(item["image"])
        image_path = images / name
        if not image_path.exists():
            raise SourceNotFoundError(f"image of line {number} not found", path=image_path,
                                      fix="pass --images DIR, the folder the JSONL's image paths are relative to")
        with Image.open(image_path) as opened:
            image = opened.convert("RGB") if opened.mode not in ("L", "RGB") else opened.copy()
        raw = item["bbox"]
        raw = [raw] if raw and not isinstance(raw[0], (list, tuple)) else raw
        boxes = convert_boxes(raw, src=box_format_for(name), dst="xyxy", image_size=None) if raw else []
        target = str(item.get("target") or item.get("label") or "region")
        qtype = str(item.get("question_type") or item.get("type") or "open")
        sample_id = make_sample_id(SOURCE, name, number, item["question"])
        yield GroundingSample(
            id=sample_id, image=encode_png(image), question=str(item["question"]),
            question_type=qtype if qtype in QUESTION_TYPES else "open", answer=str(item.get("answer") or "n/a"),
            target=target, boxes=[list(b) for b in boxes], box_labels=[target] * len(boxes),
            provenance=Provenance(modality=str(item.get("modality") or "OTHER"), body_part="", source=SOURCE,
                                  source_id=f"{name}#{number}", license="LicenseRef-VGMED-upstream",
                                  redistributable=False, patient_id=Path(name).stem,
                                  metadata={"source_path": name, "vgmed_jsonl": item, "line": number}),
        )


def import_jsonl(path: str | Path, *, images: str | Path, out: str | Path) -> int:
    summary = write_config(out, _samples(Path(path), Path(images)), config="vgmed")
    return sum(summary.rows["vgmed"].values())


def export_jsonl(folder: str | Path, *, out: str | Path, images_dir: str | Path | None = None) -> int:
    """Write the folder's ``vgmed`` rows as release JSONL. Rows imported from JSONL reproduce their original
    line; other rows get ``image: images/<id>.png`` (written under ``images_dir`` when given)."""
    count = 0
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        for row in iter_rows(folder, config="vgmed"):
            meta = json.loads(row["metadata"] or "{}")
            original = meta.get("vgmed_jsonl")
            name = original["image"] if original else f"images/{row['id']}.png"
            if original is None and images_dir is not None and row["image"] and row["image"].get("bytes"):
                path = Path(images_dir) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                with Image.open(io.BytesIO(row["image"]["bytes"])) as opened:
                    opened.save(path)
            boxes = convert_boxes(row["boxes"], src="xyxy", dst=box_format_for(name), image_size=None) if row["boxes"] else []
            item = dict(original) if original else {"image": name, "question": row["question"]}
            item["question"] = row["question"]
            item["bbox"] = [[_number(v) for v in box] for box in boxes]
            if original and original["bbox"] and not isinstance(original["bbox"][0], (list, tuple)):
                item["bbox"] = item["bbox"][0]
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
            count += 1
    return count
