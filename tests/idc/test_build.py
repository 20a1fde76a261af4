"""IDC downloads built through the CLI: CT + SEG, MR + LABELMAP SEG and CT + RTSTRUCT miniatures in IDC's
folder hierarchy, with identifying values planted in every header and in the folder names; per-row licences
through the guard; and a sharded build merged back into the single-machine build's bytes."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("idc_index_data", reason="the idc extra is not installed")

from tests.builders.test_deid_outputs import scan  # noqa: E402
from tests.idc import miniature as mini  # noqa: E402
from vgmed_data.builders.records import patient_part  # noqa: E402
from vgmed_data.builders.sources.idc import combined_license  # noqa: E402
from vgmed_data.cli import main  # noqa: E402
from vgmed_data.folder import iter_rows  # noqa: E402
from vgmed_data.guards import licence_report  # noqa: E402

KEY = "idc-test-key-5c1e9b"
NLM = "National Library of Medicine Terms and Conditions; May 21, 2019"
PATIENTS = {"MRN5512081": ("mini_ct", "ct-seg"), "MRN5512082": ("mini_ct", "ct-rtstruct"),
            "MRN5512083": ("mini_mr", "mr-labelmap"), "MRN5512087": ("mini_ct", "ct-seg")}  # parts of 3: 0, 0, 2, 1
FLAGS = ["--min-pixels", "1", "--min-size-mm", "0", "--on-bad", "skip", "--splits", "train=0.5,test=0.5"]


def _identifiers(patient: str) -> dict[str, str]:
    tail = patient[-1]
    return {"PatientName": f"Wierzbicka^Aniela{tail}", "PatientBirthDate": f"1958030{tail}",
            "OtherPatientIDs": f"OTHERMRN90{tail}", "InstitutionName": "Hopital Imaginaire Tulle",
            "ReferringPhysicianName": "Quatermass^Bernard", "StudyDate": f"2011090{tail}",
            "AccessionNumber": f"ACCX7731{tail}", "StudyDescription": f"Wierzbicka follow-up {tail}"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("idc-build")
    download = tmp / "download"
    for collection, licenses in (("mini_ct", {"MRN5512082": NLM}), ("mini_mr", {"MRN5512083": "CC BY-NC 3.0"})):
        kinds = {p: kind for p, (c, kind) in PATIENTS.items() if c == collection}
        mini.write_collection(download, collection=collection, kinds=kinds, seed=len(collection),
                              identifiers={p: _identifiers(p) for p in kinds}, licenses=licenses)
    assert main(["build", "vgmed", "--source", f"idc={download}", "--deid-key", KEY, *FLAGS,
                 "--out", str(tmp / "single")]) == 0
    for index in range(3):  # each part from a copy holding only its own patients' folders, as on its own machine
        own = tmp / f"download{index}"
        shutil.copytree(download, own)
        for patient in own.glob("*/*"):
            if patient.is_dir() and patient_part(f"{patient.parent.name}/{patient.name}", 3) != index:
                shutil.rmtree(patient)
        assert main(["build", "vgmed", "--source", f"idc={own}", "--deid-key", KEY, *FLAGS, "--shard", f"{index}/3",
                     "--out", str(tmp / f"part{index}")]) == 0
    assert main(["build", "merge", *(str(tmp / f"part{i}") for i in (2, 0, 1)), "--out", str(tmp / "merged")]) == 0
    return {"download": download, "single": tmp / "single", "merged": tmp / "merged", "tmp": tmp}


def _report(folder: Path) -> dict:
    return json.loads((folder / "build_report.json").read_text())


def test_every_annotation_kind_gives_its_targets(built: dict[str, Path]) -> None:
    report = _report(built["single"])
    # 2 CT+SEG patients (liver on 3 slices each: 1 slice per target), RTSTRUCT (GTV-1, Heart), MR LABELMAP (2)
    assert set(report["by_target"]) == {
        "CT/liver", "CT/gross tumour volume", "CT/heart", "MR/prostate", "MR/lesion"}
    rows = list(iter_rows(built["single"], config="vgmed"))
    assert {r["modality"] for r in rows if r["target"] in ("prostate", "lesion")} == {"MR"}
    assert len({r["patient_id"] for r in rows}) == len(PATIENTS)
    # the RTSTRUCT's couch structure is not in the target table: one counted skip, its free-text name not quoted
    assert report["skip_counts"] == {"idc: label not in map": 1}
    (skip,) = report["skips"]
    assert "1 ROI(s)" in skip["detail"] and "Couch" not in json.dumps(report)


def test_each_row_carries_its_series_licence_and_the_guard_decides_per_row(built: dict[str, Path]) -> None:
    rows = list(iter_rows(built["single"], config="vgmed"))
    by_target = {}
    for row in rows:
        by_target.setdefault(row["target"], set()).add((row["license"], row["redistributable"]))
    assert by_target["liver"] == {("CC-BY-4.0", True)}
    assert by_target["prostate"] == by_target["lesion"] == {("CC-BY-NC-3.0", True)}
    nlm = {("LicenseRef-IDC-National-Library-of-Medicine-Terms-and-Conditions-May-21-2019", False)}
    assert by_target["heart"] == by_target["gross tumour volume"] == nlm
    report = licence_report(built["single"])
    assert report.restricted_rows == {"idc": sum(1 for r in rows if r["target"] in ("heart", "gross tumour volume"))}
    card = (built["single"] / "README.md").read_text()
    assert "mini_ct, mini_mr" in card and "Miniature mini_mr (2026) vgmed-data tests" in card


def test_a_row_from_series_under_different_licences_takes_the_most_restrictive() -> None:
    assert combined_license(["CC BY 4.0", "CC BY 4.0"]) == "CC-BY-4.0"
    assert combined_license(["CC BY-NC 3.0", "CC BY 4.0"]) == "CC-BY-NC-3.0"
    assert combined_license(["CC BY 4.0", NLM]).startswith("LicenseRef-IDC-National-Library")


def test_no_planted_identifier_reaches_any_written_file(built: dict[str, Path]) -> None:
    needles = {KEY, "Wierzbicka", "Aniela", "Quatermass", "Hopital Imaginaire", "OTHERMRN90", "ACCX7731",
               *PATIENTS, *(f"2011090{p[-1]}" for p in PATIENTS), *(f"1958030{p[-1]}" for p in PATIENTS)}
    import pydicom

    originals = set()
    for path in built["download"].rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        originals |= {str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)}
    assert scan(built["download"], needles)  # the scan finds what was planted in the source
    for name in ("single", "merged", "part0"):
        assert scan(built[name] if name in built else built["tmp"] / name, needles | originals) == []


def test_shards_merged_equal_the_single_machine_build_byte_for_byte(built: dict[str, Path]) -> None:
    single, merged = built["single"], built["merged"]
    files = sorted(p.relative_to(single) for p in single.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(merged) for p in merged.rglob("*") if p.is_file())
    assert files and all(filecmp.cmp(single / f, merged / f, shallow=False) for f in files), [
        str(f) for f in files if not filecmp.cmp(single / f, merged / f, shallow=False)]
    parts = [json.loads((built["tmp"] / f"part{i}" / "part.json").read_text()) for i in range(3)]
    assert sum(p["records"] for p in parts) == _report(single)["records"]["idc"]
    assert all(p["records"] for p in parts)  # the four patients fall into every part here


def test_merge_refuses_an_incomplete_or_mixed_set_of_parts(built: dict[str, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    tmp = built["tmp"]
    assert main(["build", "merge", str(tmp / "part0"), str(tmp / "part1"), "--out", str(tmp_path / "a")]) == 2
    assert "missing: [2]" in capsys.readouterr().err and not (tmp_path / "a").exists()
    other = tmp_path / "other"
    assert main(["build", "vgmed", "--source", f"idc={built['download']}", "--deid-key", KEY, *FLAGS, "--seed", "1",
                 "--shard", "2/3", "--out", str(other)]) == 0
    assert main(["build", "merge", str(tmp / "part0"), str(tmp / "part1"), str(other),
                 "--out", str(tmp_path / "b")]) == 2
    assert "another build" in capsys.readouterr().err
    assert main(["build", "vgmed", "--source", f"idc={built['download']}", "--deid-key", KEY, "--shard", "3/3",
                 "--out", str(tmp_path / "c")]) == 2


@pytest.mark.parametrize("depth", [0, 1])
def test_a_part_walks_only_its_patients_folders_and_finds_what_filtering_the_whole_listing_finds(
        built: dict[str, Path], tmp_path: Path, depth: int) -> None:
    from vgmed_data.builders.sources import get_entry

    root = tmp_path / "dl"
    shutil.copytree(built["download"], root, symlinks=True)
    linked = tmp_path / "elsewhere"  # a patient folder and a collection reached through links: `**` skips both
    shutil.copytree(next(p for p in (root / "mini_ct").iterdir() if p.is_dir()), linked / "MRN0000001")
    (root / "mini_ct" / "MRN0000009").symlink_to(linked / "MRN0000001", target_is_directory=True)
    (root / "mini_link").symlink_to(linked, target_is_directory=True)
    (root / "stray.dcm").write_bytes(b"x")  # files outside any patient folder fall to the part of patient ""
    (root / "mini_ct" / "stray.dcm").write_bytes(b"x")
    top = root / "mini_ct" if depth == 0 else root
    reader = get_entry("idc").reader
    whole = sorted(p for p in top.glob("**/*.dcm"))
    seen: list[Path] = []
    for index in range(3):
        part = reader.shard_filter(top, index=index, count=3)
        assert part.depth == depth
        walked = sorted(part.walk("**/*.dcm"))
        assert walked == [p for p in whole if part(p)]
        seen += walked
    assert sorted(seen) == whole and not any("MRN0000009" in str(p) or "mini_link" in str(p) for p in whole)
