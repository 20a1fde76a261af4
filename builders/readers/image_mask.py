"""2D image/mask pairs: one image file and one or more mask files per labelled structure.

Mask file names are templates relative to the source root, with ``{stem}`` (image name without extension),
``{name}`` (image file name) and ``{dir}`` (the image's folder relative to the root). A :class:`MaskFile` with
``multi=True`` is a glob: every matching file is one more mask of that label (BUSI's ``x_mask.png``,
``x_mask_1.png``), unioned when loaded. Masks that are JPEG (lossy) set ``threshold`` (foreground is
value > threshold); exact label images set ``value``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vgmed_data.errors import SourceNotFoundError

from vgmed_data.builders.policy import Skip, handle
from vgmed_data.builders.readers.common import relative, visible
from vgmed_data.builders.records import ImageRef, RegionRef, SourceRecord

if TYPE_CHECKING:
    from vgmed_data.builders.entry import SourceEntry


@dataclass(frozen=True, kw_only=True)
class MaskFile:
    label: str  # label-map key
    template: str
    required: bool = True  # False: images without this file simply lack the structure (IDRiD soft exudates)
    multi: bool = False
    threshold: int | None = 0  # foreground: value > threshold (None: use value)
    value: int | None = None


@dataclass(frozen=True, kw_only=True)
class ImageMaskReader:
    image_globs: tuple[str, ...]
    masks: tuple[MaskFile, ...]
    exclude: str | None = None  # regex on the relative image path (mask files living beside the images)
    patient_regex: str | None = None  # group 1 of a match on the image stem is the patient id
    spacing_mm: tuple[float, float] | None = None  # known constant pixel spacing (x, y)
    view: str = ""
    category_from_dir: bool = False  # the image's folder name is a category kept in metadata (BUSI)

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return self.image_globs

    def _images(self, root: Path) -> list[Path]:
        found: set[Path] = set()
        for pattern in self.image_globs:
            found.update(p for p in visible(list(root.glob(pattern))) if p.is_file())
        paths = sorted(found)
        if self.exclude:
            pattern = re.compile(self.exclude)
            paths = [p for p in paths if not pattern.search(relative(p, root))]
        return paths

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[SourceRecord]:
        images = self._images(root)
        if not images:
            raise SourceNotFoundError(f"no images matching {', '.join(self.image_globs)}", path=root,
                                      fix=f"point --source {entry.key}=PATH at the extracted folder")
        for image in images:
            record_id = relative(image, root)
            fields = {"stem": image.stem, "name": image.name, "dir": relative(image.parent, root)
                      if image.parent != root else "."}
            regions: list[RegionRef] = []
            missing: Path | None = None
            for spec in self.masks:
                label = entry.labels[spec.label]
                pattern = spec.template.format(**fields)
                files = sorted(root.glob(pattern)) if spec.multi else [root / pattern]
                files = [f for f in files if f.exists()]
                if not files:
                    if spec.required:
                        missing = root / pattern
                        break
                    continue
                for path in files:
                    regions.append(RegionRef(label=spec.label, target=label.target, body_part=label.body_part,
                                             kind=label.kind, mask_path=str(path),
                                             mask_source_path=relative(path, root),
                                             mask_value=spec.value, mask_threshold=spec.threshold))
            if missing is not None:
                handle(SourceNotFoundError("mask file is missing", path=missing,
                                           fix="re-extract the source, or use --on-bad skip"),
                       policy=on_bad, source=entry.key, record=record_id, reason="missing file", log=skips)
                continue
            patient = image.stem
            if self.patient_regex:
                match = re.search(self.patient_regex, image.stem)
                patient = match.group(1) if match else image.stem
            yield SourceRecord(
                source=entry.key, record_id=record_id, patient_id=patient, case_id=image.stem,
                modality=entry.modality, body_part=entry.body_part,
                image=ImageRef(path=str(image), source_path=record_id, kind="raster"),
                regions=tuple(regions), spacing_mm=self.spacing_mm, view=self.view,
                laterality_known=entry.laterality_known,
                metadata={"category": image.parent.name} if self.category_from_dir else {},
            )
