from __future__ import annotations

import json
import re

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest

from vgmed_data.builders.entry import Download, Label, Registry
from vgmed_data.builders.sources import REGISTRY, all_entries, get_entry
from vgmed_data.builders.fetch import fetch, verify
from vgmed_data.cli import main
from vgmed_data.errors import InvalidInputError, SourceNotFoundError
from vgmed_data.schema import MODALITIES


def test_catalogue_has_at_least_12_sources_over_6_modalities() -> None:
    entries = all_entries()
    assert len(entries) >= 12
    assert len({e.modality for e in entries} & set(MODALITIES)) >= 6
    for entry in entries:
        assert entry.license and entry.license_url and entry.layout_confirmed_at and entry.citation
        assert entry.downloads or entry.instructions
        for download in entry.downloads:
            assert download.checksum is None or download.checksum.split(":")[0] in ("md5", "sha256")


def test_registry_refuses_duplicates_and_suggests_names() -> None:
    registry = Registry()
    entry = get_entry("msd-spleen")
    registry.add(entry)
    with pytest.raises(InvalidInputError, match="registered twice"):
        registry.add(entry)
    with pytest.raises(SourceNotFoundError, match="did you mean 'msd-spleen'"):
        REGISTRY.get("msd-splen")
    with pytest.raises(InvalidInputError, match="kind"):
        Label(target="x", body_part="y", kind="tumor")


def test_sources_list_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "list"]) == 0
    out = capsys.readouterr().out
    assert "msd-spleen" in out and "CC-BY-SA-4.0" in out and "kvasir-seg" in out
    assert "17 sources" in out or "sources, modalities" in out
    cells = {line.split()[0]: re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip()}
    # the column says what `vgmed publish` will do: the guard refuses LicenseRef-* licences (NIH ChestX-ray14),
    # licences read only at a catalogue (ISIC 2018: CC BY-NC at dataset-ninja) and conflicting ones (BUSI), and
    # publishes CC-BY-SA MSD images; each row names the licence status and where the licence was read
    column = cells["KEY"].index("IMAGES PUBLISHED")
    assert cells["nih-cxr14-bbox"][column] == "no (licence not on the guard's list)"
    assert cells["isic2018-task1"][column] == "no (licence secondary: not read at the source)"
    assert cells["msd-spleen"][column] == "yes" and cells["busi"][column] == "no (licence conflicting)"
    status, read_at = cells["KEY"].index("STATUS"), cells["KEY"].index("LICENCE READ AT")
    assert (cells["msd-spleen"][status], cells["msd-spleen"][read_at]) == ("stated", "http://medicaldecathlon.com/")
    assert cells["montgomery"][status] == "unknown"
    assert cells["kits23"][cells["KEY"].index("SPLIT UNIT")] == "patient"


