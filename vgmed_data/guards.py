"""Publishing guards: what may leave the machine.

**Licence guard.** A row's image may be published only when the row says its source allows redistribution
(``redistributable``) *and* its ``license`` is one we know allows redistributing derived images
(:data:`REDISTRIBUTABLE_LICENSES`). An unknown licence, a ``LicenseRef-*`` or an ``*-ND`` licence counts as not
redistributable: our images are rendered derivatives (windowed, resliced), which no-derivatives licences forbid.
Rows that fail the rule may still go out as annotations only (no image or mask bytes, pointers to the source),
behind a gate; :func:`check_licences` refuses otherwise and names the sources.

**PHI guard.** :func:`check_phi` refuses rows whose published image came from a DICOM that was not de-identified
(``image_origin == "dicom"``, or any ``image_provenance[].image_origin == "dicom"`` in sequences) and rows whose
``metadata`` JSON still carries identifying DICOM attributes with a value, at any depth, named by keyword
(``PatientName``, ``patient_name``, ``InstitutionName``...) or by tag (``0010,0010``, ``(0010,0010)``,
``00100010``). Dates are allowed when the same metadata says ``PatientIdentityRemoved: YES`` (the project's
de-identification shifts them); UIDs are allowed when they were replaced (``2.25.`` prefix). The identifying
attributes are those of :data:`vgmed_data.imaging.deid.PHI_KEYWORDS` plus the names, ids, addresses and
physician/operator fields that the de-identification profile removes.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from vgmed_data.configs import dataset_config
from vgmed_data.errors import PublishRefusedError
from vgmed_data.folder import folder_configs, iter_rows

# SPDX id (compared case-insensitively) -> Hugging Face card licence id, for licences that allow redistributing
# derived images (possibly with conditions: attribution, share-alike, non-commercial use).
REDISTRIBUTABLE_LICENSES: dict[str, str] = {
    "CC0-1.0": "cc0-1.0", "PDDL-1.0": "pddl", "CC-BY-4.0": "cc-by-4.0", "CC-BY-3.0": "cc-by-3.0",
    "CC-BY-SA-4.0": "cc-by-sa-4.0", "CC-BY-SA-3.0": "cc-by-sa-3.0", "CC-BY-NC-4.0": "cc-by-nc-4.0",
    "CC-BY-NC-3.0": "cc-by-nc-3.0", "CC-BY-NC-SA-4.0": "cc-by-nc-sa-4.0", "CC-BY-NC-SA-3.0": "cc-by-nc-sa-3.0",
    "ODbL-1.0": "odbl", "ODC-By-1.0": "odc-by", "MIT": "mit", "Apache-2.0": "apache-2.0",
    "BSD-3-Clause": "bsd-3-clause",
}
# Known licences that do not allow redistributing derivatives; still named correctly on the card.
OTHER_KNOWN_LICENSES: dict[str, str] = {"CC-BY-ND-4.0": "cc-by-nd-4.0", "CC-BY-NC-ND-4.0": "cc-by-nc-nd-4.0",
                                        "CC-BY-NC-ND-3.0": "cc-by-nc-nd-3.0"}
_BY_LOWER = {key.lower(): key for key in (*REDISTRIBUTABLE_LICENSES, *OTHER_KNOWN_LICENSES)}

_EXTRA_IDENTIFYING = (
    "OtherPatientIDs", "OtherPatientNames", "PatientBirthName", "PatientBirthTime", "PatientMotherBirthName",
    "MedicalRecordLocator", "IssuerOfPatientID", "InstitutionalDepartmentName", "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers", "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy",
    "RequestingPhysician", "ScheduledPerformingPhysicianName", "ContentCreatorName", "VerifyingObserverName",
    "PersonName", "ResponsiblePerson", "PerformedStationName", "StudyID", "PatientComments", "StudyTime",
    "SeriesTime", "AcquisitionDateTime", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
    "FrameOfReferenceUID",
)
MAX_NAMED = 10  # rows named in a refusal; the count of the rest follows


@cache
def _identifying_keys() -> dict[str, str]:
    """normalised key (lowercase letters/digits) -> DICOM keyword, for keywords and their tags (computed once:
    every row's metadata is checked against it)."""
    from pydicom.datadict import tag_for_keyword

    from vgmed_data.imaging.deid import PHI_KEYWORDS

    keys: dict[str, str] = {}
    for keyword in (*PHI_KEYWORDS, *_EXTRA_IDENTIFYING):
        keys[_normalise(keyword)] = keyword
        tag = tag_for_keyword(keyword)
        if tag is not None:
            keys[f"{tag >> 16:04x}{tag & 0xFFFF:04x}"] = keyword
    return keys


def _normalise(key: str) -> str:
    return re.sub(r"[^0-9a-z]", "", key.lower())


def canonical_license(license: str) -> str | None:
    """The SPDX spelling of a known licence, else None."""
    return _BY_LOWER.get(license.strip().lower())


def hub_license_id(license: str) -> str | None:
    spdx = canonical_license(license)
    return None if spdx is None else {**REDISTRIBUTABLE_LICENSES, **OTHER_KNOWN_LICENSES}[spdx]


# How sure we are of a source's licence: ``stated`` (read at the source itself: its page, repository, data record or
# paper), ``secondary`` (read only at a mirror, aggregator or loader; nothing at the source says otherwise),
# ``conflicting`` (two places state different terms, or a mirror states one and the source none), ``unknown`` (no
# licence could be read). Only a ``stated`` licence lets a source's images be redistributed: a catalogue's word
# for a licence is a lead to follow to the source, not a grant.
LICENSE_STATUSES = ("stated", "secondary", "conflicting", "unknown")


def licence_permits_redistribution(*, license: str, status: str) -> bool:
    """Whether a source's images may be redistributed, from its licence alone: a licence on
    :data:`REDISTRIBUTABLE_LICENSES`, read at the source itself (status ``stated``). Source entries derive their
    ``redistributable`` flag from this, so no entry can claim more than its licence grants."""
    if status not in LICENSE_STATUSES:
        raise ValueError(f"licence status {status!r} is not one of {', '.join(LICENSE_STATUSES)}")
    return status == "stated" and allows_image_redistribution(license=license, redistributable=True)


def allows_image_redistribution(*, license: str, redistributable: bool) -> bool:
    """The licence rule: the row's own flag and a licence known to allow redistributing derived images."""
    spdx = canonical_license(license)
    return bool(redistributable) and spdx is not None and spdx in REDISTRIBUTABLE_LICENSES


@dataclass(frozen=True)
class RowFacts:
    """What the guards and the card need to know about one row (no pixels)."""

    config: str
    split: str
    id: str
    source: str
    license: str
    redistributable: bool
    has_image_bytes: bool
    image_origins: tuple[str, ...]
    metadata: Mapping[str, Any]
    modality: str
    review: Mapping[str, Any] | None

    @property
    def images_allowed(self) -> bool:
        return allows_image_redistribution(license=self.license, redistributable=self.redistributable)

    @property
    def where(self) -> str:
        return f"{self.config}/{self.split}/{self.id}"


def _has_bytes(cell: Any) -> bool:
    if isinstance(cell, list):
        return any(_has_bytes(item) for item in cell)
    return bool(cell and cell.get("bytes"))


def row_facts(row: Mapping[str, Any], *, config: str) -> RowFacts:
    """The facts of one row as stored (at least the columns :func:`fact_columns` names)."""
    spec = dataset_config(config)
    try:
        metadata = json.loads(row["metadata"] or "{}")
    except json.JSONDecodeError:
        metadata = {"<unparsable metadata>": row["metadata"]}
    return RowFacts(config=config, split=row["split"], id=row["id"], source=row["source"] or "",
                    license=row["license"] or "", redistributable=bool(row["redistributable"]),
                    has_image_bytes=any(_has_bytes(row[c]) for c in spec.image_columns), image_origins=spec.origins(row),
                    metadata=metadata if isinstance(metadata, dict) else {"<metadata>": metadata},
                    modality=row["modality"] or "", review=row["review"])


def fact_columns(config: str) -> list[str]:
    spec = dataset_config(config)
    return ["id", "split", "source", "license", "redistributable", "metadata", "modality", "review",
            spec.origin_column, *spec.image_columns]


def iter_row_facts(folder: str | os.PathLike[str]) -> Iterator[RowFacts]:
    """Provenance facts for every row of every configuration, streamed shard by shard."""
    for config in folder_configs(folder):
        for row in iter_rows(folder, config=config, columns=fact_columns(config)):
            yield row_facts(row, config=config)


@dataclass
class LicenceReport:
    """Per source: rows, licences, and rows whose images may not be redistributed."""

    rows: dict[str, int] = field(default_factory=dict)
    licenses: dict[str, set[str]] = field(default_factory=dict)
    restricted_rows: dict[str, int] = field(default_factory=dict)
    restricted_with_images: dict[str, int] = field(default_factory=dict)

    def count(self, *, source: str, license: str, redistributable: bool, has_image_bytes: bool,
              rows: int = 1) -> None:
        """Count ``rows`` rows of ``source`` with this licence, flag and image bytes (or not)."""
        self.rows[source] = self.rows.get(source, 0) + rows
        self.licenses.setdefault(source, set()).add(license)
        if not allows_image_redistribution(license=license, redistributable=redistributable):
            self.restricted_rows[source] = self.restricted_rows.get(source, 0) + rows
            if has_image_bytes:
                self.restricted_with_images[source] = self.restricted_with_images.get(source, 0) + rows

    @property
    def restricted_sources(self) -> list[str]:
        return sorted(source for source, count in self.restricted_rows.items() if count)

    @property
    def needs_gate(self) -> bool:
        return bool(self.restricted_sources)


def licence_report(folder: str | os.PathLike[str]) -> LicenceReport:
    report = LicenceReport()
    for facts in iter_row_facts(folder):
        report.count(source=facts.source, license=facts.license, redistributable=facts.redistributable,
                      has_image_bytes=facts.has_image_bytes)
    return report


def check_licences(folder: str | os.PathLike[str], *, annotations_only: bool,
                   report: LicenceReport | None = None) -> LicenceReport:
    """Refuse image bytes from rows whose source does not allow redistribution (unless ``annotations_only``,
    which publishes no image bytes at all). ``report``: the folder's report when already known (from its
    verified facts, :mod:`vgmed_data.facts`); else every row is read."""
    report = licence_report(folder) if report is None else report
    blocked = {s: n for s, n in report.restricted_with_images.items() if n}
    if blocked and not annotations_only:
        named = ", ".join(f"{source} ({count} rows, licence {', '.join(sorted(report.licenses[source])) or '?'})"
                          for source, count in sorted(blocked.items()))
        raise PublishRefusedError(
            f"the licence guard refuses to publish images from sources that do not allow redistribution: {named}",
            path=folder,
            fix="publish with --annotations-only (annotations and pointers behind a gate; researchers with "
                "access restore the images with `vgmed hydrate`), or drop those sources from the build. "
                f"Licences that allow it: {', '.join(REDISTRIBUTABLE_LICENSES)}",
        )
    return report


def metadata_phi(metadata: Mapping[str, Any]) -> list[str]:
    """Identifying DICOM attributes that still carry a value in a row's metadata (as ``path.to.Key``).

    ``PatientIdentityRemoved: YES`` counts where it sits: it covers the mapping that holds it and everything
    nested under that mapping (builders put DICOM tags under ``metadata["dicom"]``), not its siblings' subtrees.
    """
    keys = _identifying_keys()
    found: list[str] = []

    def walk(value: Any, path: str, removed: bool) -> None:
        if isinstance(value, Mapping):
            removed = removed or _identity_removed(value)
            for key, item in value.items():
                keyword = keys.get(_normalise(str(key)))
                here = f"{path}.{key}" if path else str(key)
                if keyword is not None and _carries_value(item):
                    if removed and (keyword.endswith(("Date", "Time", "DateTime")) or
                                    keyword in ("PatientName", "PatientID")):
                        continue
                    if keyword.endswith("UID") and str(item).startswith("2.25."):
                        continue
                    found.append(here)
                else:
                    walk(item, here, removed)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]", removed)

    walk(metadata, "", False)
    return found


