"""Small helpers shared by the readers."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vgmed_data.errors import SourceNotFoundError
from vgmed_data.geometry import convert_boxes
from vgmed_data.safepaths import resolve_inside

from vgmed_data.builders.records import RegionRef, SourceRecord

if TYPE_CHECKING:
    from vgmed_data.builders.entry import SourceEntry


def require(root: Path, relative: str, *, source: str) -> Path:
    """``root / relative``, or :class:`SourceNotFoundError` naming what is missing and the fix."""
    path = root / relative
    if not path.exists():
        raise SourceNotFoundError(f"{relative} is missing from the {source} folder", path=root,
                                  fix=f"point --source {source}=PATH at the extracted folder "
                                      f"(run `vgmed sources verify {source} PATH` to see what is expected)")
    return path


def listed(root: Path, relative: str, *, index: Path, record: str, what: str) -> Path:
    """``root / relative`` for a path read from a source's index file (``index``); a path that is absolute or
    leaves ``root`` (``..``, a link out) is a :class:`~vgmed_data.safepaths.PathEscapeError` naming the index,
    the record and the path."""
    resolve_inside(root, relative, what=what, path=index, record=record)
    return root / relative


def check_contained(record: SourceRecord, root: Path) -> None:
    """Every file of a reader's record (image, series instances, masks) resolves inside the source folder
    ``root``: the rule that holds for every reader, whatever it lists (a link inside the folder that leads out is
    refused here even when the reader found it by walking the folder)."""
    files = [record.image.path, *(path for path, _ in record.image.series),
             *(region.mask_path for region in record.regions if region.mask_path)]
    for path in files:
        resolve_inside(root, os.path.relpath(path, root), what="file", path=root, record=record.record_id)


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def visible(paths: list[Path]) -> list[Path]:
    """Drop macOS AppleDouble files (``._name``), which the MSD archives really contain, and hidden files."""
    return [p for p in paths if not p.name.startswith(".")]


def nifti_stem(name: str) -> str:
    return re.sub(r"\.nii(\.gz)?$", "", name)


def box_region(entry: "SourceEntry", name: str, values: Sequence[float], *, box_format: str, path: Path,
               record: str) -> RegionRef:
    """The region of a labelled box given in ``box_format`` (the label must be in the entry's label map)."""
    label = entry.label(name, path=str(path), record=record)
    x1, y1, x2, y2 = (float(v) for v in convert_boxes([values], src=box_format, dst="xyxy", image_size=None)[0])
    return RegionRef(label=name, target=label.target, body_part=label.body_part, kind=label.kind,
                     box=(x1, y1, x2, y2))


