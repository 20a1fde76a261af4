"""No source identifier in any file the project writes from DICOM sources.

A LIDC-style IDC download (tests/builders/miniatures.py) gets identifiers injected into every header (names,
MRNs, other ids, birth and study dates, institution, physician, station, serial, description, a private
element) and into its folder names (the IDC layout names folders by PatientID, StudyInstanceUID and
SeriesInstanceUID). Values are also planted where header text used to reach a message or a row: patient 1's UIDs
are all of the ``2.25.<n>`` form and one of its slices, which its SEG references, is missing (a missing-slice
skip); patient 3's SEG names its segment with a CodeMeaning holding a TAB and a name (a label-not-in-map skip);
patient 4's SEG has a SegmentationType holding a name (an unsupported-segmentation skip); patient 2, whose rows
are built, has a name in BodyPartExamined and in ImageType; one file is corrupt (a listing skip). Then
everything the project writes from that source is scanned, raw bytes and decoded text, Parquet cells included,
for every injected value, every original UID and date, and the de-identification key: the build folder (rows,
README, build_report.json, manifest.json, inputs.sha256), its annotations-only copy (hydrated back from the
source), the Label Studio tasks of the annotation dry run, the publishing card, the release audit's outputs, the
evaluation records of a tiny model, and every object both publishes (with images, annotations only) uploaded to the Hub-compatible server.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest

from tests.builders import miniatures as mini
from tests.fixtures.hub import HUB_ORG
from tests.fixtures.hub_server import HubServer
from vgmed_data.hub import publish_dataset
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


UNMAPPED_LABEL = "Kowalczyk\tcontour by Strangelove"  # a TAB that repr() escapes to "\\t"
SEGMENTATION_TYPE = "NOWAKOWSKI"
BODY_PART = "THORAX ZIELINSKA"
IMAGE_TYPE = ["ORIGINAL", "PRIMARY", "AXIAL", "LEWANDOWSKI"]


def _uid_225(uid: str) -> str:
    """A UID of the ``2.25.<n>`` form standing for ``uid`` (the redaction used to miss this form)."""
    return "2.25." + str(int(hashlib.sha256(uid.encode()).hexdigest()[:30], 16))


def _plant(ds: pydicom.Dataset, patient: int) -> None:
    """Patient 1: every UID in 2.25 form; patient 2: names in BodyPartExamined and ImageType; patient 4: a name as
    SegmentationType."""
    if patient == 1:
        for element in [*ds.file_meta, *ds.iterall()]:
            if element.VR == "UI" and element.value and not str(element.value).startswith("1.2.840.10008"):
                element.value = _uid_225(str(element.value))
    if patient == 2 and ds.Modality == "CT":
        ds.BodyPartExamined, ds.ImageType = BODY_PART, IMAGE_TYPE
    if patient == 4 and ds.Modality == "SEG":
        ds.SegmentationType = SEGMENTATION_TYPE


def write_identified_source(root: Path, *, planted: bool = False) -> tuple[Path, set[str]]:
    """The IDC miniature with identifiers in headers and folders; returns (source root, every original value).
    ``planted``: also the values of the module docstring (patients 3 and 4 added, patient 1's UIDs in 2.25 form,
    patient 2's BodyPartExamined and ImageType)."""
    lidc = mini.write_lidc_idc(root)
    patients = [(1, "LIDC-IDRI-0001"), (2, "LIDC-IDRI-0002")]
    if planted:
        for patient, label in ((3, UNMAPPED_LABEL), (4, "Nodule")):
            old = f"LIDC-IDRI-000{patient}"
            series = mini.write_ct_series(lidc / old / "study", patient_id=old, z=mini.LIDC_Z, seed=patient)
            with pydicom.config.disable_value_validation():  # LO holds no TAB: exactly what a careless export writes
                mini.write_seg(series, patient_id=old, segments={1: (label, label)},
                               frames=[(1, 2, mini.lidc_nodule((8, 8), 3))])
            patients.append((patient, old))
    originals: set[str] = set()
    for patient, old in patients:
        values = _identifiers(patient)
        for path in sorted((lidc / old).rglob("*.dcm")):
            ds = pydicom.dcmread(path)
            before = {str(e.value) for e in [*ds.file_meta, *ds.iterall()] if e.VR == "UI" and e.value}
            originals |= {uid for uid in before if uid in str(path)}  # patient 1's folders keep its UIDs before 2.25
            for keyword, value in values.items():
                setattr(ds, keyword, value)
            ds.private_block(0x0009, "ACME 1.0", create=True).add_new(0x01, "LO", f"PRIVMRN{patient}QX")
            if planted:
                _plant(ds, patient)
            with pydicom.config.disable_value_validation():
                ds.save_as(path)
            for element in [*ds.file_meta, *ds.iterall()]:
                if element.VR == "UI" and element.value and not str(element.value).startswith("1.2.840.10008"):
                    originals.add(str(element.value))
                if element.VR == "DA" and element.value:
                    originals.add(str(element.value))
        (lidc / old).rename(lidc / values["PatientID"])  # the IDC layout: <PatientID>/<StudyUID>/<Mod>_<SeriesUID>
        originals |= {v for k, v in values.items()} | {f"Johanna{patient}", f"PRIVMRN{patient}QX"}
    originals |= {"Kowalczyk", "Strangelove", KEY}
    if planted:
        originals |= {SEGMENTATION_TYPE, "ZIELINSKA", "LEWANDOWSKI"}
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
def outputs(tmp_path_factory: pytest.TempPathFactory, hub_server: HubServer,
            hub_token: str) -> tuple[Path, Path, set[str]]:
    from vgmed_data.annotation.dryrun import prepare_review_files
    from vgmed_data.audit import audit, write_outputs
    from vgmed_data.card import CardOptions, render_card
    from vgmed_data.eval.runner import run_demo_eval
    from vgmed_data.guards import licence_report
    from vgmed_data.pointers import hydrate, strip_images

    tmp = tmp_path_factory.mktemp("deid-scan")
    lidc, originals = write_identified_source(tmp / "idc", planted=True)
    _break(lidc)
    out = tmp / "written"
    build = out / "build"
    report = build_vgmed([("lidc-idri", lidc)], out=build, options=OPTIONS, deid_key=KEY)
    assert report["samples"] > 0
    assert report["skip_counts"] == {"lidc-idri: corrupt file": 1, "lidc-idri: label not in map": 1,
                                     "lidc-idri: missing slice": 1, "lidc-idri: unsupported segmentation": 1}
    stripped = strip_images(build, out / "annotations-only")
    assert sum(hydrate(stripped, sources={"lidc-idri": lidc}).restored.values()) > 0  # pointers resolve
    prepare_review_files(build, out=out / "review")
    card = out / "card" / "README.md"
    card.parent.mkdir()
    card.write_text(render_card(build, options=CardOptions(repo_id="org/vgmed-scan"), report=licence_report(build)))
    write_outputs(audit(build, name="build", against=[(out / "annotations-only", "stripped")]), out / "audit")
    run_demo_eval(build, tmp / "eval", limit=2)  # tiny random model; its checkpoint stays outside `out`
    shutil.copytree(tmp / "eval" / "results", out / "eval")
    for name, annotations_only in (("images", False), ("annotations-only", True)):
        repo_id = f"{HUB_ORG}/deid-scan-{name}-{uuid.uuid4().hex[:8]}"
        publish_dataset(build, repo_id=repo_id, token=hub_token, annotations_only=annotations_only)
        uploads = out / "hub" / name
        uploads.mkdir(parents=True)
        for number, path in enumerate(hub_server.stored_objects(repo_id)):  # every object uploaded, committed or not
            (uploads / f"object-{number}").write_bytes(path.read_bytes())
        for path, data in hub_server.files_at(repo_id).items():
            (uploads / "files" / path).parent.mkdir(parents=True, exist_ok=True)
            (uploads / "files" / path).write_bytes(data)
    return lidc, out, originals


def test_the_scan_finds_the_injected_identifiers_in_the_source(outputs: tuple[Path, Path, set[str]]) -> None:
    lidc, _out, originals = outputs
    found = scan(lidc, originals - {KEY})
    for needle in ("MRN4821317", "Kowalczyk", "19671121", "Saint Elsewhere Clinic", "PRIVMRN2QX", SEGMENTATION_TYPE,
                   "ZIELINSKA", "LEWANDOWSKI"):
        assert any(line.endswith(f": {needle}") for line in found), needle
    uids = {needle for needle in originals if needle.count(".") > 3 or needle.startswith("2.25.")}
    assert len(uids) > 10 and all(any(line.endswith(f": {uid}") for line in found) for uid in uids)
    assert len({uid for uid in uids if uid.startswith("2.25.")}) > 5


def test_no_written_file_holds_a_source_identifier(outputs: tuple[Path, Path, set[str]]) -> None:
    _lidc, out, originals = outputs
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    for expected in ("build/build_report.json", "build/manifest.json", "build/inputs.sha256", "build/README.md",
                     "annotations-only/build_report.json", "review/tasks.json", "card/README.md",
                     "eval/run.json", "eval/summary.md", "hub/images/files/README.md",
                     "hub/annotations-only/files/README.md", "audit/audit.json", "audit/contact_sheet.html",
                     "build/image_hashes.json"):
        assert expected in written
    assert any(n.startswith("hub/images/files/data/") for n in written)
    assert any(n.startswith("hub/annotations-only/files/data/") for n in written)
    assert any(name.endswith(".parquet") for name in written)
    records = [json.loads(line) for line in (out / "eval" / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["id"] for r in records)  # evaluation records of built rows
    assert scan(out, originals) == []
    skips = json.loads((out / "build" / "build_report.json").read_text())["skips"]
    assert sorted(s["record"].split(".")[0] if s["record"][0].isdigit() else s["record"].split(":")[0]
                  for s in skips) == ["2", "2", "2", "dicom-file"]  # keyed record ids, the file's listing place
    assert {s["reason"] for s in skips} == {"corrupt file", "label not in map", "missing slice",
                                            "unsupported segmentation"}


def test_rows_carry_only_allow_listed_dicom_values(outputs: tuple[Path, Path, set[str]]) -> None:
    from vgmed_data.folder import iter_rows
    from vgmed_data.imaging.dicom import SAFE_TAGS

    _lidc, out, _originals = outputs
    headers = [json.loads(r["metadata"])["dicom"] for r in iter_rows(out / "build", config="vgmed")]
    assert headers and all(set(h) <= set(SAFE_TAGS) for h in headers)
    assert all("BodyPartExamined" not in h and h["ImageType"] == ["ORIGINAL", "PRIMARY"] for h in headers)


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
