"""De-identification against every row of DICOM PS3.15 Table E.1-1, and the keyed pseudonyms' consistency.

The header under test carries every attribute of the table that pydicom can write (all 617 listed tags of the
2024b edition, recognisable values: ``ORIG<tag>`` text, ``1.2.3.<n>`` UIDs, the date 2001-02-03), the three
repeating-group rows (curve data, overlay data and comments), private elements at three depths, and nested
sequences. The expected outcome of each row is computed here from the table file's own columns with the
standard's meaning of each action letter (PS3.15 E.1.1), not from the code's action resolver.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from importlib.resources import files
from typing import Any

import pytest
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from tests.core import conftest
from vgmed_data.imaging.deid import deidentify, pseudonym

KEY = "profile-test-key"
DATE, TIME = "20010203", "101112"
TABLE = json.loads(files("vgmed_data.imaging").joinpath("ps3_15_e1_1.json").read_text())
ROWS = TABLE["attributes"]
LISTED = [r for r in ROWS if r["tag"] != "private" and "x" not in r["tag"]]


def _vr(tag: int) -> str:
    return dictionary_VR(tag).split(" or ")[0]


def _marker(row: dict[str, Any]) -> str:
    kept = row["options"].get("retain_patient_characteristics") == "K"  # retained by the option: not a leak
    return f"{'KEPT' if kept else 'ORIG'}{row['tag'].upper()}"


def _nested(tag: int) -> Dataset:
    """An item with identifiers two levels deep, and a private element."""
    deep = Dataset()
    deep.PersonName = f"ORIGDEEP^{tag:08X}"
    deep.ReferencedSOPInstanceUID = f"1.2.3.9.{tag}"
    deep.add_new(0x00110010, "LO", "ORIGCREATOR")
    deep.add_new(0x00111001, "LO", f"ORIGPRIVDEEP{tag:08X}")
    item = Dataset()
    item.InstitutionName = f"ORIGNESTED{tag:08X}"
    item.StudyDate = DATE
    item.ReferencedSOPInstanceUID = f"1.2.3.8.{tag}"
    item.SourceImageSequence = Sequence([deep])
    return item


def _value(row: dict[str, Any], tag: int, vr: str) -> Any:
    marker = _marker(row)
    return {"UI": f"1.2.3.{tag}", "DA": DATE, "DT": DATE + TIME, "TM": TIME, "DS": "123.456", "IS": "12345",
            "US": 4321, "AS": "042Y", "SQ": Sequence([_nested(tag)])}.get(
        vr, marker.encode() if vr in ("OB", "OW", "UN") else marker)


def profile_header() -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    for row in LISTED:
        tag = int(row["tag"], 16)
        vr = _vr(tag)
        target = ds.file_meta if tag >> 16 == 0x0002 else ds
        target[tag] = DataElement(tag, vr, _value(row, tag, vr))
    ds.add_new(0x00090010, "LO", "ORIGCREATOR")
    ds.add_new(0x00091001, "LO", "ORIGPRIVATETOP")
    ds.add_new(0x50000005, "US", 2)  # curve dimensions: group 50xx goes whole
    ds.add_new(0x50003000, "OW", b"ORIGCURVEDATA!")
    ds.add_new(0x60000010, "US", 4)  # overlay rows: not listed, kept
    ds.add_new(0x60003000, "OW", b"ORIGOVERLAYDATA!")
    ds.add_new(0x60004000, "LT", "ORIGOVERLAYCOMMENT")
    ds.add_new(0x60023000, "OW", b"ORIGOVERLAYTWO!!")
    frame = Dataset()
    frame.DerivationImageSequence = Sequence([_nested(0x00089124)])
    ds.SharedFunctionalGroupsSequence = Sequence([frame])  # not listed: kept, its items de-identified
    return ds


def _elements(ds: Dataset) -> list[DataElement]:
    found = []
    for top in ([ds.file_meta] if getattr(ds, "file_meta", None) is not None else []) + [ds]:
        found.extend(top.iterall())
    return found


def _shift(value: str, days: int) -> str:
    return (dt.date(int(value[:4]), int(value[4:6]), int(value[6:8])) + dt.timedelta(days=days)).strftime("%Y%m%d")


def _outcomes(action: str, element: DataElement | None, original: Any) -> set[str]:
    """Which of the action's alternatives the element shows."""
    if element is None:
        return {"X"}
    value = element.value
    if element.VR == "SQ":
        return {"Z"} if not value else {"D", "U*", "K"}
    if value in ("", b"", None):
        return {"Z"}
    if value == original:
        return {"K"}
    if element.VR == "UI" and str(value).startswith("2.25."):
        return {"U", "D"}
    return {"D"}


def _allowed(row: dict[str, Any]) -> set[str]:
    if row["options"].get("retain_patient_characteristics") == "K":
        return {"K"}
    return set(row["basic"].split("/"))


