"""NCI Imaging Data Commons: any collection with SEG or RTSTRUCT series, downloaded in IDC's folder hierarchy.

One entry, ``idc``, reads the folder ``vgmed sources fetch idc:<collection> --dest DIR`` fills (one or several
collections: ``DIR/<collection_id>/<PatientID>/<StudyInstanceUID>/<Modality>_<SeriesInstanceUID>/*.dcm``, beside
``DIR/<collection_id>/idc_selection.json``) with the generic DICOM reader (:class:`~vgmed_data.builders.readers.dicom.DicomSeriesReader`):
image series with the SEG (BINARY, FRACTIONAL, LABELMAP) and RTSTRUCT objects that reference them, the same
de-identification, pseudonyms and burned-in checks as every DICOM source.

**Targets.** A segment's target comes from its coded SegmentedPropertyTypeCodeSequence (scheme and code value,
so "SCT:10200004" is liver whatever the CodeMeaning's spelling); an RTSTRUCT ROI's from its ROIName, compared
case- and separator-insensitively ("Lung-Left", "lung_left", "LUNG LEFT"). Both go through :data:`TARGETS`, the
documented table below. Segments and ROIs not in the table are left out of the record and counted in the build
report as ``label not in map`` skips: coded concepts listed by their code (``SCT:...``; the CodeMeaning and the
SegmentLabel are free text), ROI names (free text, which the de-identification profile empties: DICOM PS3.15
Table E.1-1) counted but not quoted.

**Licence per row.** Each record's licence is that of its series in the selection manifest (the image series and
every annotation series used): one licence when they agree, else the most restrictive (a licence the guard does
not know, then a non-commercial one). The licence guard (:mod:`vgmed_data.guards`) then decides per row: a full
release carries images only of rows under a redistributable licence. The card lists each source DOI's licence
and citation as IDC's collections and analysis-results tables state them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pydicom.dataset import Dataset

from vgmed_data.errors import SkipReason, SourceNotFoundError
from vgmed_data.guards import allows_image_redistribution, licence_permits_redistribution
from vgmed_data.imaging.dicom import read_header

from vgmed_data.builders import idc
from vgmed_data.builders.entry import Label, SourceEntry
from vgmed_data.builders.policy import Skip
from vgmed_data.builders.readers.dicom import SEG_CLASSES, DicomSeriesReader, annotation_labels
from vgmed_data.builders.records import SourceRecord, patient_part

IDC_LAYOUT_SOURCE = ("ImagingDataCommons/idc-index@0.13.4: idc_index/index.py (DOWNLOAD_HIERARCHY_DEFAULT = "
                     "%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID; files named "
                     "<crdc_instance_uuid>.dcm)")

# DICOM Modality -> the schema's modality names.
MODALITY = {"CT": "CT", "MR": "MR", "PT": "PET", "NM": "NM", "US": "US", "CR": "XR", "DX": "XR", "MG": "XR"}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


class TargetTable(Mapping[str, Label]):
    """Coded concepts ("SCT:10200004") and ROI names, looked up case- and separator-insensitively."""

    def __init__(self, table: Mapping[str, Label]) -> None:
        self._keys = tuple(table)  # as written, for listings
        self._table = {_norm(key): label for key, label in table.items()}
        if len(self._table) != len(table):
            raise ValueError("two keys of the IDC target table normalise to the same name")

    def __getitem__(self, key: str) -> Label:
        return self._table[_norm(key)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _norm(key) in self._table


def _organ(target: str, part: str) -> Label:
    return Label(target=target, body_part=part)


def _lesion(target: str, part: str = "") -> Label:
    return Label(target=target, body_part=part, kind="lesion")


# SNOMED CT concepts (SCT; SRT is the legacy SNOMED RT designator some conversions use) as IDC's SEG series code
# them, and the RT structure names of its RTSTRUCT collections (e.g. NSCLC-Radiomics: GTV-1, Lung-Left,
# Lung-Right, Heart, Esophagus, Spinal-Cord). Codes: SNOMED CT International (browser.ihtsdotools.org).
_CODES = {
    "SCT:10200004": _organ("liver", "abdomen"), "SCT:64033007": _organ("kidney", "abdomen"),
    "SCT:18639004": _organ("left kidney", "abdomen"), "SCT:9846003": _organ("right kidney", "abdomen"),
    "SCT:78961009": _organ("spleen", "abdomen"), "SCT:15776009": _organ("pancreas", "abdomen"),
    "SCT:69695003": _organ("stomach", "abdomen"), "SCT:28231008": _organ("gallbladder", "abdomen"),
    "SCT:23451007": _organ("adrenal gland", "abdomen"), "SCT:89837001": _organ("urinary bladder", "pelvis"),
    "SCT:41216001": _organ("prostate", "pelvis"), "SCT:39607008": _organ("lung", "chest"),
    "SCT:44029006": _organ("left lung", "chest"), "SCT:3341006": _organ("right lung", "chest"),
    "SCT:80891009": _organ("heart", "chest"), "SCT:32849002": _organ("esophagus", "chest"),
    "SCT:44567001": _organ("trachea", "chest"), "SCT:15825003": _organ("aorta", "chest"),
    "SCT:2748008": _organ("spinal cord", "spine"), "SCT:12738006": _organ("brain", "head"),
    "SCT:76752008": _organ("breast", "chest"),
    "SCT:27925004": _lesion("nodule"), "SRT:M-03010": _lesion("nodule"), "SCT:108369006": _lesion("tumour"),
    "SCT:4147007": _lesion("mass"), "SCT:52988006": _lesion("lesion"), "SCT:79654002": _lesion("oedema"),
    "SCT:6574001": _lesion("necrosis"),
}
_ROI_NAMES = {
    "GTV": _lesion("gross tumour volume"), "GTV-1": _lesion("gross tumour volume"),
    "GTV-2": _lesion("second gross tumour volume"),
    "Lung-Left": _organ("left lung", "chest"), "Left Lung": _organ("left lung", "chest"),
    "Lung-Right": _organ("right lung", "chest"), "Right Lung": _organ("right lung", "chest"),
    "Lungs": _organ("lungs", "chest"), "Heart": _organ("heart", "chest"), "Esophagus": _organ("esophagus", "chest"),
    "Spinal-Cord": _organ("spinal cord", "spine"), "Liver": _organ("liver", "abdomen"),
    "Spleen": _organ("spleen", "abdomen"), "Kidney-Left": _organ("left kidney", "abdomen"),
    "Kidney-Right": _organ("right kidney", "abdomen"), "Bladder": _organ("urinary bladder", "pelvis"),
    "Prostate": _organ("prostate", "pelvis"), "Brain": _organ("brain", "head"),
    "Brainstem": _organ("brainstem", "head"),
}
TARGETS = TargetTable({**_CODES, **_ROI_NAMES})


def combined_license(licenses: Sequence[str]) -> str:
    """One SPDX licence for a row drawn from series under ``licenses`` (IDC short names): the common one, else
    the most restrictive (one the guard does not allow, then a non-commercial one, then the first)."""
    spdx = sorted({idc.spdx_license(name) for name in licenses if name})
    if not spdx:
        return "LicenseRef-IDC-unknown"
    if len(spdx) == 1:
        return spdx[0]
    refused = [s for s in spdx if not allows_image_redistribution(license=s, redistributable=True)]
    return (refused or [s for s in spdx if "-NC" in s] or spdx)[0]


@dataclass(frozen=True, kw_only=True)
class PatientPart:
    """Part ``index`` of ``count`` of an IDC download, by patient folder (``depth``: 0 when ``root`` is one
    collection, 1 when it holds collections). Called on a path: whether the file falls to this part. ``walk``: this
    part's files matching a ``**/NAME`` pattern, found by walking only its own patients' folders (on a shared file
    system, N array jobs do not each walk the whole download); the same files as filtering the whole listing."""

    root: Path
    depth: int
    index: int
    count: int

    def __call__(self, path: Path) -> bool:
        parts = path.relative_to(self.root).parts
        return self._mine("/".join(parts[: self.depth + 1]) if len(parts) > self.depth + 1 else "")

    def _mine(self, patient: str) -> bool:
        return patient_part(patient, self.count) == self.index

    def walk(self, pattern: str) -> list[Path] | None:
        """The files under ``root`` matching ``pattern`` that fall to this part (unsorted, directories included
        as the glob returns them), or None for a pattern that is not ``**/NAME``."""
        name = pattern.removeprefix("**/")
        if name == pattern or "/" in name or "**" in name:
            return None
        patients = self.root.glob("/".join(["*"] * (self.depth + 1)))
        found = [path for folder in patients
                 if folder.is_dir() and not self._linked(folder) and self._mine(self._key(folder))
                 for path in folder.glob(pattern)]
        shallow = [path for level in range(self.depth + 1)
                   for path in self.root.glob("/".join(["*"] * level + [name])) if not self._linked(path.parent)]
        return found + [path for path in shallow if self(path)]

    def _key(self, folder: Path) -> str:
        return folder.relative_to(self.root).as_posix()

    def _linked(self, folder: Path) -> bool:
        """Whether a folder between ``root`` and ``folder`` (included) is a link: ``**`` does not descend into
        links, so the whole listing holds no file below one."""
        parts = folder.relative_to(self.root).parts
        return any(self.root.joinpath(*parts[: n + 1]).is_symlink() for n in range(len(parts)))


@dataclass(frozen=True, kw_only=True)
class IdcReader(DicomSeriesReader):
    """:class:`DicomSeriesReader` over an IDC download, with per-record modality, licence and collection from the
    selection manifest, and the unmapped segments/ROIs of each record counted."""

    label_from: str = "code"
    ignore_unmapped: bool = True

    def required_paths(self, entry: SourceEntry) -> tuple[str, ...]:
        return (self.file_glob,)

    def records(self, entry: SourceEntry, root: Path, *, on_bad: str, skips: list[Skip],
                include: Callable[[Path], bool] | None = None) -> Iterator[SourceRecord]:
        series, _sources = idc.read_manifests(root)
        for record in super().records(entry, root, on_bad=on_bad, skips=skips, include=include):
            facts = series.get(record.record_id)
            if facts is None:
                skips.append(Skip(source=entry.key, record=record.record_id, reason=SkipReason.MISSING_FILE,
                                  detail=f"series {record.record_id} is not in {idc.MANIFEST_NAME}; fetch it with "
                                         "`vgmed sources fetch idc:<collection>`"))
                continue
            header = read_header(record.image.series[0][0])
            annotation_uids = {str(read_header(r.mask_path).SeriesInstanceUID) for r in record.regions if r.mask_path}
            licenses = [facts["license"], *(series[u]["license"] for u in sorted(annotation_uids) if u in series)]
            license = combined_license(licenses)
            yield replace(record, modality=MODALITY.get(str(header.get("Modality", "")), "OTHER"),
                          license=license,
                          redistributable=licence_permits_redistribution(license=license, status="stated"),
                          body_part=record.regions[0].body_part,
                          metadata={**record.metadata, "collection": facts["collection_id"],
                                    "series_licenses": sorted(set(licenses))})

    def shard_filter(self, root: Path, *, index: int, count: int) -> PatientPart:
        """The files of part ``index`` of ``count`` of a sharded build: those of the patients (the folder after the
        collection's, in IDC's hierarchy) that fall to it, so a part reads only its own patients' folders."""
        return PatientPart(root=root, depth=0 if (root / idc.MANIFEST_NAME).is_file() else 1,  # one collection
                           index=index, count=count)                                      # or the folder above

    def unmapped_skips(self, entry: SourceEntry, uid: str, annotations: list[Dataset]) -> list[Skip]:
        coded: list[str] = []
        free_text = 0
        for ds in annotations:
            is_seg = str(ds.SOPClassUID) in SEG_CLASSES
            for _number, name in annotation_labels(ds, label_from=self.label_from):
                if name in entry.labels:
                    continue
                if is_seg and name:
                    coded.append(name)
                else:
                    free_text += 1
        if not coded and not free_text:
            return []
        parts = ([f"segments coded {', '.join(sorted(set(coded)))}"] if coded else []) + \
                ([f"{free_text} ROI(s) or uncoded segment(s) (free-text names, not quoted)"] if free_text else [])
        return [Skip(source=entry.key, record=uid, reason=SkipReason.LABEL_NOT_IN_MAP,
                     detail="not in the IDC target table, left out: " + "; ".join(parts))]

    def card_lines(self, root: Path) -> list[str]:
        """The licence and citation of every source in the selection manifests (from IDC's own tables)."""
        series, sources = idc.read_manifests(root)
        collections = sorted({s["collection_id"] for s in series.values()})
        lines = [f"### Imaging Data Commons collections: {', '.join(collections)}", "",
                 "Licence per row: each row carries its series' licence (`license` column); images of rows under a "
                 "licence that does not allow redistribution are not published.", "",
                 "| source | licence | citation |", "|---|---|---|"]
        for doi, facts in sources.items():
            citation = facts["citation"].replace("|", "/")
            lines.append(f"| [{facts['title'] or doi}](https://doi.org/{doi}) | {facts['license']} | {citation} |")
        return lines


