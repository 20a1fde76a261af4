"""Box JSON: one JSON object keyed by image id, each value listing that image's boxes.

The shape is the one the Simula polyp sets publish (HyperKvasir's ``segmented-images/bounding-boxes.json``,
Kvasir-SEG's ``kavsir_bboxes.json``): ``{"<image id>": {"height": H, "width": W, "bbox": [{"label": "polyp",
"xmin": .., "ymin": .., "xmax": .., "ymax": ..}, ...]}, ...}``, the image found at ``image_template`` with
``{key}`` the image id. HyperKvasir's README defines a box as "the outermost pixels of the found polyp", so
``xmax``/``ymax`` are the last pixels inside it (``inclusive_max``): the internal box adds one to them.

Bad input, each a one-line error or a counted skip naming the image id: a box that is not four numbers, an
empty or inverted box, a label outside the entry's map, an image named in the file but missing on disk, and
``height``/``width`` that differ from the image's real size (read from its header: boxes drawn on another size
would point at the wrong pixels).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from vgmed_data.errors import FileFormatError, InvalidInputError, SkipReason, SourceNotFoundError, VgmedError
from vgmed_data.userfiles import read_bounded
from vgmed_data.jsonl import parse_json

from vgmed_data.builders.policy import Skip, handle
from vgmed_data.builders.policy import skip_reason
from vgmed_data.builders.readers.common import listed, relative, require
from vgmed_data.builders.records import ImageRef, RegionRef, SourceRecord

if TYPE_CHECKING:
    from vgmed_data.builders.entry import SourceEntry

_CORNERS = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True, kw_only=True)
class BoxJsonReader:
    boxes_file: str  # relative to the root
    image_template: str  # where the image of id {key} is, relative to the root
    boxes_key: str = "bbox"
    label_key: str = "label"
    inclusive_max: bool = True  # xmax/ymax are the last pixels inside the box
    max_bytes: int = 64 * 1024 * 1024

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return (self.boxes_file, self.image_template.replace("{key}", "*"))

    def _read(self, path: Path) -> Mapping[str, Any]:
        data = parse_json(read_bounded(path, limit=self.max_bytes, what=self.boxes_file), path=path,
                          fix="use the source's original box file")
        if not isinstance(data, dict):
            raise FileFormatError("is not a JSON object keyed by image id", path=path,
                                  fix="use the source's original box file")
        return data

    def _regions(self, entry: "SourceEntry", key: str, item: Any, path: Path) -> tuple[RegionRef, ...]:
        boxes = item.get(self.boxes_key) if isinstance(item, dict) else None
        if not isinstance(boxes, list) or not boxes:
            raise InvalidInputError(f"image {key!r} has no {self.boxes_key!r} list", path=path, record=key,
                                    fix="use the source's original box file, or use --on-bad skip")
        regions = []
        for index, box in enumerate(boxes):
            given = [box.get(name) for name in _CORNERS] if isinstance(box, dict) else []
            values = [float(v) for v in given if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if len(values) != 4 or not all(math.isfinite(v) for v in values):
                raise InvalidInputError(f"box {index} of {key!r} is not four numbers {'/'.join(_CORNERS)}",
                                        path=path, record=key, reason="bad box")
            x1, y1, x2, y2 = values
            if self.inclusive_max:
                x2, y2 = x2 + 1.0, y2 + 1.0
            if x2 <= x1 or y2 <= y1:
                raise InvalidInputError(f"box {index} of {key!r} is empty or inverted {values}", path=path,
                                        record=key, reason="bad box")
            name = box.get(self.label_key)
            label = entry.label(str(name), path=str(path), record=key)
            regions.append(RegionRef(label=str(name), target=label.target, body_part=label.body_part,
                                     kind=label.kind, box=(x1, y1, x2, y2)))
        return tuple(regions)

    @staticmethod
    def _check_size(image: Path, item: Mapping[str, Any], key: str) -> None:
        """The image's (width, height), read from its header, must be the size the box file declares."""
        declared = (item.get("width"), item.get("height"))
        if not all(isinstance(v, int) for v in declared):
            return
        try:
            with Image.open(image) as opened:
                size = opened.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise FileFormatError(f"is not a readable image ({type(error).__name__})", path=image, record=key,
                                  fix="re-download the file, or use --on-bad skip") from None
        if size != declared:
            raise FileFormatError(f"image is {size[0]}x{size[1]} but the box file says {declared[0]}x{declared[1]}",
                                  path=image, record=key, reason=SkipReason.SHAPE_MISMATCH,
                                  fix="pair the box file with the images it was drawn on, or use --on-bad skip")

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[SourceRecord]:
        path = require(root, self.boxes_file, source=entry.key)
        data = self._read(path)
        for key in sorted(data):
            item = data[key]
            try:
                image = listed(root, self.image_template.format(key=key), index=path, record=key, what="image")
                if not image.is_file():
                    raise SourceNotFoundError(f"image {relative(image, root)} named in {self.boxes_file} is missing",
                                              path=root, record=key, fix="re-extract the source, or use --on-bad skip")
                regions = self._regions(entry, key, item, path)
                self._check_size(image, item, key)
            except VgmedError as error:
                handle(error, policy=on_bad, source=entry.key, record=key,
                       reason=skip_reason(error, other=error.reason), log=skips)
                continue
            yield SourceRecord(
                source=entry.key, record_id=key, patient_id=key, case_id=key, modality=entry.modality,
                body_part=entry.body_part,
                image=ImageRef(path=str(image), source_path=relative(image, root), kind="raster"),
                regions=regions, laterality_known=entry.laterality_known,
            )

