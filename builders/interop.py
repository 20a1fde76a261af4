"""Interop with the official VGMED release format (JSONL with ``image``, ``question``, ``bbox``).

Read as the official reader reads it (Medical-MLLMs-Fail ``measure_attention.py``, commit c7263dd:
``get_sample_attention`` and ``uses_xyxy_bbox``):

* boxes come from ``sample.get("bbox", sample.get("original_bboxes"))``: ``original_bboxes`` is the fallback
  key (:func:`vgmed_data.builders.release_checks.box_key_of`), and the value is a list of boxes;
* the box format is decided on the ``image`` value **as written in the line** (the path it joins to the data
  root), not its base name: ``not image_name.startswith("Slake")`` means ``[x1, y1, x2, y2]``, otherwise
  ``[x, y, w, h]`` (so ``Slake/img.png`` is xywh and ``images/Slake_1.png`` is xyxy). COCO files are always xywh
  there; this module reads VGMED files only.

Conversion goes through the named formats of :mod:`vgmed_data.geometry`; inside the project every box is pixel
``xyxy``. Import keeps each line's original keys in the row metadata (``vgmed_jsonl``), so export writes the
same objects back, keys in the line's own order (new rows: ``image``, ``question``, ``bbox``, the order the
official reader reads them; the release files themselves were not available to confirm it), boxes converted
from the stored internal boxes under the key the line used, integers written as integers, always as a list of
boxes (the official reader iterates over it). ``--on-bad warn|skip`` turns a bad line into a counted skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vgmed_data.builders.policy import Skip, check_policy, handle
from vgmed_data.builders.release_checks import box_key_of, original_line, release_line
from vgmed_data.errors import FileFormatError, InvalidInputError, SchemaError, SourceNotFoundError, VgmedError
from vgmed_data.folder import iter_rows
from vgmed_data.writer import write_config
from vgmed_data.staging import staged_file, staging_dir
from vgmed_data.geometry import convert_boxes
from vgmed_data.imaging.decode import decode_bytes, open_image_file
from vgmed_data.jsonl import json_lines
from vgmed_data.safepaths import filename_for_id, resolve_inside
from vgmed_data.schema import QUESTION_TYPES, GroundingSample, Provenance, encode_png, make_sample_id

SOURCE = "vgmed-official"


def box_format_for(image_name: str) -> str:
    """The release's box format for a line whose ``image`` is ``image_name`` (the official
    ``uses_xyxy_bbox``: the string as written, ``startswith("Slake")``, case-sensitive)."""
    return "xywh" if image_name.startswith("Slake") else "xyxy"


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


@contextlib.contextmanager
def _naming_line(path: Path, number: int) -> Iterator[None]:
    """A sample that fails its own checks (box outside the image, empty question) is reported by line."""
    try:
        yield
    except VgmedError as error:
        raise type(error)(f"line {number}: {error.message}", path=path, record=error.record, fix=error.fix) from None


@dataclass
class ImportReport:
    """What :func:`import_jsonl` did: rows imported and the lines skipped under ``--on-bad warn|skip``."""

    imported: int = 0
    skips: list[Skip] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason for s in self.skips).items()))

    def to_dict(self) -> dict[str, Any]:
        return {"imported": self.imported, "skipped": len(self.skips), "skip_counts": self.counts(),
                "skips": [s.to_dict() for s in self.skips]}


def _reason(error: VgmedError) -> str:
    if isinstance(error, FileFormatError):
        return "line is not JSON"
    if isinstance(error, SourceNotFoundError):
        return "image not found"
    if isinstance(error, SchemaError):
        return "bad line"
    return "unreadable image or value"


def read_jsonl(path: Path, *, bad_line: Callable[[int, FileFormatError], None] | None = None
               ) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each line; :class:`SchemaError` for a file with no line at all."""
    empty = True
    for number, item in json_lines(path, fix="write one JSON object per line", bad_line=bad_line):
        empty = False
        yield number, item
    if empty:
        raise SchemaError("has no lines: nothing to import", path=path, fix="pass the release JSONL file")


