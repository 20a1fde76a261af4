"""NCI Imaging Data Commons (IDC): the catalogue of collections with segmentations, and download selections.

Everything here reads IDC's own index as the ``idc-index-data`` package installs it (the ``idc`` extra): the
Parquet tables ``idc_index.parquet`` (one row per DICOM series: collection_id, PatientID, StudyInstanceUID,
SeriesInstanceUID, Modality, BodyPartExamined, license_short_name, series_size_MB, source_DOI, ...) and
``collections_index.parquet`` (per collection: its sources, each with DOI, licence and citation), plus
``analysis_results_index.parquet`` (the same for analysis results such as AI segmentations). Nothing here talks to
the network; only :func:`download` hands a selection to ``idc-index`` (``IDCClient.download_from_selection``),
which runs s5cmd against IDC's public buckets.

**Catalogue** (:func:`catalogue`): every collection holding SEG or RTSTRUCT series, with series and patients per
modality, total size, the distinct licences of its series and their body parts (BodyPartExamined).

**Selection** (:func:`select`): the annotation series (SEG, RTSTRUCT) of a collection's first ``patients`` patients
(sorted by PatientID) and the image series they annotate. The installed index has no referenced-series column: the
``seg_index`` and ``rtstruct_index`` tables that carry one (``segmented_SeriesInstanceUID``,
``referenced_SeriesInstanceUID``; idc-index-data's ``seg_index.sql``/``rtstruct_index.sql``) are not in the wheel
and idc-index fetches them over the network. So the image series are chosen *by study*: every series of an image
modality (``--modality``, default every modality that is not an annotation or report) in a study that holds an
annotation series. The build then pairs each SEG/RTSTRUCT with the series its header references and skips
annotations whose series is missing, so an over-broad selection costs download size, never correctness.

The selection manifest (:data:`MANIFEST_NAME`, written into the collection's folder of the download) lists every series with its
role, licence and size, and the licence and citation of every source DOI involved; the ``idc`` source reads it to
give each row its own licence.
"""

from __future__ import annotations

import html
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vgmed_data.errors import InvalidInputError, MissingDependencyError, RemoteError, SourceNotFoundError
from vgmed_data.extras import install_command

ANNOTATION_MODALITIES = ("SEG", "RTSTRUCT")
NOT_IMAGES = ("SEG", "RTSTRUCT", "SR", "RTPLAN", "RTDOSE", "RWV", "REG", "KO", "PR", "ANN", "OT", "DOC")
MANIFEST_NAME = "idc_selection.json"
MANIFEST_FORMAT = 1
DOWNLOAD_HIERARCHY = "%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID"
_COLUMNS = ("collection_id", "analysis_result_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID",
            "Modality", "BodyPartExamined", "license_short_name", "series_size_MB", "source_DOI")


def index_files() -> dict[str, Path]:
    """The installed index tables: ``series``, ``collections``, ``analysis_results`` -> Parquet path."""
    try:
        import idc_index_data
    except ImportError:
        raise MissingDependencyError("the IDC index (idc-index-data) is not installed",
                                     fix=install_command("idc")) from None
    series = idc_index_data.IDC_INDEX_PARQUET_FILEPATH  # typed Path | None by the package
    if series is None:
        raise MissingDependencyError("the installed idc-index-data has no series index file",
                                     fix=install_command("idc"))
    folder = Path(series).parent
    return {"series": Path(series),
            "collections": folder / "collections_index.parquet",
            "analysis_results": folder / "analysis_results_index.parquet"}


def index_version() -> str:
    import idc_index_data

    return str(idc_index_data.__version__)


def spdx_license(short_name: str) -> str:
    """IDC's licence short name ("CC BY 4.0", "CC BY-NC 3.0") as an SPDX id; a licence without one (e.g. "National
    Library of Medicine Terms and Conditions; May 21, 2019") becomes ``LicenseRef-IDC-...``, which the licence
    guard treats as not redistributable."""
    match = re.fullmatch(r"CC (BY(?:-NC)?(?:-SA)?(?:-ND)?) (\d\.\d)", short_name.strip())
    if match:
        return f"CC-{match[1]}-{match[2]}"
    if short_name.strip().upper() in ("CC0", "CC0 1.0"):
        return "CC0-1.0"
    return "LicenseRef-IDC-" + (re.sub(r"[^A-Za-z0-9.]+", "-", short_name).strip("-") or "unknown")


