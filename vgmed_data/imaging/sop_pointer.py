"""Pointers to DICOM instances that name no source identifier: ``dicom-sop:`` + 32 hex digits of
SHA-256 over the instance's SOPInstanceUID.

DICOM sources lay files out by identifiers (the IDC and TCIA downloads: ``<PatientID>/<StudyInstanceUID>/
<Modality>_<SeriesInstanceUID>/...``; hospital exports often by patient name), so a relative path would publish
them. Rows built from DICOM therefore point at their slice with this pointer instead (``metadata.source_path``),
and ``vgmed hydrate`` finds the file by reading the SOPInstanceUID of every DICOM file under the local copy of
the source (:func:`resolve_sop_pointer`, one pass per source folder).

No key is involved on purpose: whoever holds the source can re-render the row (that is what the pointer is
for), and whoever does not learns nothing, because SOPInstanceUIDs of public collections are random (TCIA and
IDC replace them with fresh UIDs when they de-identify). A UID built from a guessable root, date and counter
could be recovered by trying candidates; the record ids and patient ids of rows are keyed
(:mod:`vgmed_data.builders.deid`) and never have that weakness.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PREFIX = "dicom-sop:"
_INDEX: dict[Path, dict[str, Path]] = {}
_REREAD: set[Path] = set()  # roots already re-read after a miss (a partial copy must not be re-read per row)


def sop_pointer(sop_instance_uid: str) -> str:
    return PREFIX + hashlib.sha256(f"vgmed-sop\x1f{sop_instance_uid}".encode()).hexdigest()[:32]


def is_sop_pointer(text: str) -> bool:
    return text.startswith(PREFIX)


def _sop_uid(path: Path) -> str | None:
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[0x00080018], force=True)
    except Exception:  # noqa: BLE001 - any file that pydicom cannot read is simply not a candidate
        return None
    uid = ds.get("SOPInstanceUID")
    return str(uid) if uid else None


def sop_index(root: Path, *, refresh: bool = False) -> dict[str, Path]:
    """pointer -> file for every readable DICOM file under ``root`` (hidden files skipped); built once per root
    and process unless ``refresh``."""
    key = root.resolve()
    if refresh or key not in _INDEX:
        index: dict[str, Path] = {}
        for path in sorted(p for p in key.rglob("*") if p.is_file() and not p.name.startswith(".")):
            uid = _sop_uid(path)
            if uid is not None:
                index.setdefault(sop_pointer(uid), path)
        _INDEX[key] = index
    return _INDEX[key]


def resolve_sop_pointer(root: Path, pointer: str) -> Path | None:
    """The file under ``root`` whose SOPInstanceUID gives ``pointer``; None when there is none. A miss or a
    file gone since the index was built re-reads the folder (the copy has changed); a pointer the index never
    held re-reads it once per folder and process (a copy that lacks many slices is not re-read for each)."""
    path = sop_index(root).get(pointer)
    key = root.resolve()
    stale = path is not None and not path.is_file()
    if stale or (path is None and key not in _REREAD):
        _REREAD.add(key)
        path = sop_index(root, refresh=True).get(pointer)
    return path