def test_every_table_row_gets_its_action_and_no_original_value_survives() -> None:
    original = profile_header()
    clean = deidentify(original, key=KEY)
    days = None
    covered = 0
    for row in LISTED:
        tag = int(row["tag"], 16)
        source = original.file_meta if tag >> 16 == 0x0002 else original
        target = clean.file_meta if tag >> 16 == 0x0002 else clean
        element = target.get(tag)
        before = source[tag].value
        if row["options"].get("retain_longitudinal_modified_dates") == "C" and _vr(tag) in ("DA", "DT", "TM"):
            # 113107: dates shifted by whole days, so times of day are kept
            assert element is not None, row["name"]
            value = str(element.value)
            if element.VR == "TM":
                assert value == TIME, row["name"]
            else:
                offset = (dt.date(int(value[:4]), int(value[4:6]), int(value[6:8])) - dt.date(2001, 2, 3)).days
                days = offset if days is None else days
                assert offset == days and -3650 <= offset <= -365, row["name"]
                assert value[8:] == (TIME if element.VR == "DT" else ""), row["name"]
        elif tag in (0x00100010, 0x00100020):
            assert str(element.value) == pseudonym(f"ORIG{0x00100020:08X}", key=KEY), row["name"]
        else:
            shown = _outcomes(row["basic"], element, before)
            assert shown & _allowed(row), f"{row['tag']} {row['name']}: {row['basic']} but got {shown}"
        covered += 1
    for pattern in (0x50003000, 0x50000005, 0x60003000, 0x60004000, 0x60023000):
        assert pattern not in clean, f"{pattern:08X}"
        covered += pattern in (0x50003000, 0x60003000, 0x60004000)  # the three repeating-group rows
    elements = _elements(clean)
    assert not any(e.tag.is_private for e in elements)
    covered += 1  # the private-attributes row
    assert 0x60000010 in clean and 0x00089124 in clean.SharedFunctionalGroupsSequence[0]  # unlisted: kept
    leaks = []
    for element in elements:
        value = element.value
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        if "ORIG" in text or DATE in text or "1.2.3." in text:
            leaks.append(f"{element.tag} {element.keyword}: {text[:40]}")
    assert leaks == []
    assert days is not None and clean.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [c.CodeValue for c in clean.DeidentificationMethodCodeSequence] == ["113100", "113107", "113108"]
    method = str(clean.DeidentificationMethod)
    assert TABLE["edition"] in method and len(method) <= 64  # LO; names the table's edition
    assert covered == len(ROWS) == 621  # every row of the 2024b table (stated in docs/building.md)
    conftest.SUMMARY.append(f"DICOM PS3.15 Table E.1-1 ({TABLE['edition']}): {covered} of {len(ROWS)} rows "
                            f"covered ({len(LISTED)} attributes written, 3 repeating groups, private attributes)")


def test_the_original_dataset_is_left_untouched() -> None:
    original = profile_header()
    before = [(e.tag, e.value) for e in _elements(original) if e.VR != "SQ"]
    deidentify(original, key=KEY)
    assert [(e.tag, e.value) for e in _elements(original) if e.VR != "SQ"] == before


def _study(patient: str, *, study_uid: str, date: str) -> Dataset:
    ds = Dataset()
    ds.PatientID, ds.PatientName, ds.StudyDate = patient, f"Doe^{patient}", date
    ds.StudyInstanceUID, ds.SOPInstanceUID = study_uid, f"{study_uid}.1"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    return ds


def test_same_key_same_pseudonym_shift_and_uid_map_across_files_and_runs() -> None:
    a = deidentify(_study("PAT-1", study_uid="1.2.3.100", date="20100105"), key=KEY)
    b = deidentify(_study("PAT-1", study_uid="1.2.3.200", date="20110105"), key=KEY)  # a second study, later file
    again = deidentify(_study("PAT-1", study_uid="1.2.3.100", date="20100105"), key=KEY)  # a rebuild
    assert a.PatientID == b.PatientID == again.PatientID and re.fullmatch(r"P[0-9a-f]{16}", str(a.PatientID))
    assert (a.StudyInstanceUID, a.SOPInstanceUID, a.StudyDate) == (again.StudyInstanceUID, again.SOPInstanceUID,
                                                                   again.StudyDate)
    assert a.StudyInstanceUID != b.StudyInstanceUID
    days = lambda ds: (dt.datetime.strptime(str(ds.StudyDate), "%Y%m%d")  # noqa: E731
                       - dt.datetime(2010, 1, 5)).days
    assert days(b) - days(a) == 365  # the interval between the patient's studies is kept
    assert a.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"  # DICOM-defined UIDs are not identifiers


def test_different_keys_give_unrelated_results_and_the_key_is_stored_nowhere() -> None:
    one = deidentify(_study("PAT-1", study_uid="1.2.3.100", date="20100105"), key=KEY)
    two = deidentify(_study("PAT-1", study_uid="1.2.3.100", date="20100105"), key=KEY + "-other")
    assert one.PatientID != two.PatientID and one.StudyInstanceUID != two.StudyInstanceUID
    assert one.SOPInstanceUID != two.SOPInstanceUID
    # an unrelated key: the two UIDs share no more leading digits than chance allows
    common = len(re.match(r"(\d*)", "".join(a if a == b else " " for a, b in
                                            zip(one.StudyInstanceUID[5:], two.StudyInstanceUID[5:]))).group(1))
    assert common < 6
    for ds in (one, two):
        assert not any(KEY in str(e.value) for e in _elements(ds))


@pytest.mark.parametrize("missing", ["PatientID", "PatientName"])
def test_pseudonym_falls_back_when_the_patient_id_is_missing(missing: str) -> None:
    ds = _study("PAT-9", study_uid="1.2.3.300", date="20100105")
    delattr(ds, missing)
    clean = deidentify(ds, key=KEY)
    assert "PAT-9" not in str(clean.PatientID) and clean.PatientName == clean.PatientID


def test_tag_helper_matches_pydicom() -> None:  # the table's tags are pydicom's: a guard for the generator script
    assert all(Tag(int(r["tag"], 16)).json_key.lower() == r["tag"] for r in LISTED)
