"""Declarative source entries and the registry that holds them.

A :class:`SourceEntry` says everything the toolkit needs to know about one public dataset: who publishes it,
under which licence (SPDX id where one exists), where that licence was read and how sure that reading is
(``license_status``: stated / secondary / conflicting / unknown), how to get it (direct downloads with
checksums, or written steps), its modality, its on-disk layout (and where that layout was confirmed), what the
source calls a subject (``split_unit``: the unit no split may divide), its label map, and the generic reader that
understands the layout. Whether its images may be redistributed is not declared: ``redistributable`` follows from
the licence and its status through :func:`vgmed_data.guards.licence_permits_redistribution`. Entries live in :mod:`vgmed_data.builders.sources`, which collects
them into its registry; the registry refuses duplicate keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vgmed_data.errors import InvalidInputError, SkipReason, SourceNotFoundError
from vgmed_data.manifest import ManifestSource
from vgmed_data.guards import LICENSE_STATUSES, licence_permits_redistribution
from vgmed_data.schema import MODALITIES

from vgmed_data.builders.records import REGION_KINDS, SPLIT_UNITS, SourceRecord

if TYPE_CHECKING:
    from vgmed_data.builders.policy import Skip


@dataclass(frozen=True, kw_only=True)
class Label:
    """What a source label means: the target named in questions, the body part, the kind of structure, and the
    group it belongs to (plural name, e.g. "vertebrae"): labels of one group are also counted together on each
    view (the ``group_count`` question)."""

    target: str
    body_part: str
    kind: str = "organ"
    group: str = ""

    def __post_init__(self) -> None:
        if self.kind not in REGION_KINDS:
            raise InvalidInputError(f"label kind {self.kind!r} is not one of {', '.join(REGION_KINDS)}",
                                    record=self.target)


@dataclass(frozen=True, kw_only=True)
class Download:
    """One direct download. ``checksum`` is ``"sha256:<hex>"`` or ``"md5:<hex>"`` (whatever the publisher or a
    well-known loader states; ``None`` when nobody publishes one)."""

    url: str
    filename: str
    checksum: str | None = None
    checksum_source: str = ""  # where the checksum is stated


class Reader(Protocol):
    """A generic reader: lists a source's records from its root folder without loading pixels."""

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: "list[Skip]") -> Iterator[SourceRecord]:
        ...

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        """Paths (relative to the root; globs allowed) that must exist for the layout to be right."""
        ...


@dataclass(frozen=True, kw_only=True)
class SourceEntry:
    key: str
    name: str
    homepage: str
    citation: str
    license: str  # SPDX id, or LicenseRef-... when the licence has none
    license_url: str  # where the licence was read (URL or repo@commit:path, with what it says there)
    license_status: str  # stated | secondary | conflicting | unknown (vgmed_data.guards.LICENSE_STATUSES)
    split_unit: str  # what the reader's patient_id stands for: one of records.SPLIT_UNITS
    modality: str  # one of vgmed_data.schema.MODALITIES, or "mixed" (per-record modality)
    body_part: str
    size: str  # approximate download size, for `vgmed sources list`
    layout: str  # the on-disk pattern, as the user sees it after extracting
    layout_confirmed_at: str  # URL or repo@commit:path where the layout was confirmed
    labels: Mapping[str, Label]
    reader: Reader
    downloads: tuple[Download, ...] = ()
    instructions: str = ""  # steps when registration or credentials are needed
    window: str | None = None  # intensity window preset for CT volumes (None: volume percentiles)
    planes: tuple[str, ...] = ("axial",)
    laterality_known: bool = False  # image left = patient right (radiological display / PA radiographs)
    other_split_units: tuple[str, ...] = ()  # units the reader also records (SourceRecord.groups), e.g. centre
    # the source's own per-region gradings a reader attaches (RegionRef.attributes): attribute name -> every answer
    # it may take (the options of its source_attribute question)
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    notes: str = ""

    @property
    def redistributable(self) -> bool:
        """Whether the source's images may be redistributed: from the licence and its status, never by hand."""
        return licence_permits_redistribution(license=self.license, status=self.license_status)

    @property
    def split_units(self) -> tuple[str, ...]:
        """The units a build may split this source by; the first is the default."""
        return (self.split_unit, *self.other_split_units)

    def __post_init__(self) -> None:
        if self.license_status not in LICENSE_STATUSES:
            raise InvalidInputError(f"licence status {self.license_status!r} is not one of "
                                    f"{', '.join(LICENSE_STATUSES)}", record=self.key)
        for unit in self.split_units:
            if unit not in SPLIT_UNITS:
                raise InvalidInputError(f"split unit {unit!r} is not one of {', '.join(SPLIT_UNITS)}",
                                        record=self.key)
        if len(set(self.split_units)) != len(self.split_units):
            raise InvalidInputError(f"split unit listed twice in {self.split_units}", record=self.key)
        if self.modality != "mixed" and self.modality not in MODALITIES:
            raise InvalidInputError(f"modality {self.modality!r} is not one of {', '.join(MODALITIES)}",
                                    record=self.key)
        if not self.labels:
            raise InvalidInputError("a source entry needs a label map", record=self.key)
        if not self.downloads and not self.instructions:
            raise InvalidInputError("a source entry needs downloads or written instructions", record=self.key)

    def label(self, source_label: str, *, path: str | None = None, record: str | None = None) -> Label:
        """The mapped label, or an error naming the known labels (a label not in the map is bad input)."""
        try:
            return self.labels[source_label]
        except KeyError:
            raise InvalidInputError(
                f"label {source_label!r} is not in the {self.key} label map (known: {', '.join(self.labels)})",
                path=path, record=record,
                fix="check the file is from this source, add the label to the entry, or use --on-bad skip",
                reason=SkipReason.LABEL_NOT_IN_MAP,
            ) from None


def manifest_source(entry: SourceEntry, *, files: int = 0, inputs_sha256: str = "",
                    split_unit: str | None = None) -> ManifestSource:
    """What ``manifest.json`` (and so the dataset card) records about a source a build read (``split_unit``: the
    unit the build split it by, default the entry's own)."""
    return ManifestSource(key=entry.key, name=entry.name, homepage=entry.homepage, citation=entry.citation,
                          license=entry.license, license_status=entry.license_status,
                          license_read_at=entry.license_url, redistributable=entry.redistributable,
                          split_unit=split_unit or entry.split_unit, files=files, inputs_sha256=inputs_sha256)


@dataclass
class Registry:
    entries: dict[str, SourceEntry] = field(default_factory=dict)

    def add(self, entry: SourceEntry) -> SourceEntry:
        if entry.key in self.entries:
            raise InvalidInputError(f"source key {entry.key!r} is registered twice", fix="give each entry its own key")
        self.entries[entry.key] = entry
        return entry

    def get(self, key: str) -> SourceEntry:
        if key not in self.entries:
            import difflib

            close = difflib.get_close_matches(key, list(self.entries), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise SourceNotFoundError(f"unknown source {key!r}",
                                      fix=f"{hint}run `vgmed sources list`; known: {', '.join(sorted(self.entries))}")
        return self.entries[key]

    def __iter__(self) -> Iterator[SourceEntry]:
        return iter(sorted(self.entries.values(), key=lambda e: e.key))

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def of(cls, entries: Iterable[SourceEntry]) -> Registry:
        """A registry holding ``entries`` (a key given twice is refused)."""
        registry = cls()
        for entry in entries:
            registry.add(entry)
        return registry
