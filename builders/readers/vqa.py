"""VQA sets whose images carry per-image boxes (SLAKE).

SLAKE's layout: ``imgs/xmlab<N>/source.jpg`` with ``detection.json`` (a list of one-key objects
``{"<organ or finding>": [x, y, w, h]}`` in pixels of ``source.jpg``) and ``mask.png`` beside it, and the
question files ``train.json``, ``validate.json`` (``validation.json`` in some re-distributions) and
``test.json`` at the root: lists of ``{"img_name": "xmlab0/source.jpg", "modality": "MRI", "location":
"Abdomen", "q_lang": "en", "question", "answer", ...}``. The question files give each image's modality and body
part; the boxes become regions (the original VQA pairs are kept out: our questions are generated from geometry).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vgmed_data.errors import FileFormatError, InvalidInputError, SourceNotFoundError, VgmedError
from vgmed_data.jsonl import parse_json
from vgmed_data.userfiles import INDEX_LIMIT, read_bounded

from vgmed_data.builders.policy import Skip, handle
from vgmed_data.builders.policy import skip_reason
from vgmed_data.builders.readers.common import box_region, listed
from vgmed_data.builders.records import ImageRef, SourceRecord

if TYPE_CHECKING:
    from vgmed_data.builders.entry import SourceEntry


@dataclass(frozen=True, kw_only=True)
class VqaBoxesReader:
    question_files: tuple[str, ...]  # any of these that exist are read
    images_dir: str
    boxes_file: str  # per-image file beside the image
    modality_map: dict[str, str]  # the set's modality names -> ours
    box_format: str = "xywh"

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return (self.images_dir,)

    def _image_info(self, root: Path) -> dict[str, dict[str, str]]:
        info: dict[str, dict[str, str]] = {}
        found = False
        for name in self.question_files:
            path = root / name
            if not path.exists():
                continue
            found = True
            items = parse_json(read_bounded(path, limit=INDEX_LIMIT, what=name), path=path, fix="re-download the file")
            if not isinstance(items, list) or not all(isinstance(item, dict) and isinstance(item.get("img_name"), str)
                                                      and item["img_name"] for item in items):
                raise FileFormatError('is not a JSON list of question objects with an "img_name" path', path=path,
                                      fix="re-download the file")
            for item in items:
                info.setdefault(item["img_name"], {"modality": str(item.get("modality", "")),
                                                   "location": str(item.get("location", "")), "index": name})
        if not found:
            raise SourceNotFoundError(f"none of {', '.join(self.question_files)} found", path=root,
                                      fix="point the source at the folder holding the question files and imgs/")
        return info

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[SourceRecord]:
        for img_name, info in sorted(self._image_info(root).items()):
            try:
                image = listed(root / self.images_dir, img_name, index=root / info["index"], record=img_name,
                               what="img_name")
                boxes_path = image.parent / self.boxes_file
                if not image.exists() or not boxes_path.exists():
                    raise SourceNotFoundError("missing", path=image if not image.exists() else boxes_path,
                                              fix="re-extract imgs/, or use --on-bad skip")
                modality = self.modality_map.get(info["modality"])
                if modality is None:
                    raise InvalidInputError(f"unknown modality {info['modality']!r}", record=img_name,
                                            fix=f"known: {', '.join(self.modality_map)}")
                objects = parse_json(read_bounded(boxes_path, limit=INDEX_LIMIT, what=self.boxes_file),
                                     path=boxes_path, fix="re-extract imgs/, or use --on-bad skip")
                if not isinstance(objects, list) or not all(isinstance(item, dict) for item in objects):
                    raise FileFormatError("is not a JSON list of {label: box} objects", path=boxes_path)
                regions = []
                for item in objects:
                    for name, values in item.items():
                        regions.append(box_region(entry, name, values, box_format=self.box_format, path=boxes_path,
                                                  record=img_name))
            except VgmedError as error:
                handle(error, policy=on_bad, source=entry.key, record=img_name,
                       reason=skip_reason(error, other="bad file"), log=skips)
                continue
            folder = Path(img_name).parent.as_posix()
            yield SourceRecord(
                source=entry.key, record_id=img_name, patient_id=folder, case_id=folder, modality=modality,
                body_part=info["location"].lower(),
                image=ImageRef(path=str(image), source_path=f"{self.images_dir}/{img_name}", kind="raster"),
                regions=tuple(regions), laterality_known=modality in ("CT", "MR", "XR") and entry.laterality_known,
            )
