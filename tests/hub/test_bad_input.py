"""Publishing refuses bad input before anything reaches the Hub, with one-line errors naming the fix."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.fixtures.hub_server import HubServer
from tests.hub.tiny import MANIFEST, grounding_rows, make_folder
from vgmed_data.cli import main
from vgmed_data.errors import InvalidInputError, PublishRefusedError, SchemaError
from vgmed_data.writer import write_config
from vgmed_data.guards import allows_image_redistribution, metadata_phi
from vgmed_data.hub import MAX_CARD_BYTES, check_repo_id, publish_dataset

pytestmark = pytest.mark.hub


def test_folder_failing_validation_is_refused(tmp_path: Path, hub_server: HubServer, hub_token: str,
                                              hub_repo_id: str) -> None:
    rows = [sample.to_row() for sample in grounding_rows(count=2)]
    rows[1]["width"] = 999  # the stored image is 24 px wide
    write_config(tmp_path / "bad", rows, config="vgmed")
    with pytest.raises(SchemaError, match="fails validation .*999"):
        publish_dataset(tmp_path / "bad", repo_id=hub_repo_id, token=hub_token)
    assert not hub_server.exists(hub_repo_id)


@pytest.mark.parametrize("repo_id", ["no-namespace", "org/bad--name", "org/", "a/b/c", "org/-lead", "org/x" * 30,
                                     "org/name with space"])
def test_invalid_repository_name_is_refused(repo_id: str, tmp_path: Path, hub_server: HubServer,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidInputError, match="invalid repository name"):
        check_repo_id(repo_id)
    folder = make_folder(tmp_path / "f", grounding=grounding_rows(count=2))
    assert main(["publish", str(folder), "--repo", repo_id, "--token", "unused"]) == 2
    assert "invalid repository name" in capsys.readouterr().err


def test_refused_token_is_reported_without_the_token(tmp_path: Path, hub_server: HubServer, hub_repo_id: str,
                                                      hub_read_token: str) -> None:
    folder = make_folder(tmp_path / "f", grounding=grounding_rows(count=2))
    bogus = "hf_not_a_real_token_0123456789"
    with pytest.raises(PublishRefusedError, match="refused the token") as refused:
        publish_dataset(folder, repo_id=hub_repo_id, token=bogus)
    assert bogus not in str(refused.value)
    with pytest.raises(PublishRefusedError, match="403") as forbidden:
        publish_dataset(folder, repo_id=hub_repo_id, token=hub_read_token)
    assert hub_read_token not in str(forbidden.value)
    assert not hub_server.exists(hub_repo_id)


def test_missing_token_is_refused(tmp_path: Path, hub_server: HubServer, hub_repo_id: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    folder = make_folder(tmp_path / "f", grounding=grounding_rows(count=2))
    with pytest.raises(PublishRefusedError, match="no Hugging Face token"):
        publish_dataset(folder, repo_id=hub_repo_id)


def test_unknown_licence_counts_as_not_redistributable(tmp_path: Path, hub_server: HubServer, hub_token: str,
                                                       hub_repo_id: str) -> None:
    rows = grounding_rows(source="mystery", license="custom-terms-v2", redistributable=True, count=2)
    folder = make_folder(tmp_path / "f", grounding=rows)
    with pytest.raises(PublishRefusedError, match=r"mystery \(2 rows, licence custom-terms-v2\)"):
        publish_dataset(folder, repo_id=hub_repo_id, token=hub_token)
    assert not hub_server.exists(hub_repo_id)
    assert not allows_image_redistribution(license="custom-terms-v2", redistributable=True)
    assert not allows_image_redistribution(license="CC-BY-NC-ND-4.0", redistributable=True)
    assert not allows_image_redistribution(license="CC-BY-4.0", redistributable=False)
    assert allows_image_redistribution(license="cc-by-sa-4.0", redistributable=True)
    # annotations only goes through, gated
    result = publish_dataset(folder, repo_id=hub_repo_id, token=hub_token, annotations_only=True)
    assert result.gated and hub_server.repo(hub_repo_id).meta()["gated"] == "manual"


def test_card_larger_than_the_hub_accepts_is_refused_before_upload(tmp_path: Path, hub_server: HubServer,
                                                                   hub_token: str, hub_repo_id: str) -> None:
    long_citation = "A very long citation. " * (MAX_CARD_BYTES // 20)
    manifest = replace(MANIFEST, sources=tuple(replace(s, citation=long_citation) if s.key == "opensrc" else s
                                               for s in MANIFEST.sources))
    folder = make_folder(tmp_path / "f", grounding=grounding_rows(count=2), manifest=manifest)
    with pytest.raises(InvalidInputError, match="dataset card would be .* bytes"):
        publish_dataset(folder, repo_id=hub_repo_id, token=hub_token)
    assert not hub_server.exists(hub_repo_id)


def test_phi_in_metadata_is_refused_naming_the_rows(tmp_path: Path, hub_server: HubServer, hub_token: str,
                                                    hub_repo_id: str) -> None:
    rows = grounding_rows(count=3, metadata={"dicom": {"PatientName": "DOE^JANE", "Modality": "CT"}})
    folder = make_folder(tmp_path / "f", grounding=rows)
    with pytest.raises(PublishRefusedError, match="PHI guard .* 3 row.*dicom.PatientName") as refused:
        publish_dataset(folder, repo_id=hub_repo_id, token=hub_token, annotations_only=True)
    assert rows[0].id in str(refused.value) and "DOE^JANE" not in str(refused.value)
    assert not hub_server.exists(hub_repo_id)


def test_image_from_dicom_that_was_not_deidentified_is_refused(tmp_path: Path, hub_server: HubServer,
                                                               hub_token: str, hub_repo_id: str) -> None:
    rows = grounding_rows(count=1, image_origin="dicom") + grounding_rows(source="other", count=1,
                                                                         image_origin="dicom-deidentified")
    folder = make_folder(tmp_path / "f", grounding=rows)
    with pytest.raises(PublishRefusedError, match="1 row.*not de-identified") as refused:
        publish_dataset(folder, repo_id=hub_repo_id, token=hub_token)
    assert rows[0].id in str(refused.value) and rows[1].id not in str(refused.value)


def test_metadata_phi_rules() -> None:
    assert metadata_phi({"patient_name": "X", "(0010,0020)": "123", "InstitutionName": "General"}) == [
        "patient_name", "(0010,0020)", "InstitutionName"]
    assert metadata_phi({"PatientName": "", "PatientID": None, "Modality": "CT", "Rows": 512}) == []
    assert metadata_phi({"PatientIdentityRemoved": "YES", "StudyDate": "20100101"}) == []
    assert metadata_phi({"StudyDate": "20100101"}) == ["StudyDate"]
    assert metadata_phi({"SeriesInstanceUID": "2.25.1234"}) == []
    assert metadata_phi({"SeriesInstanceUID": "1.3.6.1.4.1.9328.50.1.1"}) == ["SeriesInstanceUID"]
    assert metadata_phi({"frames": [{"00100010": "A^B"}]}) == ["frames[0].00100010"]


def test_metadata_phi_reads_patient_identity_removed_where_it_sits() -> None:
    # The builders nest the de-identified header under metadata["dicom"] (builders/loading.py).
    deidentified = {"dicom": {"PatientIdentityRemoved": "YES", "StudyDate": "20091023", "PatientID": "p-1f3a",
                              "Modality": "CT"}, "source_path": "case1/1.dcm"}
    assert metadata_phi(deidentified) == []
    # It covers its own mapping and what is nested under it, not a sibling's subtree.
    assert metadata_phi({"dicom": {"StudyDate": "20091023"}, "deid": {"PatientIdentityRemoved": "YES"}}) == [
        "dicom.StudyDate"]
    assert metadata_phi({"PatientIdentityRemoved": "YES", "dicom": {"StudyDate": "20091023"}}) == []
    assert metadata_phi({"frames": [{"(0012,0062)": "YES", "AcquisitionDate": "20091023"}]}) == []
    # Names and institutions are refused whatever the flag says, when the tag is not one it covers.
    assert metadata_phi({"dicom": {"PatientIdentityRemoved": "YES", "InstitutionName": "General"}}) == [
        "dicom.InstitutionName"]
    assert metadata_phi({"dicom": {"PatientIdentityRemoved": "NO", "StudyDate": "20091023"}}) == ["dicom.StudyDate"]


def test_deidentified_dicom_header_nested_as_the_builders_do_passes_the_guard(tmp_path: Path) -> None:
    import pydicom
    from pydicom.data import get_testdata_file

    from vgmed_data.guards import check_phi
    from vgmed_data.imaging.deid import deidentify
    from vgmed_data.imaging.dicom import safe_metadata

    clean = deidentify(pydicom.dcmread(get_testdata_file("CT_small.dcm")), key="test-key")
    header = {**safe_metadata(clean), "StudyDate": str(clean.StudyDate), "PatientID": str(clean.PatientID)}
    assert header["PatientIdentityRemoved"] == "YES" and header["StudyDate"]
    folder = make_folder(tmp_path / "f", grounding=grounding_rows(count=2, image_origin="dicom-deidentified",
                                                                  metadata={"dicom": header}))
    check_phi(folder, images_published=True)  # no refusal
    raw = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    leaky = make_folder(tmp_path / "g", grounding=grounding_rows(count=1, image_origin="dicom-deidentified",
                                                                 metadata={"dicom": {"StudyDate": str(raw.StudyDate)},
                                                                           "PatientIdentityRemoved": "NO"}))
    with pytest.raises(PublishRefusedError, match="dicom.StudyDate"):
        check_phi(leaky, images_published=True)