def _identity_removed(mapping: Mapping[Any, Any]) -> bool:
    """Whether this mapping itself says ``PatientIdentityRemoved: YES`` (by keyword or tag 0012,0062)."""
    return any(_normalise(str(k)) in ("patientidentityremoved", "00120062") and str(v).strip().upper() == "YES"
               for k, v in mapping.items())


def _carries_value(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, (list, tuple, dict)):
        return len(value) > 0
    return bool(str(value).strip())


DICOM_IMAGE = "image from a DICOM that was not de-identified (image_origin 'dicom')"


def row_phi(facts: RowFacts, *, images_published: bool) -> list[str]:
    """Why the PHI guard refuses this row (empty: it does not)."""
    problems = []
    if images_published and raw_dicom_image(facts):
        problems.append(DICOM_IMAGE)
    leaked = metadata_phi(facts.metadata)
    if leaked:
        problems.append(f"metadata carries identifying values: {', '.join(leaked)}")
    return problems


def raw_dicom_image(facts: RowFacts) -> bool:
    """Whether the row carries image bytes rendered from a DICOM that was not de-identified."""
    return facts.has_image_bytes and "dicom" in facts.image_origins


def check_phi(folder: str | os.PathLike[str], *, images_published: bool) -> None:
    """Refuse when metadata carries identifying values, or (when images go out) an image came from a DICOM
    that was not de-identified. Names up to :data:`MAX_NAMED` rows."""
    findings: list[str] = []
    for facts in iter_row_facts(folder):
        problems = row_phi(facts, images_published=images_published)
        if problems:
            findings.append(f"{facts.where}: {'; '.join(problems)}")
    if findings:
        more = f" (and {len(findings) - MAX_NAMED} more rows)" if len(findings) > MAX_NAMED else ""
        raise PublishRefusedError(
            f"the PHI guard refuses to publish {len(findings)} row(s): " + " | ".join(findings[:MAX_NAMED]) + more,
            path=folder,
            fix="rebuild with de-identified DICOM (vgmed_data.imaging.deid.deidentify; image_origin "
                "'dicom-deidentified') and keep only safe tags in metadata (vgmed_data.imaging.dicom.safe_metadata)",
        )
