"""The VGMED assembler: source records -> grounding samples -> a dataset folder.

Order of work (everything deterministic given the inputs, the options and the seed):

1. each source's reader lists its records (references, no pixels); each list is put in a seeded pseudo-random
   order (a hash of seed, source and record id, so any subset of records, e.g. one part of a sharded build, is
   ordered the same way) and truncated to ``max_records_per_source``; the lists are interleaved round-robin, so
   quotas do not favour the first source; listing skips are reported in a canonical order (record, reason);
2. records are processed in that order, in-process or by ``num_proc`` worker processes (``imap``, which keeps
   the order): a worker loads one record (one volume at a time), cuts views, measures every target and writes the
   questions as validated :class:`~vgmed_data.schema.GroundingSample` rows;
3. the main process drops images seen before (SHA-256 of the displayed pixels, across sources), applies the
   quotas, and streams rows to :func:`vgmed_data.writer.write_config`;
4. ``build_report.json`` (counts, every skip with its reason, filtered regions), ``manifest.json`` (inputs with
   checksums, versions, seed, options) and ``inputs.sha256`` are written beside the data.

Splits are by subject: ``hash(seed, source, unit id)`` picks the split, where the unit is what the source calls a
subject (the entry's ``split_unit``: patient, volume, image...; the record's ``patient_id``) or, when the build
asks for it (``split_units``), a coarser unit the reader records in ``SourceRecord.groups`` (e.g. the acquisition
centre). No unit is in two splits; the unit each source was split by is recorded in the manifest and the card.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import platform
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from vgmed_data.errors import InvalidInputError, SourceNotFoundError, VgmedError
from vgmed_data.writer import write_config
from vgmed_data.manifest import Manifest, toolkit_version, write_manifest
from vgmed_data.staging import new_folder_or_existing
from vgmed_data.progress import progress
from vgmed_data.safepaths import PathEscapeError
from vgmed_data.imaging.burned_in import CHECKS as BURNED_IN_CHECKS
from vgmed_data.imaging.deid import PROFILE_TEXT
from vgmed_data.schema import SPLITS, GroundingSample, Provenance, encode_png, make_sample_id

from vgmed_data.builders.entry import SourceEntry, manifest_source
from vgmed_data.builders.sources import get_entry
from vgmed_data.builders.deid import guessable_uid, pseudonymise, record_names, redact_skip, require_key, resolve_key
from vgmed_data.builders.loading import (
    TargetGeometry,
    View,
    dicom_image_view,
    dicom_series_views,
    raster_view,
    volume_views,
)
from vgmed_data.builders.measure import Measurements, measure
from vgmed_data.builders.paraphrase import Paraphraser, paraphrase, parse_hook
from vgmed_data.builders.policy import Skip, check_policy, handle, skip_reason
from vgmed_data.builders.questions import (
    QUESTION_TYPE,
    Question,
    attribute_questions,
    group_question,
    make_questions,
)
from vgmed_data.builders.readers.common import check_contained
from vgmed_data.builders.skeleton import Hashing, Seeding
from vgmed_data.builders.records import SourceRecord

QUESTION_KINDS = tuple(QUESTION_TYPE)
T = TypeVar("T")
DEFAULT_SPLITS = (("train", 0.7), ("validation", 0.1), ("test", 0.2))


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """Everything that changes the output (recorded in the manifest). The CLI fills it from its flags."""

    seed: int = 0
    on_bad: str = "error"
    num_proc: int = 1
    slices_per_target: int = 1  # volumes: slices per target and plane (largest, then evenly spaced)
    min_pixels: int = 16  # connected components smaller than this are not targets
    min_size_mm: float | None = 2.0  # ... nor those whose larger side is under this (when spacing is known)
    max_records_per_source: int | None = None
    max_per_source: int | None = None  # sample quotas
    max_per_modality: int | None = None
    max_per_target: int | None = None  # per (modality, target)
    splits: tuple[tuple[str, float], ...] = DEFAULT_SPLITS
    split_units: tuple[tuple[str, str], ...] = ()  # (source key, unit) where not the entry's own split_unit
    question_kinds: tuple[str, ...] = QUESTION_KINDS
    keep_masks: bool = True
    paraphrase: str | None = None
    shard_rows: int = 500
    burned_in_check: str = "header"  # DICOM slices: off | header | pixels (vgmed_data.imaging.burned_in)

    @property
    def seeding(self) -> Seeding:
        """Record order, splits and phrasing are drawn with this builder's hashing (never changed: it would move
        the bytes of every earlier build)."""
        return Seeding(self.seed, Hashing.JOINED)

    def __post_init__(self) -> None:
        check_policy(self.on_bad)
        if self.num_proc < 1:
            raise InvalidInputError("--num-proc must be at least 1")
        names = [name for name, _ in self.splits]
        if any(name not in SPLITS for name in names) or len(set(names)) != len(names):
            raise InvalidInputError(f"bad splits {self.splits}", fix=f"use names from {', '.join(SPLITS)}, each once")
        if abs(sum(f for _, f in self.splits) - 1.0) > 1e-9 or any(f < 0 for _, f in self.splits):
            raise InvalidInputError(f"split fractions {self.splits} must be >= 0 and sum to 1")
        if self.burned_in_check not in BURNED_IN_CHECKS:
            raise InvalidInputError(f"unknown burned-in check {self.burned_in_check!r}",
                                    fix=f"use one of: {', '.join(BURNED_IN_CHECKS)}")
        unknown = set(self.question_kinds) - set(QUESTION_KINDS)
        if unknown:
            raise InvalidInputError(f"unknown question kinds {sorted(unknown)}", fix=f"use: {', '.join(QUESTION_KINDS)}")


def split_unit_for(entry: SourceEntry, options: BuildOptions) -> str:
    """The unit ``entry`` is split by in this build: the one asked for in ``options.split_units``, else the
    entry's own."""
    return dict(options.split_units).get(entry.key, entry.split_unit)