def _series_table(columns: Sequence[str] = _COLUMNS) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(index_files()["series"], columns=list(columns))


# ---------------------------------------------------------------------------------------------------- catalogue
@dataclass(frozen=True, kw_only=True)
class ModalityCount:
    modality: str
    series: int
    patients: int


@dataclass(frozen=True, kw_only=True)
class CollectionSummary:
    collection_id: str
    modalities: tuple[ModalityCount, ...]  # every modality of the collection, by name
    size_mb: float  # all of the collection's series
    licenses: tuple[str, ...]  # IDC short names of its series' licences
    body_parts: tuple[str, ...]  # BodyPartExamined values of its series (empty ones left out)

    def count(self, modality: str) -> ModalityCount | None:
        return next((m for m in self.modalities if m.modality == modality), None)

    @property
    def annotation_series(self) -> int:
        return sum(m.series for m in self.modalities if m.modality in ANNOTATION_MODALITIES)


def catalogue(*, modality: str | None = None, body_part: str | None = None,
              license: str | None = None) -> list[CollectionSummary]:
    """Every collection with SEG or RTSTRUCT series, optionally only those with a series of ``modality``, a series
    whose BodyPartExamined is ``body_part`` and a series under ``license`` (all compared case-insensitively;
    ``license`` also matches the SPDX spelling, e.g. CC-BY-NC-3.0)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _series_table(("collection_id", "PatientID", "Modality", "BodyPartExamined", "license_short_name",
                           "series_size_MB"))
    annotated = pc.unique(table.filter(pc.is_in(table["Modality"], pa.array(ANNOTATION_MODALITIES)))["collection_id"])
    table = table.filter(pc.is_in(table["collection_id"], annotated))
    counts = table.group_by(["collection_id", "Modality"]).aggregate(
        [("Modality", "count"), ("PatientID", "count_distinct")]).to_pylist()
    per_collection = table.group_by("collection_id").aggregate(
        [("series_size_MB", "sum"), ("license_short_name", "distinct"), ("BodyPartExamined", "distinct")]).to_pylist()
    modalities: dict[str, list[ModalityCount]] = {}
    for row in counts:
        modalities.setdefault(row["collection_id"], []).append(
            ModalityCount(modality=row["Modality"], series=row["Modality_count"],
                          patients=row["PatientID_count_distinct"]))
    summaries = [CollectionSummary(
        collection_id=row["collection_id"],
        modalities=tuple(sorted(modalities[row["collection_id"]], key=lambda m: m.modality)),
        size_mb=round(float(row["series_size_MB_sum"]), 2),
        licenses=tuple(sorted(v for v in row["license_short_name_distinct"] if v)),
        body_parts=tuple(sorted(v for v in row["BodyPartExamined_distinct"] if v)))
        for row in per_collection]
    summaries.sort(key=lambda s: s.collection_id)
    return [s for s in summaries if _matches(s, modality=modality, body_part=body_part, license=license)]


def _matches(summary: CollectionSummary, *, modality: str | None, body_part: str | None, license: str | None) -> bool:
    if modality and summary.count(modality.upper()) is None:
        return False
    if body_part and body_part.upper() not in {b.upper() for b in summary.body_parts}:
        return False
    if license:
        wanted = license.strip().lower()
        if not any(wanted in (name.lower(), spdx_license(name).lower()) for name in summary.licenses):
            return False
    return True


def catalogue_json(summaries: Iterable[CollectionSummary]) -> list[dict[str, Any]]:
    return [{**asdict(s), "modalities": {m.modality: {"series": m.series, "patients": m.patients}
                                         for m in s.modalities}} for s in summaries]


# ---------------------------------------------------------------------------------------------------- selection
@dataclass(frozen=True, kw_only=True)
class SelectedSeries:
    series_uid: str
    study_uid: str
    patient_id: str
    modality: str
    role: str  # "annotation" | "image"
    license: str  # IDC short name
    size_mb: float
    source_doi: str
    analysis_result_id: str


@dataclass(frozen=True, kw_only=True)
class Selection:
    collection_id: str
    series: tuple[SelectedSeries, ...]
    sources: dict[str, dict[str, str]]  # source DOI (lower case) -> title, licence, licence URL, citation
    image_rule: str  # how the image series were chosen

    @property
    def size_mb(self) -> float:
        return round(sum(s.size_mb for s in self.series), 2)

    def uids(self) -> list[str]:
        return [s.series_uid for s in self.series]


def select(collection_id: str, *, patients: int | None = None,
           modalities: Sequence[str] = ()) -> Selection:
    """The annotation series of ``collection_id`` and the image series of their studies (see the module text).
    ``patients``: only the first N patients with an annotation series, by PatientID. ``modalities``: the image
    modalities to take (default: every modality that is not an annotation, report or plan)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if patients is not None and patients < 1:
        raise InvalidInputError(f"--patients must be at least 1, got {patients}")
    table = _series_table()
    table = table.filter(pc.equal(table["collection_id"], collection_id))
    annotations = table.filter(pc.is_in(table["Modality"], pa.array(ANNOTATION_MODALITIES)))
    if annotations.num_rows == 0:
        known = [s.collection_id for s in catalogue()]
        raise SourceNotFoundError(f"IDC collection {collection_id!r} has no SEG or RTSTRUCT series in the installed "
                                  f"index (idc-index-data {index_version()})",
                                  fix="pick one from `vgmed sources idc`; e.g. " + ", ".join(known[:6]))
    chosen = sorted(set(annotations["PatientID"].to_pylist()))
    if patients is not None:
        chosen = chosen[:patients]
    annotations = annotations.filter(pc.is_in(annotations["PatientID"], pa.array(chosen)))
    studies = pa.array(sorted(set(annotations["StudyInstanceUID"].to_pylist())))
    images = table.filter(pc.is_in(table["StudyInstanceUID"], studies))
    wanted = tuple(m.upper() for m in modalities)
    if wanted:
        images = images.filter(pc.is_in(images["Modality"], pa.array(wanted)))
        rule = f"every {'/'.join(wanted)} series in a study that holds a selected annotation series"
    else:
        images = images.filter(pc.invert(pc.is_in(images["Modality"], pa.array(NOT_IMAGES))))
        rule = "every image series (not SEG/RTSTRUCT/SR/plans) in a study that holds a selected annotation series"
    rows = [(row, "annotation") for row in annotations.to_pylist()] + [(row, "image") for row in images.to_pylist()]
    series = tuple(sorted((SelectedSeries(
        series_uid=row["SeriesInstanceUID"], study_uid=row["StudyInstanceUID"], patient_id=row["PatientID"],
        modality=row["Modality"], role=role, license=row["license_short_name"] or "",
        size_mb=float(row["series_size_MB"] or 0.0), source_doi=(row["source_DOI"] or "").lower(),
        analysis_result_id=row["analysis_result_id"] or "") for row, role in rows),
        key=lambda s: (s.patient_id, s.study_uid, s.role, s.modality, s.series_uid)))
    return Selection(collection_id=collection_id, series=series,
                     sources=_sources_of({s.source_doi for s in series}), image_rule=rule)


