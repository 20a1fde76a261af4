"""2D image/mask pairs: one image file and one or more mask files per labelled structure.

Mask file names are templates relative to the source root, with ``{stem}`` (image name without extension),
``{name}`` (image file name) and ``{dir}`` (the image's folder relative to the root), plus the named groups of
``path_regex`` matched on the image's path relative to the root (``{slide}`` for TNBC's ``Slide_03/03_1.png`` ->
``GT_03/03_1.png``). A :class:`MaskFile` with ``multi=True`` is a glob: every matching file is one more mask of
that label (BUSI's ``x_mask.png``, ``x_mask_1.png``; DSB 2018's one file per nucleus), unioned when loaded.

How a mask file encodes its label: JPEG (lossy) masks set ``threshold`` (foreground is value > threshold); exact
grey label images set ``value`` (WBC: 128 cytoplasm, 255 nucleus); RGB label images set ``colour`` (m2caiSeg:
one colour per class); polygon annotation files (ImageScope XML, :mod:`vgmed_data.builders.readers.imagescope_xml`)
set ``polygon_class`` (MoNuSAC: one class per annotation). Where several labels share one file, the values, colours
or classes declared for that file are the only ones it may hold: any other is bad input (``label not in map``),
not silently background.

``path_regex`` also gives the split units: a group named ``patient`` is the record's subject id (else the image
stem, or ``patient_regex`` on the stem), and each unit of ``group_units`` (``"centre"``) is the group of that name
(``SourceRecord.groups``). An image whose path does not match is bad input (counted under ``--on-bad skip``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vgmed_data.errors import InvalidInputError, SourceNotFoundError

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
    threshold: int | None = 0  # foreground: value > threshold (None: use value or colour)
    value: int | None = None  # grey label images: this label's value
    colour: tuple[int, int, int] | None = None  # RGB label images: this label's colour
    resample: bool = False  # masks published at another resolution than the images (same aspect ratio)
    polygon_class: str | None = None  # polygon XML files (readers.imagescope_xml): the class name of this label
    fill: bool = False  # the file draws an outline (HC18's head ellipse): the region is what it encloses

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.value, self.colour, self.polygon_class)) > 1:
            raise InvalidInputError("a mask file declares one of a grey value, a colour or a polygon class",
                                    record=self.label)


@dataclass(frozen=True, kw_only=True)
class ImageMaskReader:
    image_globs: tuple[str, ...]
    masks: tuple[MaskFile, ...]
    exclude: str | None = None  # regex on the relative image path (mask files living beside the images)
    patient_regex: str | None = None  # group 1 of a match on the image stem is the patient id
    spacing_mm: tuple[float, float] | None = None  # known constant pixel spacing (x, y)
    view: str = ""
    category_from_dir: bool = False  # the image's folder name is a category kept in metadata (BUSI)
    path_regex: str | None = None  # named groups: template fields, ``patient``, and the ``group_units``
    group_units: tuple[str, ...] = ()  # other split units (records.SPLIT_UNITS) read from path_regex groups

    def __post_init__(self) -> None:
        groups = re.compile(self.path_regex).groupindex if self.path_regex else {}
        for unit in self.group_units:
            if unit not in groups:
                raise InvalidInputError(f"split unit {unit!r} needs a group (?P<{unit}>...) in path_regex",
                                        record=self.path_regex or "")

    def _palettes(self) -> dict[str, tuple[int, ...] | tuple[tuple[int, int, int], ...] | tuple[str, ...]]:
        """template -> every grey value, colour or polygon class declared for that file (the only ones it may
        hold)."""
        values: dict[str, list] = defaultdict(list)
        for spec in self.masks:
            for code in (spec.colour, spec.value, spec.polygon_class):
                if code is not None:
                    values[spec.template].append(code)
        return {template: tuple(found) for template, found in values.items()}

    def _fields(self, image: Path, root: Path) -> dict[str, str]:
        """Template fields of ``image`` (InvalidInputError when its path does not follow ``path_regex``)."""
        record_id = relative(image, root)
        fields = {"stem": image.stem, "name": image.name,
                  "dir": relative(image.parent, root) if image.parent != root else "."}
        if self.path_regex:
            match = re.search(self.path_regex, record_id)
            if match is None:
                raise InvalidInputError(f"path does not follow the source's layout (pattern {self.path_regex})",
                                        path=image, fix="point --source at the extracted folder, or use --on-bad skip")
            fields.update({k: v for k, v in match.groupdict().items() if v is not None})
        return fields

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
        palettes = self._palettes()
        for image in images:
            record_id = relative(image, root)
            try:
                fields = self._fields(image, root)
            except InvalidInputError as error:
                handle(error, policy=on_bad, source=entry.key, record=record_id, reason="bad layout", log=skips)
                continue
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
                                             mask_value=spec.value, mask_threshold=spec.threshold,
                                             mask_colour=spec.colour, mask_palette=palettes.get(spec.template, ()),
                                             may_be_absent=len(palettes.get(spec.template, ())) > 1,
                                             mask_resample=spec.resample, mask_fill=spec.fill,
                                             mask_polygon_class=spec.polygon_class))
            if missing is not None:
                handle(SourceNotFoundError("mask file is missing", path=missing,
                                           fix="re-extract the source, or use --on-bad skip"),
                       policy=on_bad, source=entry.key, record=record_id, reason="missing file", log=skips)
                continue
            patient = fields.get("patient", image.stem)
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
                groups={unit: fields[unit] for unit in self.group_units},
            )
