"""Per-structure gradings published as a CSV table (SPIDER's ``radiological_gradings.csv``: one row per patient
and disc, one column per finding), attached to the regions a reader lists as ``RegionRef.attributes``.

The table is declared in the entry: which columns name the patient and the structure (and the offset from the
table's structure number to the label value in the mask), and for each graded column the attribute name and the
answer each of its values means. A value the declaration does not list is bad input (``label not in map``), never
passed through; a row whose structure is not in a mask simply has no region to attach to.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vgmed_data.errors import FileFormatError, InvalidInputError, SkipReason

MAX_TABLE_BYTES = 64 << 20

Gradings = dict[tuple[str, int], tuple[tuple[str, str], ...]]  # (patient, label value) -> (name, answer) pairs


@dataclass(frozen=True, kw_only=True)
class AttributeTable:
    file: str  # relative to the source root
    patient_column: str
    label_column: str
    label_offset: int = 0  # label value in the mask = the table's structure number + this
    columns: Mapping[str, tuple[str, Mapping[str, str]]]  # CSV column -> (attribute name, {CSV value: answer})
    applies_to: str = ""  # a regular expression the image file name must match for the gradings to be asked

    def vocabulary(self) -> dict[str, tuple[str, ...]]:
        """attribute name -> its possible answers (what the entry's ``attributes`` must declare)."""
        return {name: tuple(dict.fromkeys(answers.values())) for name, answers in self.columns.values()}

    def load(self, root: Path) -> Gradings:
        path = root / self.file
        fix = "re-download the source's gradings table"
        if path.stat().st_size > MAX_TABLE_BYTES:
            raise FileFormatError("is too large to be a gradings table", path=path, fix=fix)
        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
        except (UnicodeDecodeError, csv.Error) as error:
            raise FileFormatError(f"is not a CSV table ({error.__class__.__name__})", path=path, fix=fix) from None
        needed = [self.patient_column, self.label_column, *self.columns]
        missing = [c for c in needed if rows and c not in rows[0]]
        if not rows or missing:
            raise FileFormatError(f"lacks the column(s) {', '.join(missing) or ', '.join(needed)}", path=path,
                                  fix=fix)
        gradings: Gradings = {}
        for line, row in enumerate(rows, start=2):
            try:
                number = int(float(row[self.label_column]))
            except (TypeError, ValueError):
                raise FileFormatError(f"line {line}: {self.label_column} {row[self.label_column]!r} is not a number",
                                      path=path, fix=fix) from None
            found = []
            for column, (name, answers) in self.columns.items():
                value = (row[column] or "").strip()
                value = value[:-2] if value.endswith(".0") else value  # pandas writes integer columns with NaNs as 1.0
                if value not in answers:
                    raise InvalidInputError(f"line {line}: {column} value {value!r} is not one the entry knows "
                                            f"(known: {', '.join(answers)})", path=path,
                                            fix="check the table belongs to this source", reason=SkipReason.LABEL_NOT_IN_MAP)
                found.append((name, answers[value]))
            patient = (row[self.patient_column] or "").strip()
            gradings[(patient, number + self.label_offset)] = tuple(found)
        return gradings
