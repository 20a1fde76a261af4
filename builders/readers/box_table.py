"""Box tables: a CSV with one row per box (image name, label, box), images found by name under the root.

NIH ChestX-ray14's ``BBox_List_2017.csv`` is the model: its header is ``Image Index,Finding Label,Bbox
[x,y,w,h],,,`` (the bracketed name is split by the commas, so the box sits in columns 2-5 and three empty
columns trail), boxes are ``x, y, w, h`` in pixels of the 1024x1024 PNGs. Columns are therefore read by
position, with the expected header checked so a different file fails clearly.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vgmed_data.errors import FileFormatError, InvalidInputError, SourceNotFoundError, VgmedError
from vgmed_data.userfiles import INDEX_LIMIT, read_text_bounded

from vgmed_data.builders.policy import Skip, handle
from vgmed_data.builders.policy import skip_reason
from vgmed_data.builders.readers.common import box_region, relative, require, visible
from vgmed_data.builders.records import ImageRef, SourceRecord

if TYPE_CHECKING:
    from vgmed_data.builders.entry import SourceEntry


@dataclass(frozen=True, kw_only=True)
class BoxTableReader:
    table: str  # CSV path relative to the root
    header_prefix: tuple[str, ...]  # the first header cells, checked
    image_column: int
    label_column: int
    box_columns: tuple[int, int, int, int]
    box_format: str  # a vgmed_data.geometry.BoxFormat name ("xywh")
    image_glob: str  # where images are found by name ("images*/**/*.png")
    patient_regex: str | None = None
    view: str = ""

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return (self.table, self.image_glob)

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[SourceRecord]:
        table = require(root, self.table, source=entry.key)
        text = read_text_bounded(table, limit=INDEX_LIMIT, what=self.table, encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows or tuple(c.strip() for c in rows[0][: len(self.header_prefix)]) != self.header_prefix:
            raise FileFormatError(f"header {rows[0][:len(self.header_prefix)] if rows else []} is not the expected "
                                  f"{list(self.header_prefix)}", path=table, fix="use the source's original table")
        images = {p.name: p for p in visible(list(root.glob(self.image_glob)))}
        boxes: dict[str, list[tuple[str, list[float], int]]] = defaultdict(list)
        for line, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            name = row[self.image_column].strip()
            try:
                values = [float(row[i]) for i in self.box_columns]
            except (ValueError, IndexError) as error:
                handle(FileFormatError(f"line {line}: box values are not numbers ({error})", path=table),
                       policy=on_bad, source=entry.key, record=name or f"line {line}", reason="bad table row", log=skips)
                continue
            boxes[name].append((row[self.label_column].strip(), values, line))
        for name in sorted(boxes):
            image = images.get(name)
            try:
                if image is None:
                    raise SourceNotFoundError(f"image {name} named in {self.table} was not found under {self.image_glob}",
                                              path=root, fix="extract every image archive into the source folder, "
                                                             "or use --on-bad skip")
                regions = []
                for label_name, values, line in boxes[name]:
                    region = box_region(entry, label_name, values, box_format=self.box_format, path=table,
                                        record=name)
                    x1, y1, x2, y2 = region.box
                    if x2 <= x1 or y2 <= y1:
                        raise InvalidInputError(f"line {line}: empty box {values}", path=table, record=name)
                    regions.append(region)
            except VgmedError as error:
                handle(error, policy=on_bad, source=entry.key, record=name, reason=skip_reason(error, other="bad box"),
                       log=skips)
                continue
            patient = Path(name).stem
            if self.patient_regex:
                match = re.search(self.patient_regex, patient)
                patient = match.group(1) if match else patient
            yield SourceRecord(
                source=entry.key, record_id=name, patient_id=patient, case_id=Path(name).stem,
                modality=entry.modality, body_part=entry.body_part,
                image=ImageRef(path=str(image), source_path=relative(image, root), kind="raster"),
                regions=tuple(regions), view=self.view, laterality_known=entry.laterality_known,
            )
