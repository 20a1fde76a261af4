"""Folder facts: what a dataset folder holds, recorded once while its rows are written, verified cheaply before a
publish.

**Recording** (:class:`FactsRecorder`, driven by :func:`vgmed_data.writer.write_config`): each shard is encoded in
memory, read back from that buffer (the exact rows and Arrow sizes a reader of the file gets, without reading the
disk), and every row goes once through what ``vgmed publish`` otherwise checks by reading the folder four or five
times: the row checks of ``vgmed validate`` (:func:`vgmed_data.validate.check_row`, every image decoded), the licence
rule's inputs (:meth:`vgmed_data.guards.LicenceReport.count`), the PHI guard (:func:`vgmed_data.guards.row_phi`),
the card's counts (:class:`vgmed_data.card.CardFacts`) and the release audit's inputs (pixel fingerprint and
perceptual hash of each image, computed from the image the row checks decoded; patients per split). The
configuration's :class:`~vgmed_data.manifest.ConfigFacts` go into ``manifest.json`` and its perceptual hashes
into ``image_hashes.json``.

**Verifying** (:func:`verify`): the facts are used only when they were recorded by this checking code (``rules``:
a digest of the modules that check rows, :func:`rules_digest`), name exactly the shards on disk, and every
shard's size and sha256 are as recorded. Anything else (no facts: a folder written by an older version; a shard
edited, added or removed after the folder was written; facts recorded by other checking code) sends publishing
back to the full checks, which read every row, with one line saying why. Verification reads each shard's bytes
once to hash them and decodes no row.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from vgmed_data import audit, card, configs, guards, imagehash, rowchecks, schema, validate
from vgmed_data.audit import Images, Use, audit_images, image_cells
from vgmed_data.card import CardFacts, SplitSizes
from vgmed_data.configs import dataset_config
from vgmed_data.folder import folder_configs
from vgmed_data.geometry import boxes
from vgmed_data.guards import LicenceReport, metadata_phi, raw_dicom_image, row_facts
from vgmed_data.imagehash import ALGORITHM, NEAR_THRESHOLD, PerceptualHash, image_sha256, perceptual_hash
from vgmed_data.imaging import deid
from vgmed_data.manifest import ConfigFacts, FolderFacts, ShardFacts, read_manifest
from vgmed_data.validate import check_row

CHUNK = 1 << 20


@cache
def rules_digest() -> str:
    """sha256 over the source of the code that checks rows and computes the facts: facts recorded by other code
    (another version, a changed rule) are not trusted."""
    modules: tuple[ModuleType, ...] = (validate, rowchecks, configs, guards, deid, schema, boxes, card, audit,
                                       imagehash)
    digest = hashlib.sha256()
    for path in (*(str(module.__file__) for module in modules), __file__):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


class FactsRecorder:
    """The facts of one configuration, gathered shard by shard while it is written."""

    def __init__(self, *, config: str, known_hashes: Mapping[str, PerceptualHash]) -> None:
        self.config = config
        self.known = known_hashes
        self.images = Images(name=config, root=Path("."))  # the audit's inputs: uses, patients, hashes
        self.hashes = self.images.hashes  # pixel fingerprint -> perceptual hash (written to image_hashes.json)
        self.card = CardFacts()
        self.licences: Counter[tuple[str, str, bool, bool]] = Counter()
        self.phi = {"identifying_rows": 0, "dicom_image_rows": 0}
        self.problems = 0
        self.rows_without_pointers = 0
        self.shards: list[tuple[str, int, str, int, int]] = []  # split, bytes, sha256, rows, Arrow bytes
        self._uses: set[tuple[str, str, str]] = set()

    def add_shard(self, split: str, data: bytes) -> None:
        """Record one shard's encoded bytes (every row read back from them once)."""
        parquet = pq.ParquetFile(pa.BufferReader(data))
        rows = arrow_bytes = 0
        for index in range(parquet.num_row_groups):
            table = parquet.read_row_group(index)
            arrow_bytes += table.nbytes
            for row in table.to_pylist():
                self._row(row, split)
                rows += 1
        self.shards.append((split, len(data), hashlib.sha256(data).hexdigest(), rows, arrow_bytes))

    def _row(self, row: dict[str, Any], split: str) -> None:
        decoded: dict[str, str] = {}  # "image" / "image N" -> pixel fingerprint

        def seen(what: str, image: Image.Image) -> None:
            if what == "image" or what.startswith("image "):
                key = decoded[what] = image_sha256(image)
                if key not in self.hashes:
                    self.hashes[key] = self.known.get(key) or perceptual_hash(image)

        self.problems += len(check_row(row, config=self.config, split=split, seen=seen))
        facts = row_facts(row, config=self.config)
        self.card.add(facts)
        self.licences[(facts.source, facts.license, facts.redistributable, facts.has_image_bytes)] += 1
        self.phi["identifying_rows"] += bool(metadata_phi(facts.metadata))
        self.phi["dicom_image_rows"] += raw_dicom_image(facts)
        self.rows_without_pointers += not dataset_config(self.config).has_pointers(row, facts.metadata)
        self.images.rows += 1
        patient = f"{facts.source}/{row.get('patient_id') or ''}"
        if row.get("patient_id"):
            self.images.patients[patient].add(facts.split)
        for index, data, stored_print in image_cells(row, self.config):
            key = decoded.get("image" if index is None else f"image {index}") if data else stored_print
            if key is None:
                continue  # an image that does not decode: a problem counted above
            if not data and key in self.known:
                self.hashes[key] = self.known[key]
            if (key, facts.split, facts.source) not in self._uses:  # the audit's scopes need one use per pair
                self._uses.add((key, facts.split, facts.source))
                self.images.uses[key].append(Use(self.config, facts.split, facts.source, patient, facts.id, "", 0,
                                                 index))

    def finish(self, paths: list[str]) -> ConfigFacts:
        """The configuration's facts, its shards named ``paths`` (in the order they were added)."""
        result = audit_images(self.images, threshold=NEAR_THRESHOLD)
        shards = tuple(ShardFacts(path=path, bytes=size, sha256=sha, rows=rows, arrow_bytes=arrow)
                       for path, (_, size, sha, rows, arrow) in zip(paths, self.shards, strict=True))
        licences = tuple({"source": source, "license": license, "redistributable": flag, "images": images,
                          "rows": count} for (source, license, flag, images), count in sorted(self.licences.items()))
        return ConfigFacts(shards=shards, licences=licences, phi=dict(self.phi), problems=self.problems,
                           rows_without_pointers=self.rows_without_pointers, card=self.card.to_json(),
                           audit=result.summary())


