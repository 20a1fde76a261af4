"""The IDC catalogue and selections against IDC's real installed index (idc-index-data), queried here directly
with pandas, and the selection handed to idc-index's own client (dry run: no network here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from vgmed_data.cli import main

idc_index_data = pytest.importorskip("idc_index_data", reason="the idc extra is not installed")

from vgmed_data.builders import idc  # noqa: E402


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def index():  # noqa: ANN201 - a pandas DataFrame
    import pandas as pd

    return pd.read_parquet(idc_index_data.IDC_INDEX_PARQUET_FILEPATH,
                           columns=["collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
                                    "BodyPartExamined", "license_short_name", "series_size_MB"])


def test_catalogue_counts_equal_a_direct_query_of_the_index(index) -> None:
    annotated = set(index.loc[index.Modality.isin(["SEG", "RTSTRUCT"]), "collection_id"])
    summaries = {s.collection_id: s for s in idc.catalogue()}
    assert set(summaries) == annotated
    assert len(annotated) > 50  # IDC v25 has 85
    rows = index[index.collection_id.isin(annotated)]
    expected = rows.groupby(["collection_id", "Modality"]).agg(series=("SeriesInstanceUID", "nunique"),
                                                               patients=("PatientID", "nunique"))
    got = {(s.collection_id, m.modality): (m.series, m.patients) for s in summaries.values() for m in s.modalities}
    assert got == {key: (int(v.series), int(v.patients)) for key, v in expected.iterrows()}
    sizes = rows.groupby("collection_id").series_size_MB.sum()
    for name, summary in summaries.items():
        assert summary.size_mb == pytest.approx(sizes[name], abs=0.01)
        part = rows[rows.collection_id == name]
        assert set(summary.licenses) == set(part.license_short_name.dropna()) - {""}
        assert set(summary.body_parts) == set(part.BodyPartExamined.dropna()) - {""}


def test_filters_by_modality_body_part_and_licence(index) -> None:
    annotated = set(index.loc[index.Modality.isin(["SEG", "RTSTRUCT"]), "collection_id"])
    rows = index[index.collection_id.isin(annotated)]

    def having(mask) -> set[str]:  # noqa: ANN001
        return set(rows.loc[mask, "collection_id"])

    assert {s.collection_id for s in idc.catalogue(modality="rtstruct")} == having(rows.Modality == "RTSTRUCT")
    assert {s.collection_id for s in idc.catalogue(body_part="Prostate")} == having(rows.BodyPartExamined == "PROSTATE")
    non_commercial = having(rows.license_short_name == "CC BY-NC 3.0")
    assert non_commercial and {s.collection_id for s in idc.catalogue(license="CC BY-NC 3.0")} == non_commercial
    assert {s.collection_id for s in idc.catalogue(license="cc-by-nc-3.0")} == non_commercial  # the SPDX spelling


def test_cli_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "sources", "idc", "--modality", "RTSTRUCT", "--json")
    assert code == 0
    data = json.loads(out)
    assert data and all("RTSTRUCT" in c["modalities"] for c in data)
    code, out, _ = run_cli(capsys, "sources", "idc", "--license", "CC BY-NC 3.0")
    assert code == 0 and "nsclc_radiomics " in out and "CC BY-NC 3.0" in out


def test_selection_takes_the_annotations_of_the_first_patients_and_their_studies_images(index, tmp_path: Path) -> None:
    selection = idc.select("nsclc_radiomics", patients=2, modalities=["CT"])
    part = index[index.collection_id == "nsclc_radiomics"]
    first = sorted(set(part.loc[part.Modality.isin(["SEG", "RTSTRUCT"]), "PatientID"]))[:2]
    annotations = part[part.PatientID.isin(first) & part.Modality.isin(["SEG", "RTSTRUCT"])]
    images = part[part.StudyInstanceUID.isin(set(annotations.StudyInstanceUID)) & (part.Modality == "CT")]
    assert sorted(s.series_uid for s in selection.series if s.role == "annotation") == \
        sorted(annotations.SeriesInstanceUID)
    assert sorted(s.series_uid for s in selection.series if s.role == "image") == sorted(images.SeriesInstanceUID)
    assert selection.size_mb == pytest.approx(annotations.series_size_MB.sum() + images.series_size_MB.sum(), abs=0.01)
    by_uid = part.set_index("SeriesInstanceUID").license_short_name
    assert all(s.license == by_uid[s.series_uid] for s in selection.series)
    assert {s.license for s in selection.series} == {"CC BY 4.0", "CC BY-NC 3.0"}  # AI SEGs vs the original data
    assert all(s["citation"] and s["license"] for s in selection.sources.values())
    path = idc.write_manifest(selection, tmp_path)
    series, sources = idc.read_manifests(tmp_path)
    assert sorted(series) == sorted(selection.uids()) and sources == selection.sources
    assert json.loads(path.read_text())["idc_index_data_version"] == idc_index_data.__version__


def test_fetch_without_idc_index_writes_the_manifest_and_prints_the_commands(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "idc_index", None)  # as if idc-index were not installed: nothing downloads
    code, out, err = run_cli(capsys, "sources", "fetch", "idc:nsclc_radiomics", "--dest", str(tmp_path),
                             "--patients", "1", "--modality", "CT")
    assert code == 0, err
    assert (tmp_path / "nsclc_radiomics" / idc.MANIFEST_NAME).is_file()
    assert "pip install idc-index" in out and "download_from_selection" in out and "idc-index is not installed" in err
    code, _, err = run_cli(capsys, "sources", "fetch", "idc:no_such_collection", "--dest", str(tmp_path))
    assert code == 2 and "no_such_collection" in err and "vgmed sources idc" in err


def test_idc_index_accepts_the_selection(tmp_path: Path) -> None:
    """idc-index's own client resolves every selected series UID in its index (a dry run computes the size and
    stops before s5cmd; a UID it does not know raises)."""
    client_module = pytest.importorskip("idc_index", reason="idc-index is not installed")
    client = client_module.IDCClient()
    selection = idc.select("pediatric_ct_seg", patients=3)
    client.download_from_selection(downloadDir=str(tmp_path), seriesInstanceUID=selection.uids(), dry_run=True)
    found = client.sql_query("SELECT SeriesInstanceUID, license_short_name FROM index WHERE SeriesInstanceUID IN (" +
                             ", ".join(f"'{u}'" for u in selection.uids()) + ")")
    assert sorted(found.SeriesInstanceUID) == sorted(selection.uids())


def test_a_download_is_checked_series_by_series_in_idcs_hierarchy(tmp_path: Path) -> None:
    """idc-index logs a failed transfer without raising; the fetch then finds which series have no files."""
    selection = idc.select("pediatric_ct_seg", patients=2)
    assert [s.series_uid for s in idc.missing_series(selection, tmp_path)] == selection.uids()
    first = selection.series[0]
    folder = tmp_path / "pediatric_ct_seg" / first.patient_id / first.study_uid / f"{first.modality}_{first.series_uid}"
    folder.mkdir(parents=True)
    (folder / "0d1e8c4a.dcm").write_bytes(b"")
    assert [s.series_uid for s in idc.missing_series(selection, tmp_path)] == selection.uids()[1:]