def _samples(path: Path, images: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[GroundingSample]:
    def skip(error: VgmedError, record: str) -> None:
        handle(error, policy=on_bad, source="vgmed-jsonl", record=record, reason=_reason(error), log=skips)

    for number, item in read_jsonl(path, bad_line=lambda number, error: skip(error, f"line {number}")):
        try:
            yield _sample(path, images, number, item)
        except VgmedError as error:
            skip(error, f"line {number}")


def _sample(path: Path, images: Path, number: int, item: Any) -> GroundingSample:
    line = release_line(number, item, path=path, images=images)
    name = line.name
    if not line.image_path.exists():
        raise SourceNotFoundError(f"image of line {number} not found", path=line.image_path,
                                  fix="pass --images DIR, the folder the JSONL's image paths are relative to")
    with open_image_file(line.image_path, what=f"image of line {number}") as opened:
        image = opened.convert("RGB") if opened.mode not in ("L", "RGB") else opened.copy()
    raw = line.boxes
    boxes = convert_boxes(raw, src=box_format_for(name), dst="xyxy", image_size=None) if raw else []
    target = str(item.get("target") or item.get("label") or "region")
    qtype = str(item.get("question_type") or item.get("type") or "open")
    sample_id = make_sample_id(SOURCE, name, number, item["question"])
    with _naming_line(path, number):
        sample = GroundingSample(
            id=sample_id, image=encode_png(image), question=line.question,
            question_type=qtype if qtype in QUESTION_TYPES else "open", answer=str(item.get("answer") or "n/a"),
            target=target, boxes=[list(b) for b in boxes], box_labels=[target] * len(boxes),
            provenance=Provenance(modality=str(item.get("modality") or "OTHER"), body_part="", source=SOURCE,
                                  source_id=f"{name}#{number}", license="LicenseRef-VGMED-upstream",
                                  redistributable=False, patient_id=Path(name).stem,
                                  metadata={"source_path": name, "vgmed_jsonl": item, "line": number,
                                        "vgmed_jsonl_keys": list(item)}),
        )
    return sample


def import_jsonl(path: str | Path, *, images: str | Path, out: str | Path, on_bad: str = "error") -> ImportReport:
    """Import a release JSONL into ``out``'s ``vgmed`` configuration. ``on_bad``: ``error`` stops at the first
    bad line; ``warn`` / ``skip`` skip it, count it (``out/import_report_vgmed.json``) and go on."""
    check_policy(on_bad)
    if not Path(images).is_dir():
        raise SourceNotFoundError("--images is not a folder", path=images,
                                  fix="pass --images DIR, the folder the JSONL's image paths are relative to")
    report = ImportReport()
    summary = write_config(out, _samples(Path(path), Path(images), on_bad=on_bad, skips=report.skips),
                           config="vgmed")
    report.imported = sum(summary.rows["vgmed"].values())
    (Path(out) / "import_report_vgmed.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def export_jsonl(folder: str | Path, *, out: str | Path, images_dir: str | Path | None = None) -> int:
    """Write the folder's ``vgmed`` rows as release JSONL. Rows imported from JSONL reproduce their original
    line; other rows get ``image: images/<file name>.png``, the name made from the id by
    :func:`vgmed_data.safepaths.filename_for_id` (written under ``images_dir`` when given). The JSONL and the
    images appear only when every row was written."""
    count = 0
    with contextlib.ExitStack() as stack:
        staged = stack.enter_context(staged_file(out, what="JSONL output"))
        images = stack.enter_context(_ImageWriter(Path(images_dir))) if images_dir is not None else None
        with open(staged, "w", encoding="utf-8") as handle:
            for row in iter_rows(folder, config="vgmed"):
                original = original_line(row)
                if original is not None:  # metadata is stored with sorted keys: restore the line's own order
                    order = json.loads(row["metadata"]).get("vgmed_jsonl_keys") or []
                    original = {**{k: original[k] for k in order if k in original}, **original}
                name = original["image"] if original else f"images/{filename_for_id(row['id'], suffix='.png')}"
                if original is None and images is not None and row["image"] and row["image"].get("bytes"):
                    images.write(name, row["image"]["bytes"], record=row["id"])
                boxes = convert_boxes(row["boxes"], src="xyxy", dst=box_format_for(name), image_size=None) if row["boxes"] else []
                item = dict(original) if original else {"image": name, "question": row["question"]}
                item["question"] = row["question"]
                item[(box_key_of(original) if original else None) or "bbox"] = [[_number(v) for v in box]
                                                                                for box in boxes]
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")
                count += 1
    return count


class _ImageWriter:
    """Images written into a staging folder, moved under ``root`` only when the export succeeds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.created = False
        self.staging: Path | None = None
        self.names: list[str] = []

    def __enter__(self) -> "_ImageWriter":
        if self.root.exists() and not self.root.is_dir():
            raise InvalidInputError("--images-dir is a file", path=self.root, fix="pass a folder")
        self.created = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        self.staging = staging_dir(self.root)
        return self

    def write(self, name: str, data: bytes, *, record: str) -> None:
        assert self.staging is not None
        path = resolve_inside(self.staging, name, what=f"image file name of record {record}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with decode_bytes(data, what="image", record=record) as opened:
            opened.save(path)
        self.names.append(name)

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        assert self.staging is not None
        try:
            if kind is None:
                for name in self.names:
                    final = resolve_inside(self.root, name, what="image file name")
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(self.staging / name, final)
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
            if kind is not None and self.created and not any(self.root.iterdir()):
                self.root.rmdir()  # created for this export and still empty