def split_key(record: SourceRecord, *, unit: str, entry: SourceEntry) -> str:
    """The id of ``record``'s ``unit`` (its ``patient_id`` for the entry's own unit, else from ``groups``)."""
    if unit == entry.split_unit:
        return record.patient_id
    if unit not in record.groups:
        raise InvalidInputError(f"the record does not say which {unit} it belongs to", record=record.record_id,
                                fix=f"split {entry.key} by {entry.split_unit} (drop --split-unit {entry.key}={unit})")
    return f"{unit}:{record.groups[unit]}"


def image_digest(image: Image.Image) -> str:
    h = hashlib.sha256(f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle_:
        for block in iter(lambda: handle_.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class ImageRows:
    digest: str
    rows: list[dict[str, Any]]


@dataclass
class RecordResult:
    source: str
    record_id: str
    images: list[ImageRows] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    filtered: Counter[str] = field(default_factory=Counter)
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (source path, sha256)
    review: list[dict[str, Any]] = field(default_factory=list)  # slices withheld for a person to look at


# ----------------------------------------------------------------------------------------------- worker side
_WORKER: dict[str, Any] = {}


def _init_worker(options: BuildOptions, deid_key: str | None = None) -> None:
    _WORKER["options"] = options
    _WORKER["deid_key"] = deid_key  # kept out of BuildOptions: the options are written to the manifest
    _WORKER["paraphraser"] = parse_hook(options.paraphrase)


def _views(record: SourceRecord, entry: SourceEntry, options: BuildOptions, result: RecordResult) -> Iterator[View]:
    if record.is_volume:
        dropped: list[str] = []
        yield from volume_views(record, window=entry.window, planes=entry.planes, dropped=dropped,
                                slices_per_target=options.slices_per_target, min_pixels=options.min_pixels)
        for target in dropped:
            result.filtered[f"{record.source}: {target} below minimum size"] += 1
    elif record.image.kind == "dicom" and record.image.frame is not None:  # one DICOM image, masks as images
        yield dicom_image_view(record, window=entry.window, deid_key=_WORKER["deid_key"],
                               burned_in_check=options.burned_in_check)
    elif record.image.series:
        dropped = []
        yield from dicom_series_views(record, window=entry.window, slices_per_target=options.slices_per_target,
                                      min_pixels=options.min_pixels, deid_key=_WORKER["deid_key"], dropped=dropped,
                                      burned_in_check=options.burned_in_check)
        for target in dropped:
            result.filtered[f"{record.source}: {target} below minimum size"] += 1
    else:
        yield raster_view(record)


def _view_rows(view: View, entry: SourceEntry, options: BuildOptions, paraphraser: Paraphraser | None,
               result: RecordResult, split: str) -> ImageRows | None:
    record = view.record
    measured = {}
    for target, geometry in view.targets.items():
        m = measure(mask=geometry.mask, boxes=geometry.boxes, image_size=view.size, spacing_mm=view.spacing_mm,
                    min_pixels=options.min_pixels, min_size_mm=options.min_size_mm)
        if m is None:
            result.filtered[f"{record.source}: {target} below minimum size"] += 1
        else:
            measured[target] = m
    focus = [t for t in (view.focus or tuple(view.targets)) if t in measured]
    if not focus:
        return None
    rows_of = _RowMaker(view=view, entry=entry, options=options, paraphraser=paraphraser, split=split)
    rows = []
    for target in focus:
        geometry, m = view.targets[target], measured[target]
        others = {name: other for name, other in measured.items() if name != target}
        questions = make_questions(target=target, modality=record.modality, measurements=m, others=others,
                                   laterality_known=view.laterality_known, key=rows_of.key(target))
        graded = {name: answer for region in record.regions if region.target == target
                  for name, answer in region.attributes}
        questions += attribute_questions(target=target, attributes=graded, vocabulary=dict(entry.attributes),
                                         modality=record.modality, key=rows_of.key(target))
        rows += rows_of(geometry, m, questions)
    for group, members in sorted(_groups(entry, view, measured).items()):
        question = group_question(group=group, areas=[measured[t].area_px for t in members],
                                  modality=record.modality, key=rows_of.key(group))
        if question is not None:
            geometry, m = _group_geometry(group, [(view.targets[t], measured[t]) for t in members])
            rows += rows_of(geometry, m, [question])
    return ImageRows(rows_of.digest, rows) if rows else None


def _groups(entry: SourceEntry, view: View, measured: dict[str, Any]) -> dict[str, list[str]]:
    """group name -> the measured targets of this view whose source labels belong to it (entry.labels' group)."""
    groups: dict[str, list[str]] = {}
    for target in sorted(measured):
        labels = [entry.labels.get(label) for label in view.targets[target].labels]
        names = {label.group for label in labels if label is not None and label.group}
        if len(names) == 1:
            groups.setdefault(names.pop(), []).append(target)
    return groups


def _group_geometry(group: str, members: list[tuple[TargetGeometry, Measurements]]) -> tuple[TargetGeometry,
                                                                                             Measurements]:
    """The group as one target: its members' masks united, their boxes kept one per member."""
    first = members[0][0]
    mask = None
    if all(geometry.mask is not None for geometry, _ in members):
        mask = np.logical_or.reduce([geometry.mask for geometry, _ in members])
    geometry = TargetGeometry(target=group, kind=first.kind, body_part=first.body_part,
                              labels=tuple(label for g, _ in members for label in g.labels), mask=mask,
                              mask_source_paths=tuple(sorted({p for g, _ in members for p in g.mask_source_paths})))
    boxes = np.concatenate([m.boxes for _, m in members])
    areas = [m.area_px for _, m in members]
    total = float(sum(areas))
    centroid = (sum(m.centroid[0] * m.area_px for _, m in members) / total,
                sum(m.centroid[1] * m.area_px for _, m in members) / total)
    mm2 = [m.area_mm2 for _, m in members]
    m = Measurements(boxes=boxes, area_px=total, area_mm2=sum(v for v in mm2 if v is not None) if None not in mm2 else None,
                     centroid=centroid, components=len(members), circularity=None, solidity=None, elongation=None,
                     image_size=members[0][1].image_size)
    return geometry, m


@dataclass
class _RowMaker:
    """Rows of one view: the shared image bytes, sample keys, metadata and provenance."""

    view: View
    entry: SourceEntry
    options: BuildOptions
    paraphraser: Paraphraser | None
    split: str

    def __post_init__(self) -> None:
        self.png = encode_png(self.view.image)
        self.digest = image_digest(self.view.image)

    def key(self, target: str) -> str:
        record, view = self.view.record, self.view
        return f"{self.options.seed}\x1f{record.source}\x1f{record.record_id}\x1f{view.plane}\x1f{view.slice_index}\x1f{target}"

    def __call__(self, geometry: TargetGeometry, m: Measurements, questions: list[Question]) -> list[dict[str, Any]]:
        view, record, entry, options = self.view, self.view.record, self.entry, self.options
        target = geometry.target
        mask_png = encode_png(geometry.mask) if options.keep_masks and geometry.mask is not None else None
        rows = []
        for question in questions:
            if question.kind not in options.question_kinds:
                continue
            text = paraphrase(question.text, target=target, paraphraser=self.paraphraser)
            metadata = {
                "source_path": view.source_path or record.image.source_path, "record_id": record.record_id, "case_id": record.case_id,
                "mask_source_paths": list(geometry.mask_source_paths), "source_labels": list(geometry.labels),
                "question_kind": question.kind, "template": question.template, "reference": question.reference,
                "measurements": m.to_metadata(), "image_sha256": self.digest, "kind": geometry.kind,
                **({"plane": view.plane, "slice_index": view.slice_index} if view.plane else {}),
                **({"channel": record.image.channel, "sequence": record.image.channel_name}
                   if record.image.channel is not None else {}),
                **({"frame": record.image.frame} if record.image.frame is not None else {}),
                **({"view": record.view} if record.view else {}),
                **({"question_template_text": question.text} if text != question.text else {}),
                **dict(record.metadata), **view.metadata,
            }
            sample = GroundingSample(
                id=make_sample_id(record.source, record.record_id, view.plane, view.slice_index, target,
                                  question.kind, question.reference),
                image=self.png, question=text, question_type=question.question_type, answer=question.answer,
                options=question.options, target=target, boxes=m.boxes.tolist(),
                box_labels=[target] * len(m.boxes), mask=mask_png, pixel_spacing_mm=view.spacing_mm,
                plane=view.plane, slice_index=view.slice_index, window=view.window, image_origin=view.image_origin,
                provenance=Provenance(modality=record.modality, body_part=geometry.body_part or record.body_part,
                                      source=record.source, source_id=record.record_id,
                                      license=record.license or entry.license,
                                      redistributable=(entry.redistributable if record.redistributable is None
                                                       else record.redistributable),
                                      patient_id=record.patient_id,
                                      split=self.split, metadata=metadata),
            )
            rows.append(sample.to_row())
        return rows


def process_record(record: SourceRecord) -> RecordResult:
    options: BuildOptions = _WORKER["options"]
    entry = get_entry(record.source)
    result = RecordResult(record.source, record.record_id)
    try:
        subject = split_key(record, unit=split_unit_for(entry, options), entry=entry)
        split = options.seeding.split(record.source, subject, splits=options.splits)
        paths = [(s, p) for p, s in record.image.series] or [(record.image.source_path, record.image.path)]
        paths += sorted({(r.mask_source_path or "", r.mask_path) for r in record.regions if r.mask_path})
        for view in _views(record, entry, options, result):
            if view.review:  # possible burned-in text: withheld, listed in the report
                result.review.append({"source": record.source, "record": record.record_id,
                                      "slice_index": view.slice_index, "reasons": list(view.review)})
                continue
            try:
                rows = _view_rows(view, entry, options, _WORKER["paraphraser"], result, split)
            except VgmedError as error:
                handle(error, policy=options.on_bad, source=record.source, record=record.record_id,
                       reason=skip_reason(error), log=result.skips)
                continue
            if rows is not None:
                result.images.append(rows)
        result.inputs = [(relative, file_sha256(path)) for relative, path in paths]
    except VgmedError as error:
        result.images = []
        handle(error, policy=options.on_bad, source=record.source, record=record.record_id,
               reason=skip_reason(error), log=result.skips)
    if record.image.series and _WORKER["deid_key"]:  # DICOM: the report names pointers and keyed UIDs only
        result.skips = [redact_skip(s, names=record_names(record), key=_WORKER["deid_key"],
                                    keep={record.record_id, record.case_id}) for s in result.skips]
    return result


# ------------------------------------------------------------------------------------------------- main side
@dataclass
class BuildReport:
    samples: int = 0
    records: Counter[str] = field(default_factory=Counter)
    by: dict[str, Counter[str]] = field(default_factory=lambda: {
        name: Counter() for name in ("split", "source", "modality", "target", "question_type", "question_kind")})
    skips: list[Skip] = field(default_factory=list)
    filtered: Counter[str] = field(default_factory=Counter)
    inputs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    review: list[dict[str, Any]] = field(default_factory=list)
    guessable_uids: dict[str, int] = field(default_factory=dict)  # DICOM source -> series with guessable UIDs

    def count(self, row: dict[str, Any]) -> None:
        self.samples += 1
        meta = json.loads(row["metadata"])
        self.by["split"][row["split"]] += 1
        self.by["source"][row["source"]] += 1
        self.by["modality"][row["modality"]] += 1
        self.by["target"][f"{row['modality']}/{row['target']}"] += 1
        self.by["question_type"][row["question_type"]] += 1
        self.by["question_kind"][meta["question_kind"]] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "records": dict(sorted(self.records.items())),
            **{f"by_{name}": dict(sorted(counter.items())) for name, counter in self.by.items()},
            "skip_counts": dict(sorted(Counter(f"{s.source}: {s.reason}" for s in self.skips).items())),
            "skips": [s.to_dict() for s in self.skips],
            "filtered": dict(sorted(self.filtered.items())),
            "review": self.review,
            **({"guessable_dicom_uids": dict(sorted(self.guessable_uids.items()))} if self.guessable_uids else {}),
        }


def list_source(entry: SourceEntry, root: Path, options: BuildOptions, *, deid_key: str | None,
                include: Callable[[Path], bool] | None = None,
                guessable: dict[str, int] | None = None) -> tuple[list[SourceRecord], list[Skip]]:
    """A source's records (DICOM identifiers pseudonymised) and its listing skips, in a canonical order.
    ``include``: only the files a part of a sharded build reads (readers that support it). ``guessable``: gets
    the number of DICOM series whose UID looks guessable (:func:`~vgmed_data.builders.deid.guessable_uid`)."""
    skips: list[Skip] = []
    extra = {} if include is None else {"include": include}
    records = [record for record in entry.reader.records(entry, root, on_bad=options.on_bad, skips=skips, **extra)
               if _contained(record, entry, root, options=options, skips=skips)]
    if _needs_key(entry):  # DICOM identifiers never leave this function in the clear
        count = sum(guessable_uid(record.record_id) for record in records)  # the series' UID as the proxy
        if guessable is not None and count:
            guessable[entry.key] = count
        records = [pseudonymise(record, key=require_key(deid_key, sources=[entry.key])) for record in records]
        skips = [redact_skip(s, names={}, key=deid_key) for s in skips]
    return records, sorted(skips, key=lambda s: (s.record, s.reason, s.detail))


def in_build_order(items: Iterable[T], options: BuildOptions, *, ids: Callable[[T], tuple[str, str]]) -> list[T]:
    """One source's records (or their results) in build order, cut to ``max_records_per_source``: sorted by a
    seeded hash of (source, record id), so the order of any set of records (one part of a sharded build, or all
    of them) follows from the ids alone."""
    ordered = sorted(items, key=lambda item: options.seeding.order_key(*ids(item)))
    return ordered if options.max_records_per_source is None else ordered[: options.max_records_per_source]


def interleave(lists: Sequence[list[T]]) -> list[T]:
    """Round-robin over the sources, so quotas do not favour the first one."""
    return [items[position] for position in range(max((len(i) for i in lists), default=0))
            for items in lists if position < len(items)]


def _ordered_records(sources: Sequence[tuple[SourceEntry, Path]], options: BuildOptions,
                     report: BuildReport, *, deid_key: str | None) -> list[SourceRecord]:
    lists = []
    for entry, root in sources:
        records, skips = list_source(entry, root, options, deid_key=deid_key,
                                     guessable=report.guessable_uids)
        report.skips.extend(skips)
        lists.append(in_build_order(records, options, ids=lambda r: (r.source, r.record_id)))
    return interleave(lists)


def _check_split_units(resolved: Sequence[tuple[SourceEntry, Path]], options: BuildOptions) -> None:
    entries = {entry.key: entry for entry, _ in resolved}
    for key, unit in options.split_units:
        if key not in entries:
            raise InvalidInputError(f"--split-unit names {key}, which is not a --source of this build",
                                    fix=f"use one of: {', '.join(entries)}")
        if unit not in entries[key].split_units:
            raise InvalidInputError(f"{key} cannot be split by {unit!r}",
                                    fix=f"use one of: {', '.join(entries[key].split_units)}")


def _contained(record: SourceRecord, entry: SourceEntry, root: Path, *, options: BuildOptions,
               skips: list[Skip]) -> bool:
    """Whether the record's files stay inside its source folder (else an error, or a counted skip)."""
    try:
        check_contained(record, root)
    except PathEscapeError as error:
        handle(error, policy=options.on_bad, source=entry.key, record=record.record_id,
               reason="path outside the source folder", log=skips)
        return False
    return True


def _needs_key(entry: SourceEntry) -> bool:
    return bool(getattr(entry.reader, "needs_deid_key", False))


def record_results(records: list[SourceRecord], options: BuildOptions,
                   deid_key: str | None) -> Iterator[RecordResult]:
    """Each record processed (in order), in this process or by ``num_proc`` workers."""
    if options.num_proc == 1:
        _init_worker(options, deid_key)
        yield from map(process_record, records)
        return
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with context.Pool(options.num_proc, initializer=_init_worker, initargs=(options, deid_key)) as pool:
        yield from pool.imap(process_record, records, chunksize=1)


def _rows(results: Iterable[RecordResult], options: BuildOptions, report: BuildReport) -> Iterator[dict[str, Any]]:
    """Rows of ``results`` (in record order): duplicates dropped, quotas applied, everything counted."""
    seen: dict[str, str] = {}
    quotas: Counter[tuple[str, str]] = Counter()
    for result in results:
        report.records[result.source] += 1
        report.skips.extend(result.skips)
        report.filtered.update(result.filtered)
        report.review.extend(result.review)
        report.inputs.setdefault(result.source, []).extend(result.inputs)
        for image in result.images:
            owner = seen.setdefault(image.digest, f"{result.source}:{result.record_id}")
            if owner != f"{result.source}:{result.record_id}":
                report.filtered[f"{result.source}: duplicate image (same pixels as {owner.split(':')[0]})"] += 1
                continue
            for row in image.rows:
                keys = [("source", row["source"]), ("modality", row["modality"]),
                        ("target", f"{row['modality']}/{row['target']}")]
                limits = {"source": options.max_per_source, "modality": options.max_per_modality,
                          "target": options.max_per_target}
                if any(limits[k] is not None and quotas[(k, v)] >= limits[k] for k, v in keys):
                    report.filtered[f"{row['source']}: over quota"] += 1
                    continue
                for key in keys:
                    quotas[key] += 1
                report.count(row)
                yield row


def _card_body(sources: Sequence[tuple[SourceEntry, str]]) -> str:
    lines = ["# VGMED-style grounding dataset", "",
             "Built with `vgmed build vgmed` (vgmed-data). Questions name their target; answers are computed from "
             "the regions' geometry. See build_report.json and manifest.json.", "",
             "| source | modality | licence (status) | images redistributable | split unit |", "|---|---|---|---|---|"]
    for entry, unit in sources:
        lines.append(f"| [{entry.name}]({entry.homepage}) | {entry.modality} | {entry.license} "
                     f"({entry.license_status}) | {'yes' if entry.redistributable else 'no'} | {unit} |")
    return "\n".join(lines) + "\n"


def _per_record_licences(resolved: Sequence[tuple[SourceEntry, Path]]) -> str:
    """The card section of sources whose licence is per record (IDC): their reader's ``card_lines``."""
    lines = []
    for entry, root in resolved:
        card_lines = getattr(entry.reader, "card_lines", None)
        if card_lines is not None:
            lines += ["", *card_lines(root)]
    return "\n".join(lines) + ("\n" if lines else "")


def build_vgmed(sources: Sequence[tuple[str, str | Path]], *, out: str | Path,
                options: BuildOptions = BuildOptions(), deid_key: str | None = None,
                quiet: bool = False) -> dict[str, Any]:
    """Build the ``vgmed`` configuration of a dataset folder from ``(source key, root folder)`` pairs.
    Returns the build report (also written to ``out/build_report.json``).

    ``deid_key``: the de-identification key that DICOM sources need (default: ``$VGMED_DEID_KEY``); never
    recorded anywhere in the output (see :mod:`vgmed_data.builders.deid`)."""
    resolved, deid_key, dicom_sources = resolve_sources(sources, options, deid_key)
    report = BuildReport()
    records = _ordered_records(resolved, options, report, deid_key=deid_key)
    results = progress(record_results(records, options, deid_key), total=len(records), desc="build vgmed",
                       unit="record", quiet=quiet)
    with new_folder_or_existing(Path(out), what="dataset folder") as out_dir:  # appears with report + manifest
        write_build(out_dir, [entry for entry, _ in resolved], results, options, report,
                    card_body=card_body(resolved, options), dicom_sources=dicom_sources)
    return report.to_dict()


def resolve_sources(sources: Sequence[tuple[str, str | Path]], options: BuildOptions,
                    deid_key: str | None) -> tuple[list[tuple[SourceEntry, Path]], str | None, list[str]]:
    """(entry, root) of each ``--source``, the de-identification key, the DICOM sources; user errors raised
    before anything is listed or written."""
    resolved: list[tuple[SourceEntry, Path]] = []
    for key, root in sources:
        entry = get_entry(key)
        path = Path(root)
        if not path.is_dir():
            raise SourceNotFoundError(f"the folder for source {key} does not exist", path=path,
                                      fix=f"download it (vgmed sources fetch {key} --dest DIR) and pass its folder")
        resolved.append((entry, path))
    if len({e.key for e, _ in resolved}) != len(resolved):
        raise InvalidInputError("a source is given twice", fix="pass each --source KEY=PATH once")
    _check_split_units(resolved, options)
    deid_key = resolve_key(deid_key)
    dicom_sources = [entry.key for entry, _ in resolved if _needs_key(entry)]
    if dicom_sources:
        require_key(deid_key, sources=dicom_sources)  # before any listing or writing
    return resolved, deid_key, dicom_sources


def card_body(resolved: Sequence[tuple[SourceEntry, Path]], options: BuildOptions) -> str:
    return (_card_body([(entry, split_unit_for(entry, options)) for entry, _ in resolved])
            + _per_record_licences(resolved))


def write_build(out_dir: Path, entries: Sequence[SourceEntry], results: Iterable[RecordResult],
                options: BuildOptions, report: BuildReport, *, card_body: str, dicom_sources: list[str]) -> None:
    """Rows, build report, manifest and input checksums of ``results`` (in record order) into ``out_dir``: the
    single-machine build and the merge of a sharded build (:mod:`vgmed_data.builders.shards`) both end here."""
    write_config(out_dir, _rows(results, options, report), config="vgmed", shard_rows=options.shard_rows,
                 card_body=card_body)
    data = report.to_dict()
    (out_dir / "build_report.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    manifest_sources = []
    checksum_lines = []
    for entry in entries:
        files = sorted(set(report.inputs.get(entry.key, [])))
        digest = hashlib.sha256("".join(f"{sha}  {path}\n" for path, sha in files).encode()).hexdigest()
        checksum_lines += [f"{sha}  {entry.key}/{path}" for path, sha in files]
        manifest_sources.append(manifest_source(entry, files=len(files), inputs_sha256=digest,
                                                split_unit=split_unit_for(entry, options)))
    import numpy
    import pyarrow

    write_manifest(out_dir, Manifest(
        command="build vgmed", version=toolkit_version(), seed=options.seed, options=asdict(options),
        sources=tuple(manifest_sources),
        deidentification=({"profile": PROFILE_TEXT, "sources": dicom_sources,
                           "key": "supplied by the user; not recorded"} if dicom_sources else None),
        environment={"python": platform.python_version(), "numpy": numpy.__version__,
                     "pyarrow": pyarrow.__version__}))
    (out_dir / "inputs.sha256").write_text("\n".join(checksum_lines) + ("\n" if checksum_lines else ""))
