"""No source identifier in any file the project writes from DICOM sources.

A LIDC-style IDC download (tests/builders/miniatures.py) gets identifiers injected into every header (names,
MRNs, other ids, birth and study dates, institution, physician, station, serial, description, a private
element) and into its folder names (the IDC layout names folders by PatientID, StudyInstanceUID and
SeriesInstanceUID). One patient has a slice missing that its SEG references (the build skips it; its error names
that SOPInstanceUID) and one file is corrupt (a listing skip). Then everything the project writes from that
source is scanned, raw bytes and decoded text, Parquet cells included, for every injected value, every
original UID and date, and the de-identification key: the build folder (rows, README, build_report.json,
manifest.json, inputs.sha256), its annotations-only copy (hydrated back from the source), the Label Studio
tasks of the annotation dry run, the publishing card, and the evaluation records of a tiny model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest

from tests.builders import miniatures as mini
from vgmed_data.builders.vgmed import BuildOptions, build_vgmed

KEY = "scan-key-a81f0c2e5d"
OPTIONS = BuildOptions(min_pixels=1, min_size_mm=None, on_bad="skip", splits=(("test", 1.0),))  # evaluated rows


def _identifiers(patient: int) -> dict[str, str]:
    return {"PatientID": f"MRN48213{patient}7", "PatientName": f"Kowalczyk^Johanna{patient}",
            "PatientBirthDate": f"1967112{patient}", "StudyDate": f"2013051{patient}",
            "SeriesDate": f"2013051{patient}", "AcquisitionDate": f"2013051{patient}",
            "AccessionNumber": f"ACC99812{patient}", "OtherPatientIDs": f"OTHERID77{patient}",
            "InstitutionName": "Saint Elsewhere Clinic", "InstitutionAddress": "12 Rue Imaginaire Lyon",
            "ReferringPhysicianName": "Strangelove^Merkin", "StationName": "CTROOM7QX",
            "DeviceSerialNumber": "SN5512399QX", "StudyDescription": f"CHEST Kowalczyk visit {patient}"}


def write_identified_source(root: Path, *, unmapped_label: str | None = None) -> tuple[Path, set[str]]:
    """The IDC miniature with identifiers in headers and folders; returns (source root, every original value).
    ``unmapped_label``: a third patient whose SEG names its segment so (not in the lidc-idri label map)."""
    lidc = mini.write_lidc_idc(root)
    patients = [(1, "LIDC-IDRI-0001"), (2, "LIDC-IDRI-0002")]
    if unmapped_label is not None:
        third = mini.write_ct_series(lidc / "LIDC-IDRI-0003" / "study", patient_id="LIDC-IDRI-0003", z=mini.LIDC_Z,
                                     seed=3)
        mini.write_seg(third, patient_id="LIDC-IDRI-0003", segments={1: (unmapped_label, unmapped_label)},
                       frames=[(1, 2, mini.lidc_nodule((8, 8), 3))])
        patients.append((3, "LIDC-IDRI-0003"))
    originals: set[str] = set()
    for patient, old in patients:
        values = _identifiers(patient)
        for path in sorted((lidc / old).rglob("*.dcm")):
            ds = pydicom.dcmread(path)
            for keyword, value in values.items():
                setattr(ds, keyword, value)
            ds.private_block(0x0009, "ACME 1.0", create=True).add_new(0x01, "LO", f"PRIVMRN{patient}QX")
            ds.save_as(path)
            for element in [*ds.file_meta, *ds.iterall()]:
                if element.VR == "UI" and element.value and not str(element.value).startswith("1.2.840.10008"):
                    originals.add(str(element.value))
                if element.VR == "DA" and element.value:
                    originals.add(str(element.value))
        (lidc / old).rename(lidc / values["PatientID"])  # the IDC layout: <PatientID>/<StudyUID>/<Mod>_<SeriesUID>
        originals |= {v for k, v in values.items()} | {f"Johanna{patient}", f"PRIVMRN{patient}QX"}
    originals |= {"Kowalczyk", "Strangelove", KEY}
    return lidc, originals


def _break(lidc: Path) -> None:
    first = lidc / _identifiers(1)["PatientID"]
    seg = pydicom.dcmread(sorted(first.glob("*/SEG_*/*.dcm"))[0])
    uid = str(seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0]
              .SourceImageSequence[0].ReferencedSOPInstanceUID)
    for path in first.glob("*/CT_*/*.dcm"):
        if str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID) == uid:
            path.unlink()
    second = lidc / _identifiers(2)["PatientID"]
    (next(second.glob("*/CT_*")) / "0-Kowalczyk-20130512.dcm").write_bytes(b"not a DICOM file")


def _texts(path: Path) -> list[str]:
    data = path.read_bytes()
    texts = [data.decode("utf-8", "replace"), data.decode("latin-1")]
    if path.suffix == ".parquet":
        for row in pq.read_table(path).to_pylist():
            texts.append(json.dumps(row, default=lambda v: v.decode("latin-1") if isinstance(v, bytes) else str(v)))
    return texts


def scan(folder: Path, needles: set[str]) -> list[str]:
    """``file: needle`` for every needle found in any file under ``folder`` (names included)."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        texts = [str(path.relative_to(folder)), *_texts(path)]
        found += [f"{path.relative_to(folder)}: {needle}" for needle in sorted(needles)
                  if any(needle in text for text in texts)]
    return found


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[str]]:
    from vgmed_data.annotation.dryrun import prepare_review_files
    from vgmed_data.card import CardOptions, render_card
    from vgmed_data.eval.runner import run_demo_eval
    from vgmed_data.guards import licence_report
    from vgmed_data.pointers import hydrate, strip_images

    tmp = tmp_path_factory.mktemp("deid-scan")
    lidc, originals = write_identified_source(tmp / "idc", unmapped_label="Kowalczyk contour by Strangelove")
    _break(lidc)
    out = tmp / "written"
    build = out / "build"
    report = build_vgmed([("lidc-idri", lidc)], out=build, options=OPTIONS, deid_key=KEY)
    assert report["samples"] > 0
    assert report["skip_counts"] == {"lidc-idri: corrupt file": 1, "lidc-idri: label not in map": 1,
                                     "lidc-idri: missing slice": 1}
    stripped = strip_images(build, out / "annotations-only")
    assert sum(hydrate(stripped, sources={"lidc-idri": lidc}).restored.values()) > 0  # pointers resolve
    prepare_review_files(build, out=out / "review")
    card = out / "card" / "README.md"
    card.parent.mkdir()
    card.write_text(render_card(build, options=CardOptions(repo_id="org/vgmed-scan"), report=licence_report(build)))
    run_demo_eval(build, tmp / "eval", limit=2)  # tiny random model; its checkpoint stays outside `out`
    shutil.copytree(tmp / "eval" / "results", out / "eval")
    return lidc, out, originals