@dataclass(frozen=True)
class Verified:
    """Facts that :func:`verify` found true of the folder's files."""

    facts: FolderFacts

    @property
    def problems(self) -> int:
        return sum(config.problems for config in self.facts.configs.values())

    def rows_without_pointers(self) -> int:
        return sum(config.rows_without_pointers for config in self.facts.configs.values())

    def patients_in_several_splits(self) -> int:
        return sum(config.audit["leaks"]["patients in several splits"] for config in self.facts.configs.values())

    def phi_clean(self, *, images_published: bool) -> bool:
        return all(config.phi["identifying_rows"] == 0 and (not images_published or config.phi["dicom_image_rows"] == 0)
                   for config in self.facts.configs.values())

    def licence_report(self) -> LicenceReport:
        report = LicenceReport()
        for config in self.facts.configs.values():
            for group in config.licences:
                report.count(source=group["source"], license=group["license"],
                             redistributable=group["redistributable"], has_image_bytes=group["images"],
                             rows=group["rows"])
        return report

    def card_facts(self) -> CardFacts:
        facts = CardFacts()
        for name, config in sorted(self.facts.configs.items()):
            facts.merge(name, config.splits(), config.card)
        return facts

    def sizes(self) -> tuple[SplitSizes, dict[str, int]]:
        splits: dict[str, dict[str, tuple[int, int]]] = {}
        download: dict[str, int] = {}
        for name, config in self.facts.configs.items():
            per_split: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
            for shard in config.shards:
                size, rows = per_split[shard.split]
                per_split[shard.split] = (size + shard.arrow_bytes, rows + shard.rows)
            splits[name] = dict(per_split)
            download[name] = sum(shard.bytes for shard in config.shards)
        return splits, download

    def audit(self) -> Mapping[str, Any] | None:
        """The recorded release audit, when it covers the whole folder: one configuration (images shared by two
        configurations are only seen by reading both), hashed and searched as this version does."""
        if len(self.facts.configs) != 1:
            return None
        (recorded,) = self.facts.configs.values()
        if recorded.audit.get("algorithm") != ALGORITHM or recorded.audit.get("threshold") != NEAR_THRESHOLD:
            return None
        return recorded.audit


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(folder: str | os.PathLike[str]) -> tuple[Verified | None, str]:
    """The folder's recorded facts when they hold for its files, else ``None``; and one line saying which."""
    root = Path(folder)
    manifest = read_manifest(root)
    full = "running the full checks (every row is read)"
    if manifest is None or manifest.facts is None:
        return None, f"no folder facts in manifest.json (written by an older vgmed-data): {full}"
    facts = manifest.facts
    if facts.rules != rules_digest():
        return None, f"the folder facts were recorded by other checking code (another vgmed-data version): {full}"
    on_disk = folder_configs(root)
    for name in sorted(set(on_disk) | set(facts.configs)):
        if name not in facts.configs:
            return None, f"the '{name}' configuration has no folder facts (written by an older vgmed-data): {full}"
        disk = sorted(path for paths in on_disk.get(name, {}).values() for path in paths)
        recorded = {shard.path: shard for shard in facts.configs[name].shards}
        extra = sorted(set(disk) - set(recorded))
        if extra:
            return None, f"{extra[0]} is not in the folder facts (added after the folder was written): {full}"
        missing = sorted(set(recorded) - set(disk))
        if missing:
            return None, f"{missing[0]} is in the folder facts but not on disk: {full}"
        for path in disk:
            size = (root / path).stat().st_size
            if size != recorded[path].bytes:
                return None, (f"{path} changed after the folder was written ({size} bytes, {recorded[path].bytes} "
                              f"recorded): {full}")
            if file_sha256(root / path) != recorded[path].sha256:
                return None, f"{path} changed after the folder was written (its sha256 differs): {full}"
    shards = sum(len(config.shards) for config in facts.configs.values())
    return Verified(facts), f"folder facts verified ({shards} shard(s): sizes and sha256 as recorded)"


def encode_shard(table: pa.Table, *, row_group_rows: int) -> bytes:
    """A shard's bytes, as :func:`pyarrow.parquet.write_table` writes them to a file."""
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group_rows, compression="zstd")
    return sink.getvalue()
