"""The de-identification key of a build, and pseudonymous identifiers for DICOM-derived records.

Rows built from DICOM carry a keyed pseudonym as ``patient_id`` (:func:`vgmed_data.imaging.deid.pseudonym`) and
keyed replacement UIDs (``2.25.…``) as record and case ids, the same ones :func:`~vgmed_data.imaging.deid.deidentify`
gives the headers. The key is a secret of the dataset team: the same key gives the same pseudonyms on every
rebuild, and without it nobody can link a pseudonym back to a PatientID by trying candidate ids. It therefore
comes from the user (``--deid-key`` or the ``VGMED_DEID_KEY`` environment variable) and is never generated and
never written to the manifest, the report or the rows (all of which get published).
"""

from __future__ import annotations

import dataclasses
import os

from vgmed_data.errors import InvalidInputError
from vgmed_data.imaging.deid import pseudonym, replace_uid

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
