"""Writing one configuration of a dataset folder (:func:`write_config`), its facts recorded on the way.

Writing is streamed (rows are buffered per shard, never the whole dataset) into a temporary folder beside the
target and moved into place at the end, so an interrupted write never leaves a folder that looks complete. Each
shard is encoded in memory, its rows checked and counted from those bytes (:class:`vgmed_data.facts.FactsRecorder`),
then written; at the end the configuration's facts go into ``manifest.json`` (other configurations' facts are kept
when the same checking code recorded them) and the perceptual hashes of its images into ``image_hashes.json``.
Every command that writes rows goes through here, so a folder's facts are true of the shards it wrote; a command
that moves configurations written elsewhere into a folder (``vgmed hydrate``) carries their facts with
:func:`adopt_facts`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from vgmed_data.audit import read_hashes, write_image_hashes
from vgmed_data.errors import InvalidInputError, SchemaError
from vgmed_data.facts import FactsRecorder, encode_shard, rules_digest
from vgmed_data.folder import ROW_GROUP_ROWS, FolderSummary, folder_configs, shard_name, write_card
from vgmed_data.imagehash import PerceptualHash
from vgmed_data.manifest import ConfigFacts, FolderFacts, Manifest, read_manifest, write_manifest
from vgmed_data.configs import features_for
from vgmed_data.schema import SPLITS, GroundingSample, SequenceSample, storage_row
from vgmed_data.staging import staged_folder, staging_dir


def write_config(
    folder: str | os.PathLike[str],
    samples: Iterable[GroundingSample | SequenceSample | Mapping[str, Any]],
    *,
    config: str,
    shard_rows: int = 2000,
    card_body: str | None = None,
    known_hashes: Mapping[str, PerceptualHash] | None = None,
) -> FolderSummary:
    """Write (or replace) one configuration of a dataset folder, refresh its README YAML and record its facts.

    Rows keep their input order within each split (builders sort them, so output bytes are reproducible).
    Ids must be unique within the configuration. Other configurations already in the folder are kept.
    ``known_hashes``: perceptual hashes by pixel fingerprint for images the rows hold only as a fingerprint
    (annotations-only rows; the source folder's ``image_hashes.json``).
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise InvalidInputError("the output folder is a file", path=target, fix="choose a folder path")
    known = dict(known_hashes or {})
    if not target.exists():  # a new folder appears whole, README and facts included, or not at all
        with staged_folder(target, what="dataset folder") as building:
            summary = _write_config(building, samples, config=config, shard_rows=shard_rows, card_body=card_body,
                                    known=known)
        summary.path = target
        return summary
    return _write_config(target, samples, config=config, shard_rows=shard_rows, card_body=card_body, known=known)


def _write_config(target: Path, samples: Iterable[GroundingSample | SequenceSample | Mapping[str, Any]], *,
                  config: str, shard_rows: int, card_body: str | None,
                  known: Mapping[str, PerceptualHash]) -> FolderSummary:
    folder_configs(target)  # data/ or data/<config> as a link out of the folder is refused, never written through
    read_manifest(target)  # a manifest the facts cannot be added to is refused before anything is written
    features = features_for(config)
    schema = features.arrow_schema
    staging = staging_dir(target)
    seen: set[str] = set()
    counts: dict[str, int] = {}
    parts: dict[str, list[Path]] = {}
    order: list[tuple[str, int]] = []  # (split, part number) in the order the recorder saw them
    buffers: dict[str, list[dict[str, Any]]] = {}
    recorder = FactsRecorder(config=config, known_hashes=known)

    def flush(split: str) -> None:
        rows = buffers.pop(split, [])
        if not rows:
            return
        path = staging / f"{split}-part{len(parts.setdefault(split, [])):05d}.parquet"
        data = encode_shard(pa.Table.from_pylist(rows, schema=schema), row_group_rows=ROW_GROUP_ROWS)
        recorder.add_shard(split, data)
        path.write_bytes(data)
        order.append((split, len(parts[split])))
        parts[split].append(path)

    try:
        for sample in samples:
            row = storage_row(sample, features=features)
            sample_id, split = row.get("id"), row.get("split")
            if sample_id in seen:
                raise SchemaError("duplicate sample id", record=str(sample_id), fix="ids must be unique per configuration")
            if split not in SPLITS:
                raise SchemaError(f"split {split!r} is not one of {', '.join(SPLITS)}", record=str(sample_id))
            seen.add(str(sample_id))
            buffers.setdefault(split, []).append(row)
            counts[split] = counts.get(split, 0) + 1
            if len(buffers[split]) >= shard_rows:
                flush(split)
        for split in list(buffers):
            flush(split)
        data_dir = target / "data" / config
        new_dir = staging / "final"
        new_dir.mkdir()
        summary = FolderSummary(target, {config: {}}, {config: {}})
        for split, files in sorted(parts.items()):
            names = []
            for index, path in enumerate(files):
                name = shard_name(split, index, len(files))
                path.rename(new_dir / name)
                names.append(f"data/{config}/{name}")
            summary.rows[config][split] = counts[split]
            summary.shards[config][split] = names
        if data_dir.exists():
            old = staging / "old"
            data_dir.rename(old)
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        new_dir.rename(data_dir)
        write_card(target, body=card_body)
        facts = recorder.finish([summary.shards[config][split][index] for split, index in order])
        _record(target, config, facts if facts.shards else None, hashes=recorder.hashes)
        return summary
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _record(target: Path, config: str, facts: ConfigFacts | None, *, hashes: Mapping[str, PerceptualHash]) -> None:
    """Put ``config``'s facts into ``manifest.json`` (the build record and other configurations' facts recorded by
    this checking code kept) and its images' perceptual hashes into ``image_hashes.json``."""
    manifest = read_manifest(target) or Manifest()
    others = folder_configs(target).keys() - {config}
    kept: dict[str, ConfigFacts] = {}
    if manifest.facts is not None and manifest.facts.rules == rules_digest():
        kept = {name: value for name, value in manifest.facts.configs.items() if name in others}
    if facts is not None:
        kept[config] = facts
    write_manifest(target, replace(manifest, facts=FolderFacts(rules=rules_digest(), configs=kept)))
    # a fingerprint's hash is a function of its pixels: the other configurations' entries stay valid
    write_image_hashes(target, {**(read_hashes(target) if others else {}), **hashes})


def adopt_facts(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """After moving every configuration written in ``source`` (a staging folder) into ``target``: carry its facts
    and perceptual hashes, keeping ``target``'s build record."""
    written = read_manifest(source)
    manifest = read_manifest(target) or Manifest()
    if written is not None and written.facts is not None:
        write_manifest(target, replace(manifest, facts=written.facts))
    write_image_hashes(target, read_hashes(Path(source)))