IDC = SourceEntry(
    key="idc", name="NCI Imaging Data Commons: collections with DICOM-SEG or RTSTRUCT annotations",
    homepage="https://portal.imaging.datacommons.cancer.gov/",
    citation="Fedorov A. et al. National Cancer Institute Imaging Data Commons: Toward Transparency, "
             "Reproducibility, and Scalability in Imaging Artificial Intelligence. RadioGraphics 43(12) (2023). "
             "doi:10.1148/rg.230180; and the citation of each collection (see the card)",
    license="LicenseRef-IDC-per-series",
    license_url="per series: idc-index-data idc_index.parquet license_short_name (mostly CC BY 3.0/4.0, some "
                "CC BY-NC 3.0/4.0)",
    license_status="stated", split_unit="patient",  # the entry-level LicenseRef publishes nothing; rows decide
    modality="mixed", body_part="", size="per selection (vgmed sources idc lists sizes)",
    layout="DIR/<collection_id>/idc_selection.json + DIR/<collection_id>/<PatientID>/<StudyInstanceUID>/"
           "<Modality>_<SeriesInstanceUID>/<uuid>.dcm; pass DIR",
    layout_confirmed_at=IDC_LAYOUT_SOURCE,
    labels=TARGETS,
    reader=IdcReader(),
    window="abdomen", laterality_known=True,
    instructions=("vgmed sources idc   (the collections with segmentations, from the installed IDC index)\n"
                  "vgmed sources fetch idc:<collection> --dest DIR [--patients N] [--modality CT]\n"
                  "(writes DIR/<collection>/idc_selection.json and downloads it with idc-index, or prints the commands); then "
                  "VGMED_DEID_KEY=<your team's secret> vgmed build vgmed --source idc=DIR --out OUT"),
    notes="Image series are selected by study (the installed index has no referenced-series column); the build "
          "pairs each SEG/RTSTRUCT with the series its header references.",
)

ENTRIES = (IDC,)


def fetch_selection(collection_id: str, dest: Path, *, patients: int | None, modalities: Sequence[str],
                    quiet: bool) -> int:
    """``vgmed sources fetch idc:<collection>``: select, write the manifest, download (or print the commands)."""
    if not collection_id:
        raise SourceNotFoundError("no collection named", fix="use idc:<collection_id>, from `vgmed sources idc`")
    selection = idc.select(collection_id, patients=patients, modalities=modalities)
    path = idc.write_manifest(selection, dest)
    roles: dict[str, int] = {}
    for s in selection.series:
        roles[f"{s.role} {s.modality}"] = roles.get(f"{s.role} {s.modality}", 0) + 1
    licences = sorted({s.license for s in selection.series})
    print(f"idc:{collection_id}: {len(selection.series)} series "
          f"({', '.join(f'{n} {k}' for k, n in sorted(roles.items()))}), {selection.size_mb} MB, "
          f"licences: {'; '.join(licences)}; manifest {path}")
    downloaded = idc.download(selection, dest, quiet=quiet)
    if downloaded:
        print(f"downloaded into {dest}; build with --source idc={dest}")
    return 0
