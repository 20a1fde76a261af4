"""dicom-sop: pointers: keyless, no identifier in them, found again by the SOPInstanceUIDs under a folder."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file

from vgmed_data.imaging.sop_pointer import resolve_sop_pointer, sop_pointer


def test_pointer_is_a_hash_of_the_uid_and_finds_the_file_wherever_it_moves(tmp_path: Path) -> None:
    source = Path(get_testdata_file("CT_small.dcm", download=False))
    uid = str(pydicom.dcmread(source, stop_before_pixels=True).SOPInstanceUID)
    pointer = sop_pointer(uid)
    assert pointer == "dicom-sop:" + hashlib.sha256(f"vgmed-sop\x1f{uid}".encode()).hexdigest()[:32]
    assert uid not in pointer
    root = tmp_path / "copy"
    first = root / "Doe^John" / "1.2.3" / "slice.dcm"
    first.parent.mkdir(parents=True)
    shutil.copy(source, first)
    (root / "notes.txt").write_text("not DICOM")
    assert resolve_sop_pointer(root, pointer) == first.resolve()
    assert resolve_sop_pointer(root, sop_pointer("1.2.3.4.5")) is None
    moved = root / "elsewhere.dcm"
    first.rename(moved)  # the copy changed since the folder was indexed: looked up again
    assert resolve_sop_pointer(root, pointer) == moved.resolve()