def test_the_scan_finds_the_injected_identifiers_in_the_source(outputs: tuple[Path, Path, set[str]]) -> None:
    lidc, _out, originals = outputs
    found = scan(lidc, originals - {KEY})
    for needle in ("MRN4821317", "Kowalczyk", "19671121", "Saint Elsewhere Clinic", "PRIVMRN2QX"):
        assert any(line.endswith(f": {needle}") for line in found), needle
    uids = {needle for needle in originals if needle.count(".") > 3}
    assert len(uids) > 10 and all(any(line.endswith(f": {uid}") for line in found) for uid in uids)


def test_no_written_file_holds_a_source_identifier(outputs: tuple[Path, Path, set[str]]) -> None:
    _lidc, out, originals = outputs
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    for expected in ("build/build_report.json", "build/manifest.json", "build/inputs.sha256", "build/README.md",
                     "annotations-only/build_report.json", "review/tasks.json", "card/README.md",
                     "eval/run.json", "eval/summary.md"):
        assert expected in written
    assert any(name.endswith(".parquet") for name in written)
    records = [json.loads(line) for line in (out / "eval" / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["id"] for r in records)  # evaluation records of built rows
    assert scan(out, originals) == []
    skips = json.loads((out / "build" / "build_report.json").read_text())["skips"]
    assert sorted(s["record"].split(".")[0] if s["record"][0].isdigit() else s["record"].split(":")[0]
                  for s in skips) == ["2", "2", "dicom-file"]  # pseudonymous record ids, the file's listing place
    assert any("<unmapped label>" in s["detail"] for s in skips)


def _ids(folder: Path) -> list[tuple[str, str, str]]:
    from vgmed_data.folder import iter_rows

    return sorted((r["patient_id"], r["source_id"], json.loads(r["metadata"])["case_id"])
                  for r in iter_rows(folder, config="vgmed"))


def test_builds_with_one_key_agree_and_another_key_shares_no_pseudonym(tmp_path: Path) -> None:
    from vgmed_data.imaging.deid import pseudonym

    lidc, _originals = write_identified_source(tmp_path / "idc")
    small = BuildOptions(min_pixels=1, min_size_mm=None)
    for name, key in (("a", KEY), ("b", KEY), ("c", KEY + "-other")):
        build_vgmed([("lidc-idri", lidc)], out=tmp_path / name, options=small, deid_key=key)
    a, b, c = (_ids(tmp_path / name) for name in "abc")
    assert a == b and {p for p, _, _ in a} == {pseudonym(_identifiers(n)["PatientID"], key=KEY) for n in (1, 2)}
    assert not {v for row in a for v in row} & {v for row in c for v in row}
    for name in "abc":  # the key is stored nowhere
        assert scan(tmp_path / name, {KEY}) == []


def test_build_sequences_refuses_a_dicom_source_before_reading_it(tmp_path: Path) -> None:
    """Its records would carry the original PatientID and StudyInstanceUID (as case ids in skips and rows)."""
    import subprocess
    import sys

    lidc, _originals = write_identified_source(tmp_path / "idc")
    done = subprocess.run([sys.executable, "-m", "vgmed_data.cli", "build", "sequences", "--source",
                           f"lidc-idri={lidc}", "--out", str(tmp_path / "seq"), "--on-bad", "skip"],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "lidc-idri is DICOM" in done.stderr and not (tmp_path / "seq").exists()
    assert "Traceback" not in done.stderr
