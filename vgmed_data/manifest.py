"""``manifest.json``: how a dataset folder was built, written by the builders and read by the card.

One typed record, written and read by this module only (:func:`write_manifest`, :func:`read_manifest`), so the
builder and the card cannot drift apart again (they did: the builder wrote ``sources`` as a list, the card read
it as a mapping and ``vgmed publish`` crashed on every built folder).

The file is published with the dataset, so it holds nothing local or secret: no absolute paths (a source is
named by its registry key; ``inputs.sha256`` lists its files relative to the source root), no de-identification
key. Layout (JSON object)::

    toolkit, version, command, seed            who built it, with which options
    options                                    the builder's options (JSON values)
    sources: [{key, name, homepage, license, license_status, license_read_at, redistributable, split_unit,
               citation, access, files, inputs_sha256}, ...]
    deidentification (optional), environment (optional), name, description, created (optional)
    facts (optional)                           what the folder holds, recorded when it was written (below)

``facts`` (:class:`FolderFacts`) is written by the folder writer (:func:`vgmed_data.writer.write_config`) while
each configuration is written, never by the builders: ``rules`` (a digest of the checking code that produced
them) and per configuration its ``shards`` (path, bytes, sha256, rows, Arrow bytes), ``licences`` (rows per
source, licence, redistributable flag and whether they carry image bytes), ``phi`` (rows whose metadata carries
identifying values, rows with images from a DICOM that was not de-identified), ``problems`` (what
``vgmed validate`` would find in the rows, patient splits aside), ``rows_without_pointers`` (rows an
annotations-only release could not hydrate), ``card`` (modalities, review statuses,
annotators, agreements) and ``audit`` (the release audit of the configuration on its own).
:func:`write_manifest` keeps the facts already in the folder when the record it writes has none, so a builder
writing its build record after the rows cannot drop them. ``vgmed publish`` trusts them only after checking
every shard's size and sha256 against them (:mod:`vgmed_data.facts`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from vgmed_data.errors import FileFormatError
from vgmed_data.staging import staged_file
from vgmed_data.userfiles import INDEX_LIMIT, read_bounded

MANIFEST_NAME = "manifest.json"
BUILD_REPORT_NAME = "build_report.json"  # written beside it by `vgmed build vgmed`
IMAGE_HASHES_NAME = "image_hashes.json"  # perceptual hashes for the release audit (vgmed_data.audit)


@dataclass(frozen=True, kw_only=True)
class ManifestSource:
    """One source of a built folder, as the card presents it."""

    key: str
    license: str
    redistributable: bool
    license_status: str = ""  # stated | secondary | conflicting | unknown (vgmed_data.guards.LICENSE_STATUSES)
    license_read_at: str = ""  # where the licence was read
    split_unit: str = ""  # the unit no split divides: patient, study, volume, image, video or centre
    name: str = ""
    homepage: str = ""
    citation: str = ""
    access: str = ""  # how to obtain it when it is not a plain download (registration, data-use agreement)
    files: int = 0  # input files read from the source
    inputs_sha256: str = ""  # sha256 over the source's lines of inputs.sha256

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a manifest source needs a key")


@dataclass(frozen=True, kw_only=True)
class ShardFacts:
    """One shard as it was written: its path in the folder, size, sha256, rows and Arrow size (the card's
    ``num_bytes``: the sum of its row groups' ``nbytes`` as read back)."""

    path: str
    bytes: int
    sha256: str
    rows: int
    arrow_bytes: int

    @property
    def split(self) -> str:
        return self.path.rsplit("/", 1)[-1].split("-", 1)[0]


@dataclass(frozen=True, kw_only=True)
class ConfigFacts:
    """What one configuration held when it was written (see the module text)."""

    shards: tuple[ShardFacts, ...]
    licences: tuple[Mapping[str, Any], ...] = ()  # {source, license, redistributable, images, rows}
    phi: Mapping[str, int] = field(default_factory=dict)  # identifying_rows, dicom_image_rows
    problems: int = 0  # validation problems of the rows (patient splits aside: audit.patients)
    rows_without_pointers: int = 0  # rows an annotations-only release could not hydrate (no pointer to the source)
    card: Mapping[str, Any] = field(default_factory=dict)  # vgmed_data.card.CardFacts.to_json()
    audit: Mapping[str, Any] = field(default_factory=dict)  # algorithm, threshold, rows, images, leaks, counts

    def splits(self) -> dict[str, int]:
        """split -> rows."""
        rows: dict[str, int] = {}
        for shard in self.shards:
            rows[shard.split] = rows.get(shard.split, 0) + shard.rows
        return rows


@dataclass(frozen=True, kw_only=True)
class FolderFacts:
    """Facts of each configuration written, and the digest of the checking code that recorded them."""

    rules: str
    configs: Mapping[str, ConfigFacts] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"rules": self.rules, "configs": {name: {**asdict(facts), "shards": [asdict(s) for s in facts.shards],
                                                        "licences": [dict(g) for g in facts.licences]}
                                                 for name, facts in sorted(self.configs.items())}}

    @classmethod
    def from_json(cls, data: Any) -> "FolderFacts":
        """Raises ``TypeError``/``ValueError``/``KeyError`` on another layout (the caller names the file)."""
        configs = {}
        for name, item in dict(data["configs"]).items():
            shards = tuple(ShardFacts(**shard) for shard in item["shards"])
            configs[str(name)] = ConfigFacts(**{**item, "shards": shards, "licences": tuple(item.get("licences", ()))})
        return cls(rules=str(data["rules"]), configs=configs)


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """What built a dataset folder. ``sources`` keeps the build's order; :meth:`source` looks one up by key.
    A folder written by a command that records no build (``vgmed import``, the demo, a test) has a manifest
    holding only ``facts``: :attr:`built` is False."""

    command: str = ""
    version: str = ""
    toolkit: str = "vgmed-data"
    seed: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[ManifestSource, ...] = ()
    deidentification: Mapping[str, Any] | None = None
    environment: Mapping[str, Any] | None = None
    name: str = ""
    description: str = ""
    created: str = ""  # left empty by the builders: a date would break byte-identical rebuilds
    facts: FolderFacts | None = None

    def __post_init__(self) -> None:
        keys = [source.key for source in self.sources]
        if len(set(keys)) != len(keys):
            raise ValueError(f"a source appears twice in the manifest: {sorted(keys)}")

    @property
    def built(self) -> bool:
        return bool(self.command)

    def source(self, key: str) -> ManifestSource | None:
        return next((source for source in self.sources if source.key == key), None)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["sources"] = [asdict(source) for source in self.sources]
        data["facts"] = None if self.facts is None else self.facts.to_json()
        if not self.built:  # a manifest of facts only
            data = {"facts": data["facts"]}
        return {key: value for key, value in data.items() if value not in (None, "")}

    @classmethod
    def from_json(cls, data: Any, *, path: str | os.PathLike[str] | None = None) -> "Manifest":
        fix = "rebuild the folder with `vgmed build`, or delete the file to publish without build details"
        if not isinstance(data, Mapping):
            raise FileFormatError("the manifest is not a JSON object", path=path, fix=fix)
        sources = data.get("sources") or []
        if not isinstance(sources, list) or not all(isinstance(item, Mapping) for item in sources):
            raise FileFormatError("'sources' must be a list of objects with a 'key' (the format `vgmed build` "
                                  "writes)", path=path, fix=fix)
        known = {f.name for f in fields(cls)}
        source_known = {f.name for f in fields(ManifestSource)}
        try:
            parsed = tuple(ManifestSource(**{k: v for k, v in item.items() if k in source_known}) for item in sources)
            facts = None if data.get("facts") is None else FolderFacts.from_json(data["facts"])
            return cls(**{**{k: v for k, v in data.items() if k in known}, "sources": parsed, "facts": facts})
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            raise FileFormatError(f"the manifest does not match the expected layout ({error})", path=path,
                                  fix=fix) from None