def _clean(text: str) -> str:
    """A citation as IDC stores it (HTML entities, <i> tags, hard line breaks) as plain one-line text."""
    return " ".join(re.sub(r"<[^>]+>", "", html.unescape(text or "")).split())


def _sources_of(dois: set[str]) -> dict[str, dict[str, str]]:
    """Title, licence and citation of each source DOI, from the collections and analysis-results tables."""
    import pyarrow.parquet as pq

    files = index_files()
    found: dict[str, dict[str, str]] = {}
    for row in pq.read_table(files["collections"], columns=["sources"]).to_pylist():
        for source in row["sources"] or []:
            doi = (source.get("source_doi") or "").lower()
            if doi in dois and doi not in found:
                licence = source.get("license") or {}
                found[doi] = {"title": source.get("source_title") or "", "citation": _clean(source.get("citation")),
                              "license": licence.get("license_short_name") or "",
                              "license_url": licence.get("license_url") or ""}
    for row in pq.read_table(files["analysis_results"]).to_pylist():
        doi = (row.get("source_DOI") or "").lower()
        if doi in dois and doi not in found:
            found[doi] = {"title": row.get("analysis_result_title") or "", "citation": _clean(row.get("citation")),
                          "license": row.get("license_short_name") or "", "license_url": row.get("license_url") or ""}
    return dict(sorted(found.items()))


def manifest_path(selection: Selection, dest: Path) -> Path:
    """``dest/<collection_id>/idc_selection.json``: beside the collection's folder of the download hierarchy, so
    several collections fetched into one folder keep their own manifests."""
    return dest / selection.collection_id / MANIFEST_NAME


