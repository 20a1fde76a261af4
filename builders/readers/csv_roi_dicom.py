"""CSV-described ROI DICOM: description tables whose rows each name one abnormality, its full image (a DICOM) and
its ROI mask (a DICOM image of the same size, foreground non-zero), with the abnormality's attributes in columns.

CBIS-DDSM is the model (``mass_case_description_{train,test}_set.csv``, ``calc_case_description_{train,test}_set.
csv``): the columns ``image file path`` and ``ROI mask file path`` hold
``<Subject ID>/<StudyInstanceUID>/<SeriesInstanceUID>/<file>.dcm`` relative to the collection folder the TCIA
download writes. The downloaded files are not named as the table says (the table writes ``000000.dcm`` /
``000001.dcm``; the NBIA Data Retriever writes ``1-1.dcm``, ``1-2.dcm``, and with its descriptive folder names the
study and series folders are not the UIDs either), and an abnormality's ROI subject holds two instances, the
cropped abnormality and the mask, in no fixed order (one series, or two in some downloads). A path is therefore
resolved by its first segment only (the whole path is still checked to stay inside the source folder): every
``*.dcm`` below the subject folder ``image_dir/<Subject ID>``. The full image is its subject's only DICOM; the mask
is the one DICOM of the ROI subject whose Rows x Columns equal the full image's (the cropped image is smaller).
None of that size is a size mismatch; two are ambiguous.

One record per full image, with one region per row naming it (a mass and a calcification of one image are two
targets; two masses, one target of two regions). A row that cannot be read drops its whole image (a region left
out would make the image's answers wrong) as one counted skip. The label is the value of ``label_column`` (the
entry's label map). Attributes (:class:`AttributeColumn`) become the region's ``attributes`` (source_attribute
questions); an attribute is kept for a target only when every region of that target on the image gives the same
answer. Messages name the table and its data row, never a file path (paths hold the TCIA subject ids).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydicom.dataset import Dataset

from vgmed_data.errors import FileFormatError, InvalidInputError, SkipReason, SourceNotFoundError, VgmedError
from vgmed_data.imaging.dicom import read_header
from vgmed_data.imaging.sop_pointer import sop_pointer
from vgmed_data.safepaths import PathEscapeError
from vgmed_data.userfiles import INDEX_LIMIT, read_text_bounded

from vgmed_data.builders.policy import Skip, handle
from vgmed_data.builders.readers.common import listed, visible
from vgmed_data.builders.records import ImageRef, RegionRef, SourceRecord

if TYPE_CHECKING:
    from vgmed_data.builders.entry import SourceEntry


@dataclass(frozen=True, kw_only=True)
class AttributeColumn:
    """A table column whose values are an abnormality's attribute: ``answers`` maps each value the source writes
    to the answer asked. ``not_given`` values (``N/A``, empty) mean the source gives none: not asked. With a
    ``separator``, a value may list several descriptors (``IRREGULAR-ARCHITECTURAL_DISTORTION``): each must be
    known; one distinct descriptor is its answer, several are not asked (no single answer). Any other value is
    bad input (``label not in map``)."""

    column: str
    name: str
    answers: Mapping[str, str]
    not_given: tuple[str, ...] = ("", "N/A")
    separator: str = ""

    def answer(self, value: str, *, row: int, table: Path) -> str | None:
        value = value.strip()
        if value in self.not_given:
            return None
        parts = value.split(self.separator) if self.separator else [value]
        unknown = [part for part in parts if part not in self.answers]
        if unknown:
            raise InvalidInputError(f"row {row}: {self.column} value {value!r} is not one the entry knows "
                                    f"(known: {', '.join(self.answers)})", path=table,
                                    fix="check the table belongs to this source, add the value to the entry, or use "
                                        "--on-bad skip", reason=SkipReason.LABEL_NOT_IN_MAP)
        found = {self.answers[part] for part in parts}
        return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class _Row:
    table: Path
    row: int  # the data row's number (1 = first after the header; cells may hold newlines)
    cells: Mapping[str, str]


@dataclass(frozen=True)
class _Dicom:
    path: Path
    pointer: str
    header: Dataset

    @property
    def size(self) -> tuple[int, int]:
        return int(self.header.get("Rows", 0) or 0), int(self.header.get("Columns", 0) or 0)


@dataclass(frozen=True, kw_only=True)
class CsvRoiDicomReader:
    table_glob: str  # the description tables, relative to the root
    image_dir: str  # the folder the tables' paths are relative to
    label_column: str
    patient_column: str
    image_column: str
    mask_column: str
    view_column: str = ""  # its value is the record's view (CC, MLO)
    attributes: tuple[AttributeColumn, ...] = ()
    metadata_columns: Mapping[str, str] = field(default_factory=dict)  # column -> row metadata key
    needs_deid_key: ClassVar[bool] = True  # DICOM headers carry patient identifiers: the build pseudonymises them

    def vocabulary(self) -> dict[str, tuple[str, ...]]:
        """attribute name -> its possible answers (what the entry's ``attributes`` must declare)."""
        found: dict[str, dict[str, None]] = defaultdict(dict)
        for column in self.attributes:
            found[column.name].update(dict.fromkeys(column.answers.values()))
        return {name: tuple(answers) for name, answers in found.items()}

    def required_paths(self, entry: "SourceEntry") -> tuple[str, ...]:
        return (self.table_glob, self.image_dir)

    def _rows(self, root: Path) -> list[_Row]:
        tables = sorted(p for p in visible(list(root.glob(self.table_glob))) if p.is_file())
        if not tables:
            raise SourceNotFoundError(f"no description table matching {self.table_glob}", path=root,
                                      fix="put the collection's description CSVs in the source folder")
        needed = [self.patient_column, self.label_column, self.image_column, self.mask_column]
        rows = []
        for table in tables:
            text = read_text_bounded(table, limit=INDEX_LIMIT, what=table.name, encoding="utf-8-sig")
            reader = csv.DictReader(io.StringIO(text, newline=""))
            missing = [c for c in needed if c not in (reader.fieldnames or [])]
            if missing:
                raise FileFormatError(f"lacks the column(s) {', '.join(missing)}", path=table,
                                      fix="use the collection's original description table")
            rows += [_Row(table, number, {k: (v or "") for k, v in row.items() if k is not None})
                     for number, row in enumerate(reader, start=1)]
        return rows

    def _files(self, root: Path, row: _Row, column: str) -> list[Path]:
        """The DICOM files the path in ``column`` may mean (see the module docstring)."""
        text = row.cells[column].strip().replace("\\", "/")
        parts = [part for part in text.split("/") if part]
        where = f"row {row.row}: {column}"
        if not parts:
            raise InvalidInputError(f"{where} is empty", path=row.table, fix="use the original table, or --on-bad "
                                    "skip", reason=SkipReason.MISSING_FILE)
        listed(root, "/".join([self.image_dir, *parts]), index=row.table, record=f"row {row.row}", what=column)
        subject = listed(root, f"{self.image_dir}/{parts[0]}", index=row.table, record=f"row {row.row}",
                         what=column)
        files = sorted(p for p in visible(list(subject.rglob("*.dcm"))) if p.is_file())
        if not files:
            raise SourceNotFoundError(f"{where} names a subject folder with no DICOM file in {self.image_dir}",
                                      path=row.table, fix="download the whole collection (every series the table "
                                                          "names), or use --on-bad skip")
        return files

    def _image(self, root: Path, row: _Row) -> _Dicom:
        files = self._files(root, row, self.image_column)
        if len(files) > 1:
            raise FileFormatError(f"row {row.row}: {self.image_column} names a subject with {len(files)} DICOM "
                                  "files; one full image was expected", path=row.table,
                                  fix="remove files that are not from the collection, or use --on-bad skip")
        return _read(files[0], row=row, column=self.image_column)

    def _mask(self, root: Path, row: _Row, image: _Dicom) -> _Dicom:
        candidates = [_read(path, row=row, column=self.mask_column)
                      for path in self._files(root, row, self.mask_column)]
        same = [dicom for dicom in candidates if dicom.size == image.size]
        if len(same) != 1:
            sizes = ", ".join(f"{r}x{c}" for r, c in sorted({d.size for d in candidates}))
            problem = (f"has no DICOM of the full image's size {image.size[0]}x{image.size[1]} (rows x columns; "
                       f"found {sizes})" if not same else f"has {len(same)} DICOMs of the full image's size")
            raise FileFormatError(f"row {row.row}: the {self.mask_column} folder {problem}", path=row.table,
                                  fix="the ROI mask must be drawn on the full image; re-download the ROI series, "
                                      "or use --on-bad skip",
                                  reason=SkipReason.SHAPE_MISMATCH if not same else "ambiguous mask")
        return same[0]

    def _region(self, entry: "SourceEntry", root: Path, row: _Row, image: _Dicom) -> RegionRef:
        label_name = row.cells[self.label_column].strip()
        label = entry.label(label_name, path=str(row.table), record=f"row {row.row}")
        answers = []
        for column in self.attributes:
            if column.column in row.cells:
                answer = column.answer(row.cells[column.column], row=row.row, table=row.table)
                if answer is not None:
                    answers.append((column.name, answer))
        mask = self._mask(root, row, image)
        return RegionRef(label=label_name, target=label.target, body_part=label.body_part, kind=label.kind,
                         mask_path=str(mask.path), mask_source_path=mask.pointer, attributes=tuple(answers))

    def records(self, entry: "SourceEntry", root: Path, *, on_bad: str, skips: list[Skip]) -> Iterator[SourceRecord]:
        groups: dict[str, list[_Row]] = defaultdict(list)
        for row in self._rows(root):
            groups[row.cells[self.image_column].strip().replace("\\", "/")].append(row)
        for _key, rows in sorted(groups.items()):
            first = rows[0]
            try:
                image = self._image(root, first)
                regions = [self._region(entry, root, row, image) for row in rows]
            except VgmedError as error:
                reason = "path outside the source folder" if isinstance(error, PathEscapeError) else error.reason
                handle(error, policy=on_bad, source=entry.key, record=f"{first.table.name} row {first.row}",
                       reason=reason, log=skips)
                continue
            header = image.header
            cells = first.cells
            metadata = {key: cells[column].strip() for column, key in self.metadata_columns.items()
                        if column in cells}
            yield SourceRecord(
                source=entry.key, record_id=str(header.get("SeriesInstanceUID", "") or image.pointer),
                patient_id=cells[self.patient_column].strip() or "unknown",
                case_id=str(header.get("StudyInstanceUID", "")), modality=entry.modality,
                body_part=entry.body_part,
                image=ImageRef(path=str(image.path), source_path=image.pointer, kind="dicom", frame=0,
                               series=((str(image.path), image.pointer),)),
                regions=_agreed(regions), view=cells.get(self.view_column, "").strip() if self.view_column else "",
                laterality_known=entry.laterality_known, metadata=metadata,
            )


def _read(path: Path, *, row: _Row, column: str) -> _Dicom:
    """The file's header; an unreadable file is named by the table row that led to it (its path holds the
    subject id)."""
    try:
        header = read_header(path)
        if "SOPInstanceUID" not in header:
            raise FileFormatError("has no SOPInstanceUID", path=path)
    except VgmedError as error:
        raise FileFormatError(f"row {row.row}: a DICOM file of the {column} folder cannot be read ({error.reason})",
                              path=row.table, fix="re-download that series, or use --on-bad skip",
                              reason=error.reason) from None
    return _Dicom(path, sop_pointer(str(header.SOPInstanceUID)), header)


def _agreed(regions: list[RegionRef]) -> tuple[RegionRef, ...]:
    """The regions, each target keeping only the attributes that every one of its regions gives alike."""
    import dataclasses

    by_target: dict[str, list[RegionRef]] = defaultdict(list)
    for region in regions:
        by_target[region.target].append(region)
    kept: dict[str, set[tuple[str, str]]] = {
        target: set.intersection(*(set(r.attributes) for r in members)) for target, members in by_target.items()}
    return tuple(dataclasses.replace(r, attributes=tuple(a for a in r.attributes if a in kept[r.target]))
                 for r in regions)