def toolkit_version() -> str:
    """The installed vgmed-data version (``unknown`` when run from a tree that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vgmed-data")
    except PackageNotFoundError:
        return "unknown"


def write_manifest(folder: str | os.PathLike[str], manifest: Manifest) -> Path:
    """Write ``manifest.json``; a manifest without ``facts`` keeps the facts already recorded in the folder."""
    path = Path(folder) / MANIFEST_NAME
    if manifest.facts is None:
        recorded = read_manifest(folder)
        if recorded is not None and recorded.facts is not None:
            manifest = replace(manifest, facts=recorded.facts)
    with staged_file(path, what="manifest") as staged:  # a fresh name: never written through a planted link
        staged.write_text(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n")
    return path


def copy_build_records(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Carry the build record of ``manifest.json`` (checked through :class:`Manifest`; the target keeps its own
    facts, recorded when its rows were written) and ``build_report.json`` from a built folder to a folder
    derived from it (reviewed by ``annotate finalize``, stripped for an annotations-only release), so the card of
    the derived release still says how its rows were built."""
    manifest = read_manifest(source)
    if manifest is not None and manifest.built:
        write_manifest(target, replace(manifest, facts=None))
    if (Path(source) / BUILD_REPORT_NAME).exists():
        shutil.copy2(Path(source) / BUILD_REPORT_NAME, Path(target) / BUILD_REPORT_NAME)


def read_manifest(folder: str | os.PathLike[str]) -> Manifest | None:
    """The folder's manifest, or None when it has none; :class:`FileFormatError` naming the file when it is
    not JSON or not in the layout above."""
    path = Path(folder) / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        data = json.loads(read_bounded(path, limit=INDEX_LIMIT, what=MANIFEST_NAME))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FileFormatError(f"not valid JSON ({error})", path=path,
                              fix="rebuild the folder with `vgmed build`, or delete the file") from None
    return Manifest.from_json(data, path=path)