def write_manifest(selection: Selection, dest: Path) -> Path:
    """The selection, the index version, each source's licence and citation, at :func:`manifest_path`."""
    path = manifest_path(selection, dest)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": MANIFEST_FORMAT, "idc_index_data_version": index_version(),
            "collection_id": selection.collection_id, "image_rule": selection.image_rule,
            "size_mb": selection.size_mb, "sources": selection.sources,
            "series": [asdict(s) for s in selection.series]}
    temporary = path.with_suffix(".json.partial")
    temporary.write_text(json.dumps(data, indent=1) + "\n")
    temporary.replace(path)
    return path


def read_manifests(root: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    """(series UID -> its manifest entry + collection_id, source DOI -> source facts) from every selection
    manifest under ``root`` (the download folder, or one above several)."""
    series: dict[str, dict[str, Any]] = {}
    sources: dict[str, dict[str, str]] = {}
    paths = sorted(root.glob(MANIFEST_NAME)) + sorted(root.glob(f"*/{MANIFEST_NAME}"))  # DIR or DIR/<collection>
    if not paths:
        raise SourceNotFoundError(f"no {MANIFEST_NAME} (the selection manifest) in the IDC download folder",
                                  path=root, fix="download with `vgmed sources fetch idc:<collection> --dest DIR`, "
                                                 "which writes it, and pass DIR")
    for path in paths:
        try:
            data = json.loads(path.read_text())
            if data.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            for entry in data["series"]:
                series[str(entry["series_uid"])] = {**entry, "collection_id": data["collection_id"]}
            sources.update(data["sources"])
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidInputError(f"is not a selection manifest this version reads ({error})", path=path,
                                    fix="fetch the selection again with `vgmed sources fetch idc:<collection>`") \
                from None
    return series, sources


# ----------------------------------------------------------------------------------------------------- download
def download_commands(selection: Selection, dest: Path) -> list[str]:
    """The commands that download ``selection`` into ``dest`` with idc-index (no vgmed involved)."""
    script = ("import json; from idc_index import IDCClient; "
              f"m = json.load(open({str(manifest_path(selection, dest))!r})); "
              "IDCClient().download_from_selection(seriesInstanceUID=[s['series_uid'] for s in m['series']], "
              f"downloadDir={str(dest)!r})")
    return ["pip install idc-index", f"python -c {shlex.quote(script)}"]


def series_folder(series: SelectedSeries, *, collection_id: str, dest: Path) -> Path:
    """Where IDC's default hierarchy puts a series: ``dest/<collection>/<PatientID>/<Study>/<Modality>_<Series>``."""
    return dest / collection_id / series.patient_id / series.study_uid / f"{series.modality}_{series.series_uid}"


def missing_series(selection: Selection, dest: Path) -> list[SelectedSeries]:
    """The selected series with no ``.dcm`` file in their folder under ``dest``."""
    return [s for s in selection.series
            if not any(series_folder(s, collection_id=selection.collection_id, dest=dest).glob("*.dcm"))]


def download(selection: Selection, dest: Path, *, quiet: bool = False) -> bool:
    """Download ``selection`` into ``dest`` (IDC's default folder hierarchy) through idc-index; without idc-index,
    print the commands that do and return False. idc-index logs a failed transfer (no network, a bucket error)
    without raising, so the download is checked: every selected series must have files in its folder."""
    try:
        from idc_index import IDCClient
    except ImportError:
        print("idc-index is not installed here; to download the selection (manifest: "
              f"{manifest_path(selection, dest)}, {selection.size_mb} MB), run:", file=sys.stderr)
        for command in download_commands(selection, dest):
            print(f"  {command}")
        return False
    try:
        IDCClient().download_from_selection(downloadDir=str(dest), seriesInstanceUID=selection.uids(),
                                            dirTemplate=DOWNLOAD_HIERARCHY, quiet=True, show_progress_bar=not quiet,
                                            use_s5cmd_sync=True)  # a rerun fetches only what is missing
    except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as error:
        raise RemoteError(f"idc-index could not download the selection: {error}", path=dest,
                          fix="check the network, then run the same fetch again (series already there are kept)") \
            from None
    missing = missing_series(selection, dest)
    if missing:
        raise RemoteError(f"{len(missing)} of {len(selection.series)} selected series were not downloaded (first: "
                          f"{missing[0].modality} series of patient {missing[0].patient_id})", path=dest,
                          fix="idc-index logged why above (often: no network to s3.amazonaws.com); where the "
                              "network reaches IDC, run the same fetch again, or: " +
                              " && ".join(download_commands(selection, dest)))
    return True
