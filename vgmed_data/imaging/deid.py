"""De-identification of DICOM datasets for anything DICOM-derived that leaves the machine.

Profile: DICOM PS3.15 Annex E **Basic Application Level Confidentiality Profile** (113100) with the **Retain
Longitudinal Temporal Information with Modified Dates Option** (113107) and the **Retain Patient Characteristics
Option** (113108), applied from the standard's own Table E.1-1 (every row; :mod:`vgmed_data.imaging.deid_table`
says which action each row gets and which options are not claimed, and why). At every depth of the dataset
(sequence items included, and the file meta information):

* ``X`` removed; ``Z`` emptied (an empty sequence for SQ); ``D`` replaced by a dummy of the element's VR
  (:func:`dummy_value`); a ``D`` sequence is kept and its items de-identified by the same table;
* PatientName and PatientID become one pseudonym (keyed HMAC of the original PatientID, :func:`pseudonym`);
* ``U``: every UID (listed or not) except the DICOM-defined ones under ``1.2.840.10008`` is replaced consistently
  by ``2.25.<decimal>`` derived from the key (:func:`replace_uid`), so references between files still match;
* dates (every DA, and the date part of every DT, listed or not) move by a per-patient whole number of days in
  [-3650, -365] derived from the same key (:func:`date_offset_days`); times (TM) are kept;
* all private elements, curve data (50xx,xxxx) and overlay data and comments (60xx,3000 / 60xx,4000) are removed;
* PatientIdentityRemoved = YES, LongitudinalTemporalInformationModified = MODIFIED and DeidentificationMethod
  (+CodeSequence: 113100, 113107, 113108) record what was done.

Not covered here: text burned into the pixels (:func:`phi_findings` reports BurnedInAnnotation=YES;
:mod:`vgmed_data.imaging.burned_in` checks the pixels), and free text in attributes the table does not list.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from vgmed_data.imaging.deid_table import profile_table

PROFILE_TEXT = "PS3.15 Table E.1-1 2024b basic profile, options 113107 113108"  # LO: <= 64 characters
KEEP_UID_PREFIX = "1.2.840.10008"
DUMMY_TEXT = "ANONYMIZED"
PROFILE_CODES = (("113100", "Basic Application Confidentiality Profile"),
                 ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
                 ("113108", "Retain Patient Characteristics Option"))
_DUMMY_BY_VR: dict[str, Any] = {
    "DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000Y", "DS": "0", "IS": "0",
    "US": 0, "SS": 0, "UL": 0, "SL": 0, "UV": 0, "SV": 0, "FL": 0.0, "FD": 0.0, "AT": 0,
    "OB": b"\x00\x00", "OW": b"\x00\x00", "OD": b"\x00" * 8, "OF": b"\x00" * 4, "OL": b"\x00" * 4,
    "OV": b"\x00" * 8, "UN": b"\x00\x00",
}
_PSEUDONYM_TAGS = (0x00100010, 0x00100020)  # PatientName, PatientID

# Attributes whose presence with a value counts as PHI for the publishing guard.
PHI_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "InstitutionName",
                "InstitutionAddress", "ReferringPhysicianName", "OtherPatientIDs", "OtherPatientNames",
                "PatientAddress", "PatientTelephoneNumbers", "OperatorsName", "PerformingPhysicianName",
                "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "StationName", "DeviceSerialNumber")


def _digest(key: str, text: str) -> bytes:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).digest()


def pseudonym(original_patient_id: str, *, key: str) -> str:
    """Stable pseudonymous patient id: ``P`` + 16 hex chars of HMAC-SHA256(key, id)."""
    return "P" + _digest(key, f"patient:{original_patient_id}").hex()[:16]


def date_offset_days(original_patient_id: str, *, key: str) -> int:
    """Per-patient date shift in [-3650, -365] days."""
    return -365 - int.from_bytes(_digest(key, f"dates:{original_patient_id}")[:4], "big") % 3286


def replace_uid(uid: str, *, key: str) -> str:
    """Consistent replacement UID under the 2.25 (UUID-derived) root, at most 64 characters."""
    if not uid or uid.startswith(KEEP_UID_PREFIX):
        return uid
    return "2.25." + str(int.from_bytes(_digest(key, f"uid:{uid}")[:16], "big"))


def _shift_date(value: str, days: int) -> str:
    text = value.strip()
    if len(text) < 8:
        return ""
    try:
        shifted = dt.datetime.strptime(text[:8], "%Y%m%d").date() + dt.timedelta(days=days)
    except ValueError:
        return ""
    return shifted.strftime("%Y%m%d") + text[8:]


def dummy_value(vr: str) -> Any:
    """The ``D`` replacement for an element of ``vr``: fixed, non-empty, valid for the VR, carrying nothing."""
    return _DUMMY_BY_VR.get(vr, DUMMY_TEXT)


def _each(element: DataElement, change: Any) -> None:
    values = list(element.value) if element.VM > 1 else [element.value]
    changed = [change(str(v)) for v in values]
    element.value = changed if element.VM > 1 else changed[0]


class _Deidentifier:
    """One dataset's walk: the table's action for every element at every depth."""

    def __init__(self, *, key: str, days: int, name: str) -> None:
        self.key, self.days, self.name, self.table = key, days, name, profile_table()

    def dataset(self, ds: Dataset) -> None:
        for element in list(ds):
            self.element(ds, element)

    def element(self, ds: Dataset, element: DataElement) -> None:
        tag = int(element.tag)
        if element.tag.is_private or 0x5000 <= tag >> 16 <= 0x50FF:  # private attributes; curve data (50xx,xxxx)
            del ds[tag]
            return
        row = self.table.row_for(tag)
        action = row.action(element.VR) if row is not None else None
        if action == "X":
            del ds[tag]
        elif action == "Z":
            element.value = Sequence() if element.VR == "SQ" else (b"" if element.VR in _BINARY else "")
        elif tag in _PSEUDONYM_TAGS:
            element.value = self.name
        elif element.VR == "SQ":
            for item in element.value or []:
                self.dataset(item)
        elif action == "D" and element.VR not in ("UI", "DA", "DT"):
            element.value = dummy_value(element.VR)
        else:  # U, U*, K, shift, D of a UID or date, or not listed: UIDs replaced and dates shifted wherever they are
            self.value(element)

    def value(self, element: DataElement) -> None:
        if element.VR == "UI" and element.value:
            _each(element, lambda v: replace_uid(v, key=self.key))
        elif element.VR in ("DA", "DT") and element.value:
            _each(element, lambda v: _shift_date(v, self.days))


_BINARY = ("OB", "OW", "OD", "OF", "OL", "OV", "UN")


def deidentify(ds: Dataset, *, key: str) -> Dataset:
    """A de-identified copy of ``ds`` (see the module docstring for the profile). ``key`` is a project secret:
    the same key gives the same pseudonyms, date shifts and UIDs across files."""
    if not key:
        raise ValueError("deidentify needs a non-empty key")
    out = copy.deepcopy(ds)  # Dataset.copy() is shallow: editing it would edit the caller's dataset
    original_id = str(ds.get("PatientID", "") or ds.get("PatientName", "") or "unknown")
    worker = _Deidentifier(key=key, days=date_offset_days(original_id, key=key), name=pseudonym(original_id, key=key))
    worker.dataset(out)
    if getattr(out, "file_meta", None) is not None:
        worker.dataset(out.file_meta)
    out.PatientName = out.PatientID = worker.name
    out.PatientIdentityRemoved = "YES"
    out.LongitudinalTemporalInformationModified = "MODIFIED"
    out.DeidentificationMethod = PROFILE_TEXT
    codes = Sequence()
    for value, meaning in PROFILE_CODES:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        codes.append(item)
    out.DeidentificationMethodCodeSequence = codes
    return out


def phi_findings(ds: Dataset, *, keywords: Iterable[str] = PHI_KEYWORDS) -> list[str]:
    """Identifying attributes that still carry a value (empty list when clean), plus private tags and burned-in
    annotation flags. De-identified files keep shifted dates; those count as clean when
    PatientIdentityRemoved is YES."""
    removed = str(ds.get("PatientIdentityRemoved", "")).upper() == "YES"
    findings = []
    for keyword in keywords:
        if keyword in ds and str(ds.get(keyword) or "").strip():
            if removed and (keyword.endswith("Date") or keyword in ("PatientName", "PatientID")):
                continue
            findings.append(keyword)
    if any(element.tag.is_private for element in ds):
        findings.append("private tags")
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        findings.append("BurnedInAnnotation=YES")
    return findings
