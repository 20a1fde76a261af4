"""NIfTI image/label pairs, in the three layouts public 3D sources use.

* :class:`DecathlonReader`: Medical Segmentation Decathlon ``TaskXX_Name/`` folders. ``dataset.json`` lists the
  training pairs (``"training": [{"image": "./imagesTr/x.nii.gz", "label": "./labelsTr/x.nii.gz"}]``), the label
  values (``"labels": {"0": "background", ...}``) and, for multi-sequence tasks, the channels of the 4D image
  (``"modality": {"0": "FLAIR", ...}``). One record per case and chosen channel.
* :class:`CaseFolderReader`: one folder per case with an image file and one multi-valued label file (KiTS;
  ``case_glob`` may go deeper, e.g. autoPET's ``PETCT_*/<study>``: the first folder is then the patient).
* :class:`PairedFileReader`: image and label files side by side, the label named by a suffix of the image's name
  (ACDC ``patientNNN_frameNN.nii.gz`` + ``patientNNN_frameNN_gt.nii.gz``, RibFrac ``<id>-image.nii.gz`` +
  ``<id>-label.nii.gz``).
* :class:`StructureFolderReader`: one folder per case with the image and a folder holding one binary file per
  structure (TotalSegmentator's ``segmentations/<structure>.nii.gz``). Structures not in the entry's label map
  are ignored (the map chooses the targets).

Labels are read from the file when a worker loads the record; values not in the label map are bad input there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from vgmed_data.errors import FileFormatError, SourceNotFoundError, VgmedError
from vgmed_data.jsonl import parse_json
from vgmed_data.userfiles import INDEX_LIMIT, read_bounded

from vgmed_data.builders.policy import Skip, handle
from vgmed_data.builders.readers.attribute_table import AttributeTable
from vgmed_data.builders.policy import skip_reason
from vgmed_data.builders.readers.common import listed, nifti_stem, relative, require, visible
from vgmed_data.builders.records import ImageRef, RegionRef, SourceRecord

if TYPE_CHECKING:
    from vgmed_data.builders.entry import SourceEntry


NO_IMAGE = "no image in the release"


def _value_regions(entry: "SourceEntry", label_path: Path, root: Path) -> tuple[RegionRef, ...]:
    regions = []
    for value, label in entry.labels.items():
        regions.append(RegionRef(label=value, target=label.target, body_part=label.body_part, kind=label.kind,
                                 mask_path=str(label_path), mask_source_path=relative(label_path, root),
                                 mask_value=int(value)))
    return tuple(regions)


def _case_dirs(entry: "SourceEntry", root: Path, case_glob: str) -> list[Path]:
    cases = sorted(p for p in visible(list(root.glob(case_glob))) if p.is_dir())
    if not cases:
        raise SourceNotFoundError(f"no case folders matching {case_glob}", path=root,
                                  fix=f"point --source {entry.key}=PATH at the folder that holds them")
    return cases


def _case_record(entry: "SourceEntry", case_dir: Path, image: Path, root: Path,
                 regions: tuple[RegionRef, ...]) -> SourceRecord:
    case = relative(case_dir, root)  # "case_00000", or "PETCT_0011f3deaf/<study>" for nested cases
    return SourceRecord(
        source=entry.key, record_id=case, patient_id=case.split("/")[0], case_id=case,
        modality=entry.modality, body_part=entry.body_part,
        image=ImageRef(path=str(image), source_path=relative(image, root), kind="nifti"),
        regions=regions, laterality_known=entry.laterality_known,
    )


@dataclass(frozen=True, kw_only=True)
class DecathlonReader:
    """``dataset.json`` + ``imagesTr/`` + ``labelsTr/``. ``channels``: volume indices of a 4D image to use
    (``None``: 3D images). ``lists``: the ``dataset.json`` lists of image/label pairs to read (AMOS adds a
    ``validation`` list with ``imagesVa``/``labelsVa``). ``case_pattern``: a regular expression the case name must
    match in full (AMOS keeps CT and MR in one folder, told apart by the case number)."""

    channels: tuple[int, ...] | None = None
    index_file: str = "dataset.json"
    lists: tuple[str, ...] = ("training",)
    case_pattern: str | None = None

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return (self.index_file, "imagesTr", "labelsTr")

    def _pair(self, pair: object, *, root: Path, index: Path, record: str) -> tuple[Path, Path]:
        """(image, label) of one ``training`` item, each inside ``root``."""
        if not isinstance(pair, dict) or not all(isinstance(pair.get(key), str) and pair[key]
                                                 for key in ("image", "label")):
            raise FileFormatError(f"is not {{\"image\": PATH, \"label\": PATH}} with two path strings: {pair!r:.80}",
                                  path=index, record=record, fix="re-extract the task archive")
        return (listed(root, pair["image"].removeprefix("./"), index=index, record=record, what="image path"),
                listed(root, pair["label"].removeprefix("./"), index=index, record=record, what="label path"))

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[SourceRecord]:
        index_path = require(root, self.index_file, source=entry.key)
        index = parse_json(read_bounded(index_path, limit=INDEX_LIMIT, what=self.index_file), path=index_path,
                           fix="re-extract the task archive")
        lists = [index.get(name) if isinstance(index, dict) else None for name in self.lists]
        modalities = index.get("modality") or {} if isinstance(index, dict) else {}
        if not all(isinstance(pairs, list) for pairs in lists) or not isinstance(modalities, dict):
            raise FileFormatError(f"is not a Decathlon dataset.json (an object with the list(s) "
                                  f"{', '.join(self.lists)} of image/label pairs and a 'modality' object)",
                                  path=index_path, fix="re-extract the task archive")
        sequences = {int(k): str(v) for k, v in modalities.items() if str(k).isdigit()}
        listed_pairs: list[tuple[Path, Path]] = []
        for name, pairs in zip(self.lists, lists):
            for number, pair in enumerate(pairs):
                record = f"{name} item {number}"
                try:
                    listed_pairs.append(self._pair(pair, root=root, index=index_path, record=record))
                except VgmedError as error:
                    handle(error, policy=on_bad, source=entry.key, record=record,
                           reason=skip_reason(error, other="bad index entry"), log=skips)
        for image, label in sorted(listed_pairs):
            case = nifti_stem(image.name)
            if self.case_pattern is not None and not re.fullmatch(self.case_pattern, case):
                continue  # another entry's cases (AMOS: CT and MR share one dataset.json)
            missing = [p for p in (image, label) if not p.exists()]
            if missing:
                handle(SourceNotFoundError(f"listed in {self.index_file} but missing", path=missing[0],
                                           fix="re-extract the archive, or use --on-bad skip"),
                       policy=on_bad, source=entry.key, record=case, reason="missing file", log=skips)
                continue
            regions = _value_regions(entry, label, root)
            for channel in self.channels if self.channels is not None else (None,):
                name = sequences.get(channel, "") if channel is not None else ""
                record_id = case if channel is None else f"{case}:{name or channel}"
                yield SourceRecord(
                    source=entry.key, record_id=record_id, patient_id=case, case_id=case,
                    modality=entry.modality, body_part=entry.body_part,
                    image=ImageRef(path=str(image), source_path=relative(image, root), kind="nifti",
                                   channel=channel, channel_name=name),
                    regions=regions, laterality_known=entry.laterality_known,
                    metadata={"sequence": name} if name else {},
                )


@dataclass(frozen=True, kw_only=True)
class CaseFolderReader:
    """``<case_glob>/<image_name>`` + ``<case_glob>/<label_name>`` (KiTS: ``case_*/imaging.nii.gz``)."""

    case_glob: str
    image_name: str
    label_name: str
    # the source ships some cases as labels only (AbdomenAtlas 1.1 Mini): those are listed in the build report as
    # skipped ("no image in the release") whatever the bad-input policy, not treated as bad input
    image_optional: bool = False

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return (f"{self.case_glob}/{self.image_name}", f"{self.case_glob}/{self.label_name}")

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[SourceRecord]:
        for case_dir in _case_dirs(entry, root, self.case_glob):
            image, label = case_dir / self.image_name, case_dir / self.label_name
            if self.image_optional and not image.exists() and label.exists():
                skips.append(Skip(source=entry.key, record=relative(case_dir, root), reason=NO_IMAGE,
                                  detail=f"{relative(label, root)} has no {self.image_name} beside it"))
                continue
            missing = [p for p in (image, label) if not p.exists()]
            if missing:
                handle(SourceNotFoundError("missing", path=missing[0], fix="re-download the case, or use --on-bad skip"),
                       policy=on_bad, source=entry.key, record=case_dir.name, reason="missing file", log=skips)
                continue
            yield _case_record(entry, case_dir, image, root, _value_regions(entry, label, root))


@dataclass(frozen=True, kw_only=True)
class StructureFolderReader:
    """``<case_glob>/<image_name>`` + ``<case_glob>/<structures_dir>/<label>.nii.gz`` (one binary file per
    structure)."""

    case_glob: str
    image_name: str
    structures_dir: str

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return (f"{self.case_glob}/{self.image_name}", f"{self.case_glob}/{self.structures_dir}")

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[SourceRecord]:
        for case_dir in _case_dirs(entry, root, self.case_glob):
            image, folder = case_dir / self.image_name, case_dir / self.structures_dir
            try:
                if not image.exists() or not folder.is_dir():
                    raise SourceNotFoundError("missing", path=image if not image.exists() else folder,
                                              fix="re-download the case, or use --on-bad skip")
                regions = []
                for structure, label in entry.labels.items():
                    path = folder / f"{structure}.nii.gz"
                    if not path.exists():
                        raise SourceNotFoundError(f"structure file {structure}.nii.gz is missing", path=folder,
                                                  fix="re-download the case, or use --on-bad skip")
                    regions.append(RegionRef(label=structure, target=label.target, body_part=label.body_part,
                                             kind=label.kind, mask_path=str(path),
                                             mask_source_path=relative(path, root), mask_value=None))
            except VgmedError as error:
                handle(error, policy=on_bad, source=entry.key, record=case_dir.name, reason="missing file", log=skips)
                continue
            yield _case_record(entry, case_dir, image, root, tuple(regions))


@dataclass(frozen=True, kw_only=True)
class PairedFileReader:
    """Images matching ``image_glob`` (relative to the root, ``**`` allowed), each with its label file: beside it,
    the image's name with ``image_suffix`` replaced by ``label_suffix``, or at ``label_template`` (relative to the
    root; ``{name}`` is the image's file name, ``{base}`` that name without ``image_suffix``, ``{subject}`` the
    first folder of the image's path: SPIDER's ``masks/{name}``, ISLES 2022's
    ``derivatives/{subject}/ses-0001/{base}_msk.nii.gz``). ``patient_regex``: the patient is group
    1 of this expression on the file name (default: the case itself). ``any_value_label``: a label-map key that
    every non-zero voxel belongs to (instance-numbered label files such as RibFrac's), instead of one region per
    label value. ``gradings``: a table of the source's per-structure gradings, attached to the regions."""

    image_glob: str
    image_suffix: str
    label_suffix: str = ""
    label_template: str | None = None
    patient_regex: str | None = None
    any_value_label: str | None = None
    gradings: AttributeTable | None = None

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return (self.image_glob, *((self.gradings.file,) if self.gradings else ()))

    def _label(self, image: Path, base: str, root: Path) -> Path:
        if self.label_template is not None:
            subject = relative(image, root).split("/")[0]
            return root / self.label_template.format(name=image.name, base=base, subject=subject)
        return image.with_name(base + self.label_suffix)

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[SourceRecord]:
        images = sorted(p for p in visible(list(root.glob(self.image_glob)))
                        if p.name.endswith(self.image_suffix)
                        and not (self.label_suffix and p.name.endswith(self.label_suffix)))
        if not images:
            raise SourceNotFoundError(f"no images matching {self.image_glob}", path=root,
                                      fix=f"point --source {entry.key}=PATH at the extracted folder")
        gradings = self.gradings.load(root) if self.gradings else {}
        for image in images:
            base = image.name[: -len(self.image_suffix)]
            case = relative(image.with_name(base), root)
            label = self._label(image, base, root)
            if not label.exists():
                handle(SourceNotFoundError(f"has no label file {label.name} beside it", path=image,
                                           fix="extract the label archive into the same folder, or use --on-bad skip"),
                       policy=on_bad, source=entry.key, record=case, reason="missing file", log=skips)
                continue
            match = re.search(self.patient_regex, image.name) if self.patient_regex else None
            patient = match.group(1) if match else case
            regions = self._regions(entry, label, root)
            if gradings and re.search(self.gradings.applies_to, image.name):  # type: ignore[union-attr]
                regions = tuple(replace(r, attributes=gradings.get((patient, r.mask_value or 0), ())) for r in regions)
            yield SourceRecord(
                source=entry.key, record_id=case, patient_id=patient, case_id=case,
                modality=entry.modality, body_part=entry.body_part,
                image=ImageRef(path=str(image), source_path=relative(image, root), kind="nifti"),
                regions=regions, laterality_known=entry.laterality_known)

    def _regions(self, entry: "SourceEntry", label_path: Path, root: Path) -> tuple[RegionRef, ...]:
        if self.any_value_label is None:
            return _value_regions(entry, label_path, root)
        label = entry.label(self.any_value_label)
        return (RegionRef(label=self.any_value_label, target=label.target, body_part=label.body_part, kind=label.kind,
                          mask_path=str(label_path), mask_source_path=relative(label_path, root), mask_value=None),)
