"""The de-identification key of a build, and pseudonymous identifiers for DICOM-derived records.

Rows built from DICOM carry a keyed pseudonym as ``patient_id`` (:func:`vgmed_data.imaging.deid.pseudonym`) and
keyed replacement UIDs (``2.25.…``) as record and case ids, the same ones :func:`~vgmed_data.imaging.deid.deidentify`
gives the headers. The key is a secret of the dataset team: the same key gives the same pseudonyms on every
rebuild, and without it nobody can link a pseudonym back to a PatientID by trying candidate ids. It therefore
comes from the user (``--deid-key`` or the ``VGMED_DEID_KEY`` environment variable) and is never generated and
never written to the manifest, the report or the rows (all of which get published).

Reports name DICOM files and records the same way: a skip's record is the pseudonymised record id (or the file's
:mod:`~vgmed_data.imaging.sop_pointer`), and its detail text has every file path replaced by that pointer and
every UID (``2.25.<n>`` included) replaced by its keyed replacement (:func:`redact_skip`). That redaction is the second net:
the messages the DICOM readers raise never quote header values in the first place (no UID, code meaning, segment
label or segmentation type; slices and files are named by pointer, segments by number). The terminal still shows the real paths
(``--on-bad warn`` and the ``error`` policy print the original error), so the user can find the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path

from vgmed_data.errors import InvalidInputError
from vgmed_data.imaging.deid import pseudonym, replace_uid

from vgmed_data.builders.policy import Skip
from vgmed_data.builders.records import SourceRecord

KEY_ENV = "VGMED_DEID_KEY"


def resolve_key(explicit: str | None) -> str | None:
    """``explicit`` if given, else ``$VGMED_DEID_KEY``, else None."""
    key = explicit if explicit is not None else os.environ.get(KEY_ENV)
    return key or None


def require_key(key: str | None, *, sources: list[str]) -> str:
    if not key:
        raise InvalidInputError(
            f"source(s) {', '.join(sources)} are DICOM: their rows need a de-identification key",
            fix=f"set {KEY_ENV} (or pass --deid-key KEY) to a long random secret that your team keeps, and reuse it "
                "for every rebuild. It keys the pseudonymous patient ids, shifted dates and replacement UIDs, so "
                "the same patient gets the same pseudonym across builds while nobody without the key can link it "
                "back; the toolkit never generates or stores one, because the manifest is published")
    return key


def pseudonymise(record: SourceRecord, *, key: str) -> SourceRecord:
    """The record with its patient, case and record ids replaced by keyed pseudonyms."""
    return dataclasses.replace(record, patient_id=pseudonym(record.patient_id, key=key),
                               case_id=replace_uid(record.case_id, key=key) if record.case_id else "",
                               record_id=replace_uid(record.record_id, key=key))


# A UID in free text: dotted decimal with at least four components (version numbers have three at most), or any
# UID under the UUID-derived root 2.25 (three components: ``2.25.<up to 39 digits>``).
_UID = re.compile(r"(?<![\d.])(?:2\.25\.[0-9]+|[0-9]+(?:\.[0-9]+){3,})(?![\d.])")


# A UID component of this many digits or more holds at least 64 bits, more than a date, time or counter do.
RANDOM_DIGITS = 20


def guessable_uid(uid: str) -> bool:
    """Whether ``uid`` looks built from a root, dates and counters (no component of :data:`RANDOM_DIGITS` digits
    or more), so that its unkeyed :mod:`~vgmed_data.imaging.sop_pointer` could be inverted by trying candidates.
    The UIDs of TCIA/IDC downloads end in a long random number; a scanner's own UIDs usually do not."""
    return bool(uid) and all(len(part) < RANDOM_DIGITS for part in uid.split("."))


def record_names(record: SourceRecord) -> dict[str, str]:
    """What a DICOM record's files are called in reports: absolute path, and file name, -> pointer."""
    names = {path: pointer for path, pointer in record.image.series}
    names.update({region.mask_path: region.mask_source_path for region in record.regions
                  if region.mask_path and region.mask_source_path})
    names.update({Path(path).name: pointer for path, pointer in list(names.items())})
    return names


def _spellings(text: str) -> set[str]:
    """``text`` as a message may quote it: as is, escaped by ``repr`` (a TAB becomes ``\\t``) and by JSON."""
    return {text, repr(text)[1:-1], json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]} - {""}


def redact_text(text: str, *, names: Mapping[str, str], key: str | None = None,
                keep: Collection[str] = ()) -> str:
    """``text`` with each of ``names`` (longest first) replaced by its pointer and, with ``key``, every UID not
    in ``keep`` (already pseudonymous ids) by its keyed replacement."""
    spellings = {form: names[original] for original in names for form in _spellings(original)}
    for original in sorted(spellings, key=len, reverse=True):
        text = text.replace(original, spellings[original])
    if key is not None:
        text = _UID.sub(lambda m: m.group(0) if m.group(0) in keep else replace_uid(m.group(0), key=key), text)
    return text


def redact_skip(skip: Skip, *, names: Mapping[str, str], key: str | None = None, keep: Collection[str] = ()) -> Skip:
    """The skip as a report may show it (see the module docstring)."""
    return dataclasses.replace(skip, record=redact_text(skip.record, names=names, key=key, keep=keep),
                               detail=None if skip.detail is None else redact_text(skip.detail, names=names, key=key,
                                                                                  keep=keep))
