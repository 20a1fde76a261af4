"""De-identification of DICOM datasets for anything DICOM-derived that leaves the machine.

Profile: DICOM PS3.15 Annex E **Basic Application Level Confidentiality Profile** (code 113100) with the
**Retain Longitudinal Temporal Information with Modified Dates Option** (113107) and the **Retain Patient
Characteristics Option** (113108). The subset implemented:

* removed (X): the identifying attributes in :data:`REMOVE` (names, addresses, telephone numbers, other ids,
  institution and physician names, device serials, free-text comments and descriptions, request sequences);
* replaced (D/Z): PatientName and PatientID become one pseudonym (keyed HMAC of the original PatientID);
  AccessionNumber and StudyID are emptied;
* dates (every DA element; the date part of every DT element) are shifted by a per-patient offset between
  -3650 and -365 days derived from the same key, so intervals between a patient's studies are kept;
  times (TM) are kept;
* UIDs (every UI element except well-known DICOM UIDs under ``1.2.840.10008``) are replaced consistently by
  ``2.25.<decimal>`` derived from the key, so references between files still match;
* all private tags are removed; PatientSex, PatientAge, PatientSize, PatientWeight are kept (option 113108);
* PatientIdentityRemoved = YES and DeidentificationMethod(+CodeSequence) record what was done.

Not covered: burned-in text in the pixels (check BurnedInAnnotation; :func:`phi_findings` reports it), overlay
planes and curve data (removed only as private/listed tags), and structured-report content.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

PROFILE_TEXT = "PS3.15 E basic profile + options 113107, 113108 (vgmed-data)"

REMOVE = (
    "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthName", "PatientAddress",
    "PatientTelephoneNumbers", "PatientMotherBirthName", "MilitaryRank", "BranchOfService", "MedicalRecordLocator",
    "Occupation", "AdditionalPatientHistory", "PatientComments", "PatientBirthTime", "PatientInsurancePlanCodeSequence",
    "PatientReligiousPreference", "EthnicGroup", "CountryOfResidence", "RegionOfResidence", "ResponsiblePerson",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "InstitutionCodeSequence",
    "ReferringPhysicianName", "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "ReferringPhysicianIdentificationSequence", "PerformingPhysicianName", "PerformingPhysicianIdentificationSequence",
    "OperatorsName", "OperatorIdentificationSequence", "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "NameOfPhysiciansReadingStudy", "PhysiciansReadingStudyIdentificationSequence", "RequestingPhysician",
    "ScheduledPerformingPhysicianName", "StationName", "DeviceSerialNumber", "PlateID", "DetectorID",
    "RequestAttributesSequence", "RequestedProcedureDescription", "ImageComments", "StudyComments",
    "StudyDescription", "SeriesDescription", "PerformedProcedureStepDescription", "ProtocolName",
    "DerivationDescription", "AdmittingDiagnosesDescription", "ReasonForStudy", "RequestedProcedureID",
    "PerformedProcedureStepID", "ScheduledProcedureStepID", "IssuerOfPatientID", "PatientBirthDate",
    "InstanceCreatorUID", "ContentCreatorName", "PersonName", "VerifyingObserverName",
    "VerifyingObserverIdentificationCodeSequence", "PerformedStationName", "PerformedLocation",
)
EMPTY = ("AccessionNumber", "StudyID")
KEEP_UID_PREFIX = "1.2.840.10008"

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


def _walk(ds: Dataset, *, key: str, days: int) -> None:
    for keyword in REMOVE:
        if keyword in ds:
            delattr(ds, keyword)
    for keyword in EMPTY:
        if keyword in ds:
            ds.data_element(keyword).value = ""
    ds.remove_private_tags()
    for element in list(ds):
        _element(element, key=key, days=days)


def _element(element: DataElement, *, key: str, days: int) -> None:
    if element.VR == "SQ":
        for item in element.value or []:
            _walk(item, key=key, days=days)
    elif element.VR == "UI" and element.value:
        values = element.value if element.VM > 1 else [element.value]
        replaced = [replace_uid(str(v), key=key) for v in values]
        element.value = replaced if element.VM > 1 else replaced[0]
    elif element.VR in ("DA", "DT") and element.value:
        values = element.value if element.VM > 1 else [element.value]
        shifted = [_shift_date(str(v), days) for v in values]
        element.value = shifted if element.VM > 1 else shifted[0]


def deidentify(ds: Dataset, *, key: str) -> Dataset:
    """A de-identified copy of ``ds`` (see the module docstring for the profile). ``key`` is a project secret:
    the same key gives the same pseudonyms, date shifts and UIDs across files."""
    if not key:
        raise ValueError("deidentify needs a non-empty key")
    out = copy.deepcopy(ds)  # Dataset.copy() is shallow: editing it would edit the caller's dataset
    original_id = str(ds.get("PatientID", "") or ds.get("PatientName", "") or "unknown")
    days = date_offset_days(original_id, key=key)
    _walk(out, key=key, days=days)
    name = pseudonym(original_id, key=key)
    out.PatientName = name
    out.PatientID = name
    if hasattr(out, "file_meta"):
        meta = out.file_meta
        if "MediaStorageSOPInstanceUID" in meta:
            meta.MediaStorageSOPInstanceUID = replace_uid(str(meta.MediaStorageSOPInstanceUID), key=key)
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = PROFILE_TEXT
    codes = Sequence()
    for value, meaning in (("113100", "Basic Application Confidentiality Profile"),
                           ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
                           ("113108", "Retain Patient Characteristics Option")):
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