def test_sources_list_json_states_what_publish_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "list", "--json"]) == 0
    entries = {e["key"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["nih-cxr14-bbox"]["redistributable"] is False
    assert entries["nih-cxr14-bbox"]["images_publishable"] is False
    assert entries["msd-spleen"]["images_publishable"] is True
    assert entries["msd-spleen"]["license_status"] == "stated"
    assert "CC-BY-SA 4.0" in entries["msd-spleen"]["license_url"]
    assert entries["msd-spleen"]["split_units"] == ["volume"]
    for entry in entries.values():
        assert entry["license_status"] in ("stated", "secondary", "conflicting", "unknown")
        assert entry["split_unit"] in ("patient", "study", "volume", "image", "video", "centre")


@pytest.mark.parametrize(("license", "status", "expected"), [
    ("CC-BY-4.0", "stated", True), ("CC-BY-NC-SA-4.0", "stated", True),
    ("CC-BY-4.0", "secondary", False), ("CC-BY-4.0", "conflicting", False), ("CC0-1.0", "unknown", False),
    ("CC-BY-NC-ND-4.0", "stated", False), ("LicenseRef-terms-of-use", "stated", False)])
def test_redistributable_follows_the_licence_and_its_status(license: str, status: str, expected: bool) -> None:
    entry = dataclasses.replace(get_entry("msd-spleen"), license=license, license_status=status)
    assert entry.redistributable is expected
    with pytest.raises(TypeError):  # no entry can declare it by hand
        dataclasses.replace(get_entry("msd-spleen"), redistributable=True)


def test_entries_refuse_unknown_licence_status_and_split_unit() -> None:
    with pytest.raises(InvalidInputError, match="licence status 'cc-by' is not one of stated, secondary"):
        dataclasses.replace(get_entry("msd-spleen"), license_status="cc-by")
    with pytest.raises(InvalidInputError, match="split unit 'hospital' is not one of patient"):
        dataclasses.replace(get_entry("msd-spleen"), other_split_units=("hospital",))


def test_verify_names_what_is_missing(sources: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    for key, root in sources.items():
        assert verify(get_entry(key), root).ok, key
    (tmp_path / "Task09_Spleen").mkdir()
    result = verify(get_entry("msd-spleen"), tmp_path / "Task09_Spleen")
    assert result.missing == ["dataset.json", "imagesTr", "labelsTr"]
    assert main(["sources", "verify", "msd-spleen", str(tmp_path / "Task09_Spleen")]) == 1
    assert "missing dataset.json, imagesTr, labelsTr" in capsys.readouterr().out


def test_fetch_downloads_and_checks_checksums(tmp_path: Path) -> None:
    payload = tmp_path / "remote" / "Task09_Spleen.tar"
    payload.parent.mkdir()
    payload.write_bytes(b"miniature archive" * 100)
    good = hashlib.sha256(payload.read_bytes()).hexdigest()
    entry = dataclasses.replace(get_entry("msd-spleen"), downloads=(
        Download(url=payload.as_uri(), filename="Task09_Spleen.tar", checksum=f"sha256:{good}"),))
    [path] = fetch(entry, tmp_path / "dest", out=open("/dev/null", "w"))
    assert path.read_bytes() == payload.read_bytes()
    archive = str(tmp_path / "dest" / "Task09_Spleen.tar")
    assert verify(entry, tmp_path / "dest").checksums == {archive: "ok"}
    bad = dataclasses.replace(entry, downloads=(dataclasses.replace(entry.downloads[0], checksum="md5:" + "0" * 32),))
    with pytest.raises(InvalidInputError, match="checksum mismatch"):
        fetch(bad, tmp_path / "dest", out=open("/dev/null", "w"))


def test_fetch_prints_steps_when_registration_is_needed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["sources", "fetch", "nih-cxr14-bbox", "--dest", str(tmp_path)]) == 0
    assert "BBox_List_2017.csv" in capsys.readouterr().out


def test_docs_sources_page_holds_the_generated_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/sources.md carries `vgmed sources list --markdown` verbatim (regenerate it after adding an entry)."""
    from vgmed_data.builders.catalogue import BEGIN, END

    assert main(["sources", "list", "--markdown"]) == 0
    generated = capsys.readouterr().out
    page = (Path(__file__).resolve().parents[2] / "docs" / "sources.md").read_text()
    start = page.index(BEGIN)
    assert page[start: page.index(END) + len(END) + 1] == generated, (
        "docs/sources.md is stale: replace its catalogue part with `vgmed sources list --markdown`")
    for entry in all_entries():
        assert f"### `{entry.key}`" in generated and f"({entry.license_status}), read at" in generated


def test_verify_checks_the_archive_beside_the_extracted_folder_and_says_which(
        sources: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 32 item 5: `fetch --dest DIR` leaves the archive in DIR and the README verifies DIR/Task09_Spleen, so
    the archive one level up was never checked. Now it is, given the folder or the archive, and named."""
    extracted = tmp_path / "dest" / "Task09_Spleen"
    shutil.copytree(sources["msd-spleen"], extracted)
    archive = tmp_path / "dest" / "Task09_Spleen.tar"
    archive.write_bytes(b"miniature archive" * 100)
    good = hashlib.sha256(archive.read_bytes()).hexdigest()
    entry = dataclasses.replace(get_entry("msd-spleen"), downloads=(
        Download(url="https://example.org/Task09_Spleen.tar", filename="Task09_Spleen.tar", checksum=f"sha256:{good}"),))
    assert verify(entry, extracted).checksums == {str(archive): "ok"} and verify(entry, extracted).ok
    given_archive = verify(entry, archive)
    assert given_archive.checksums == {str(archive): "ok"} and not given_archive.layout_checked
    archive.write_bytes(b"damaged")
    assert verify(entry, extracted).checksums == {str(archive): "MISMATCH"} and not verify(entry, extracted).ok
    assert main(["sources", "verify", "msd-spleen", str(archive)]) == 1  # the real entry's checksum: mismatch too
    out = capsys.readouterr().out
    assert f"checksum of {archive}: MISMATCH" in out and "layout not checked" in out
    archive.unlink()
    assert main(["sources", "verify", "msd-spleen", str(extracted)]) == 0
    assert "no archive checked (Task09_Spleen.tar not found in" in capsys.readouterr().out
