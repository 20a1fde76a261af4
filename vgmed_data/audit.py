"""``vgmed audit FOLDER [--against FOLDER_OR_HUB_ID ...]``: duplicates and patient leakage before a release.

What is checked, over every image of every configuration (``vgmed`` rows' ``image``, ``sequences`` rows'
``images``; rows without image bytes, as in annotations-only releases, by their ``image_sha256`` fingerprint):

* **exact duplicates**: one decoded-pixel fingerprint (:func:`vgmed_data.imagehash.pixel_sha256`) used by rows
  of two splits, or of two sources, of the dataset; or present in the dataset and in a dataset it is audited
  against;
* **near duplicates**: two different images whose perceptual hashes (:mod:`vgmed_data.imagehash`, the mirror
  images' hashes included) are within ``threshold`` bits, again across splits, across sources, or across
  datasets. Pairs inside one split of one source are not findings (neighbouring slices of one volume, two
  windows of one slice: patient-level splits keep them together on purpose);
* **patient leakage**: one pseudonymous patient (``source`` + ``patient_id``) with rows in two splits.

Cross-split duplicates and patient leakage make a release leak (``leaks`` in the JSON): ``vgmed publish``
refuses it unless ``--allow-leaks``. Cross-source and cross-dataset findings are reported, not refused: the same
image under two names is for the dataset team to judge.

Perceptual hashes are computed once: the builders write them into ``image_hashes.json`` beside the shards
(pixel fingerprint -> hashes, :func:`write_image_hashes`); the audit reads them from there and hashes only
images the file lacks. Folders are read as they are; a Hub id is downloaded (its ``data/`` shards and card)
into ``$HF_HOME/vgmed-audit/<org>--<name>`` first, so it must be in this project's folder layout (``vgmed import`` brings other formats
into it).

Outputs (:func:`write_outputs`): ``audit.json`` (every finding), ``audit.md`` (the table printed on the
terminal) and ``contact_sheet.html`` (each pair side by side, thumbnails embedded).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from vgmed_data.configs import dataset_config
from vgmed_data.errors import InvalidInputError, SourceNotFoundError
from vgmed_data.folder import folder_configs, open_shard
from vgmed_data.imagehash import (ALGORITHM, NEAR_THRESHOLD, HammingIndex, PerceptualHash, image_sha256,
                                  perceptual_hash)
from vgmed_data.locations import local_or_hub
from vgmed_data.manifest import IMAGE_HASHES_NAME as HASHES_NAME
from vgmed_data.staging import staged_file

MAX_SHEET_PAIRS = 200
THUMBNAIL = 160


@dataclass(frozen=True)
class Use:
    """One place an image is used: a row (and the image's index in a ``sequences`` row)."""

    config: str
    split: str
    source: str
    patient: str
    row: str
    shard: str  # relative path of the shard, for the contact sheet
    position: int  # row number inside the shard
    index: int | None  # image index in a sequences row


@dataclass
class Images:
    """Every distinct image of one dataset (by pixel fingerprint) and where it is used."""

    name: str
    root: Path
    uses: dict[str, list[Use]] = field(default_factory=lambda: defaultdict(list))
    hashes: dict[str, PerceptualHash] = field(default_factory=dict)
    patients: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    rows: int = 0
    unhashed: int = 0  # images without bytes and without a stored perceptual hash (exact matching only)


# ------------------------------------------------------------------------------------------------ reading
def image_cells(row: dict[str, Any], config: str) -> Iterator[tuple[int | None, bytes | None, str | None]]:
    """(index, encoded bytes, stored fingerprint) of each image of a row."""
    spec = dataset_config(config)
    prints = spec.fingerprints(json.loads(row.get("metadata") or "{}"))
    for position, (index, cell) in enumerate(spec.images(row)):
        yield index, (cell or {}).get("bytes"), prints[position] if position < len(prints) else None


def read_hashes(folder: Path) -> dict[str, PerceptualHash]:
    """The folder's stored perceptual hashes (empty when there is no file or it was made by another algorithm)."""
    path = folder / HASHES_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        if data.get("algorithm") != ALGORITHM:
            return {}
        return {key: PerceptualHash.from_text(text) for key, text in data["images"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}  # a damaged cache is recomputed, never trusted


def _fingerprint(images: Images, data: bytes | None, stored_print: str | None,
                 stored: dict[str, PerceptualHash]) -> str | None:
    """The image's pixel fingerprint, its perceptual hash recorded in ``images`` (from ``stored`` when there,
    else computed, decoding the image once)."""
    if stored_print and (stored_print in stored or not data):
        if stored_print in stored:
            images.hashes[stored_print] = stored[stored_print]
        return stored_print
    if not data:
        return None
    with Image.open(io.BytesIO(data)) as image:
        key = image_sha256(image)
        if key not in images.hashes:
            images.hashes[key] = stored.get(key) or perceptual_hash(image)
    return key


def collect(folder: Path, *, name: str) -> Images:
    """Read every row of ``folder`` (columns needed only): fingerprints, perceptual hashes, uses, patients."""
    configs = folder_configs(folder)
    if not configs:
        raise SourceNotFoundError("no configurations (data/<config>/*.parquet) in the folder", path=folder,
                                  fix="pass a dataset folder; bring other formats in with `vgmed import`")
    images = Images(name=name, root=folder)
    stored = read_hashes(folder)
    for config, splits in sorted(configs.items()):
        column = dataset_config(config).image_column
        for split, shards in sorted(splits.items()):
            for relative in shards:
                parquet = open_shard(folder / relative)
                wanted = [c for c in ("id", column, "source", "patient_id", "split", "metadata")
                          if c in parquet.schema_arrow.names]
                position = 0
                for batch in parquet.iter_batches(columns=wanted):
                    for row in batch.to_pylist():
                        images.rows += 1
                        row_split = str(row.get("split") or split)
                        patient = f"{row.get('source', '')}/{row.get('patient_id', '')}"
                        if row.get("patient_id"):
                            images.patients[patient].add(row_split)
                        for index, data, stored_print in image_cells(row, config):
                            key = _fingerprint(images, data, stored_print, stored)
                            if key is None:
                                continue
                            images.uses[key].append(Use(config, row_split, str(row.get("source", "")), patient,
                                                        str(row.get("id", "")), relative, position, index))
                        position += 1
    images.unhashed = sum(1 for key in images.uses if key not in images.hashes)
    return images


def write_image_hashes(folder: str | os.PathLike[str], hashes: Mapping[str, PerceptualHash] | None = None) -> Path:
    """Write ``image_hashes.json``: ``hashes`` (pixel fingerprint -> perceptual hash), by default those of every
    image of the folder, read and decoded here (the folder writer passes the hashes it computed while writing)."""
    root = Path(folder)
    if hashes is None:
        # a build whose every row was withheld or skipped writes no shard: an empty list, not an error
        hashes = collect(root, name=str(root)).hashes if folder_configs(root) else {}
    path = root / HASHES_NAME
    data = {"algorithm": ALGORITHM, "images": {key: hashes[key].to_text() for key in sorted(hashes)}}
    with staged_file(path, what="image hashes") as staged:  # a fresh name: never written through a planted link
        staged.write_text(json.dumps(data, indent=0) + "\n")
    return path


def open_location(value: str, *, what: str) -> tuple[Path, str]:
    """A local folder, or a Hub dataset id downloaded into the Hub cache: (folder, name to show)."""
    location = local_or_hub(value, what=what)
    if isinstance(location, Path):
        if not location.is_dir():
            raise InvalidInputError(f"the {what} is not a folder", path=location, fix="pass a dataset folder")
        return location, str(value)
    from huggingface_hub import constants, snapshot_download

    from vgmed_data.locations import hub_error

    # real files in a folder of our own: the cache's snapshot holds links out of the folder, which readers refuse
    local = Path(constants.HF_HOME) / "vgmed-audit" / location.replace("/", "--")
    try:
        path = snapshot_download(location, repo_type="dataset", local_dir=local,
                                 allow_patterns=["data/**", "README.md", HASHES_NAME])
    except Exception as error:  # noqa: BLE001 - mapped to one typed error by type
        raise hub_error(error, repo_id=location, repo_type="dataset") from error
    return Path(path), location


# ------------------------------------------------------------------------------------------------ findings
@dataclass(frozen=True)
class Pair:
    kind: str  # "exact" | "near"
    scope: tuple[str, ...]  # "cross-split", "cross-source", "against:<name>"
    distance: int
    first: tuple[str, str]  # (dataset name, fingerprint)
    second: tuple[str, str]


def _scope(a: list[Use], b: list[Use]) -> tuple[str, ...]:
    scope = []
    if any(x.split != y.split for x in a for y in b):
        scope.append("cross-split")
    if any(x.source != y.source for x in a for y in b):
        scope.append("cross-source")
    return tuple(scope)


def _within(images: Images, threshold: int) -> list[Pair]:
    pairs = []
    for key, uses in images.uses.items():
        scope = _scope(uses, uses)
        if scope:
            pairs.append(Pair("exact", scope, 0, (images.name, key), (images.name, key)))
    keys = sorted(images.hashes)
    if len(keys) < 2:
        return pairs
    plain = np.array([images.hashes[k].plain for k in keys], dtype=np.uint64)
    index = HammingIndex(plain, threshold=threshold)
    best: dict[tuple[int, int], int] = {}
    for variant in ("plain", "mirrored_lr", "mirrored_ud"):
        queries = np.array([getattr(images.hashes[k], variant) for k in keys], dtype=np.uint64)
        for q, p, d in zip(*index.search(queries)):
            if q != p:
                pair = (min(int(q), int(p)), max(int(q), int(p)))
                best[pair] = min(best.get(pair, 99), int(d))
    for (i, j), distance in sorted(best.items()):
        scope = _scope(images.uses[keys[i]], images.uses[keys[j]])
        if scope:
            pairs.append(Pair("near", scope, distance, (images.name, keys[i]), (images.name, keys[j])))
    return pairs


def _against(images: Images, other: Images, threshold: int) -> list[Pair]:
    scope = (f"against:{other.name}",)
    pairs = [Pair("exact", scope, 0, (images.name, key), (other.name, key))
             for key in sorted(set(images.uses) & set(other.uses))]
    mine, theirs = sorted(images.hashes), sorted(other.hashes)
    if not mine or not theirs:
        return pairs
    index = HammingIndex(np.array([other.hashes[k].plain for k in theirs], dtype=np.uint64), threshold=threshold)
    best: dict[tuple[int, int], int] = {}
    for variant in ("plain", "mirrored_lr", "mirrored_ud"):
        queries = np.array([getattr(images.hashes[k], variant) for k in mine], dtype=np.uint64)
        for q, p, d in zip(*index.search(queries)):
            if mine[int(q)] != theirs[int(p)]:
                best[(int(q), int(p))] = min(best.get((int(q), int(p)), 99), int(d))
    pairs += [Pair("near", scope, d, (images.name, mine[q]), (other.name, theirs[p])) for (q, p), d in sorted(best.items())]
    return pairs


@dataclass
class AuditResult:
    dataset: Images
    others: list[Images]
    threshold: int
    pairs: list[Pair]
    patient_overlap: dict[str, list[str]]  # "source/patient" -> splits

    @property
    def cross_split(self) -> list[Pair]:
        return [p for p in self.pairs if "cross-split" in p.scope]

    @property
    def leaks(self) -> dict[str, int]:
        """What makes a release leak (refused by ``vgmed publish``): counts by kind."""
        return {"cross-split exact duplicates": sum(p.kind == "exact" for p in self.cross_split),
                "cross-split near duplicates": sum(p.kind == "near" for p in self.cross_split),
                "patients in several splits": len(self.patient_overlap)}

    def summary(self) -> dict[str, Any]:
        """What the card's Checks section and the folder facts record: the hash, threshold, counts."""
        return {"algorithm": ALGORITHM, "threshold": self.threshold, "leaks": self.leaks, "counts": self.counts(),
                "images": len(self.dataset.uses), "rows": self.dataset.rows}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for pair in self.pairs:
            for scope in pair.scope:
                out[f"{pair.kind} {scope}"] += 1
        return dict(sorted(out.items()))

    def sets(self) -> dict[str, Images]:
        return {images.name: images for images in [self.dataset, *self.others]}

    def to_json(self) -> dict[str, Any]:
        sets = self.sets()

        def side(name: str, key: str) -> dict[str, Any]:
            uses = sets[name].uses[key]
            return {"dataset": name, "image_sha256": key,
                    "rows": [{"config": u.config, "split": u.split, "source": u.source, "id": u.row,
                              **({"image_index": u.index} if u.index is not None else {})} for u in uses]}

        return {
            "dataset": self.dataset.name, "against": [o.name for o in self.others],
            "hash": ALGORITHM, "near_threshold_bits": self.threshold,
            "images": {s.name: {"rows": s.rows, "images": len(s.uses), "exact_only": s.unhashed} for s in sets.values()},
            "leaks": self.leaks, "counts": self.counts(),
            "patients_in_several_splits": [{"patient": p, "splits": s} for p, s in sorted(self.patient_overlap.items())],
            "pairs": [{"kind": p.kind, "scope": list(p.scope), "distance": p.distance,
                       "first": side(*p.first), "second": side(*p.second)} for p in self.pairs],
        }


def audit(folder: Path, *, name: str, against: Sequence[tuple[Path, str]] = (),
          threshold: int = NEAR_THRESHOLD) -> AuditResult:
    """Audit the dataset in ``folder`` on its own and against each ``(folder, name)``."""
    if not 0 <= threshold <= 32:
        raise InvalidInputError(f"near-duplicate threshold {threshold} is outside 0..32 bits",
                                fix=f"use --threshold between 0 and 32 (default {NEAR_THRESHOLD})")
    dataset = collect(folder, name=name)
    others = [collect(path, name=other) for path, other in against]
    return audit_images(dataset, others=others, threshold=threshold)


def audit_images(dataset: Images, *, others: Sequence[Images] = (), threshold: int = NEAR_THRESHOLD) -> AuditResult:
    """The audit of images already collected (:func:`collect`, or the folder writer while it writes)."""
    pairs = _within(dataset, threshold)
    for other in others:
        pairs += _against(dataset, other, threshold)
    overlap = {p: sorted(s) for p, s in sorted(dataset.patients.items()) if len(s) > 1}
    return AuditResult(dataset, list(others), threshold, pairs, overlap)


# ------------------------------------------------------------------------------------------------ outputs
def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(result: AuditResult) -> str:
    """The readable summary: counts, leaks, then one line per pair (first 50)."""
    lines = [f"Audit of {result.dataset.name}: {result.dataset.rows} rows, {len(result.dataset.uses)} images; "
             f"near duplicates: perceptual hash ({ALGORITHM}) within {result.threshold} of 64 bits, mirror images "
             "included" + (f"; against {', '.join(o.name for o in result.others)}" if result.others else ""), "",
             "| check | count |", "|---|---|"]
    lines += [f"| {_cell(k)} | {v} |" for k, v in result.leaks.items()]
    lines += [f"| {_cell(k)} | {v} |" for k, v in result.counts().items() if "cross-split" not in k]
    sets = result.sets()
    if result.pairs:
        lines += ["", "| kind | scope | bits | first | second |", "|---|---|---|---|---|"]
        for pair in result.pairs[:50]:
            a, b = (sets[n].uses[k][0] for n, k in (pair.first, pair.second))
            lines.append(f"| {pair.kind} | {_cell(', '.join(pair.scope))} | {pair.distance} | "
                         f"{_cell(f'{pair.first[0]}: {a.split}/{a.source}/{a.row}')} | "
                         f"{_cell(f'{pair.second[0]}: {b.split}/{b.source}/{b.row}')} |")
        if len(result.pairs) > 50:
            lines.append(f"| ... | {len(result.pairs) - 50} more in audit.json | | | |")
    for patient, splits in list(result.patient_overlap.items())[:50]:
        lines.append(f"- patient {_cell(patient)} has rows in splits {', '.join(splits)}")
    return "\n".join(lines) + "\n"


def _thumbnails(result: AuditResult, pairs: list[Pair]) -> dict[tuple[str, str], str]:
    """(dataset, fingerprint) -> data URI of a PNG thumbnail ('' when the release holds no image bytes)."""
    sets = result.sets()
    wanted: dict[tuple[str, str, str], list[tuple[int, int | None, tuple[str, str]]]] = defaultdict(list)
    for pair in pairs:
        for name, key in (pair.first, pair.second):
            use = sets[name].uses[key][0]
            wanted[(name, use.shard, use.config)].append((use.position, use.index, (name, key)))
    out: dict[tuple[str, str], str] = {}
    for (name, shard, config), items in wanted.items():
        column = dataset_config(config).image_column
        table_ = pq.read_table(sets[name].root / shard, columns=[column])
        cells = table_.column(column).take([position for position, _, _ in items]).to_pylist()
        for (_, index, ident), cell in zip(items, cells):
            cell = cell[index] if index is not None and cell else cell
            data = (cell or {}).get("bytes")
            if not data:
                out[ident] = ""
                continue
            with Image.open(io.BytesIO(data)) as image:
                image.thumbnail((THUMBNAIL, THUMBNAIL))
                buffer = io.BytesIO()
                image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(buffer, "PNG")
            out[ident] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return out


def contact_sheet(result: AuditResult) -> str:
    """HTML: each pair (first 200) side by side with where each image is used."""
    pairs = result.pairs[:MAX_SHEET_PAIRS]
    thumbs = _thumbnails(result, pairs)
    sets = result.sets()
    parts = ["<!doctype html><meta charset='utf-8'><title>vgmed audit</title>",
             "<style>body{font-family:sans-serif}figure{display:inline-block;margin:4px;vertical-align:top}"
             "div.pair{border-bottom:1px solid #ccc;padding:6px}img{max-width:160px;image-rendering:pixelated}</style>",
             f"<h1>Audit of {html.escape(result.dataset.name)}</h1>",
             f"<p>{len(result.pairs)} pair(s); near: within {result.threshold} of 64 bits.</p>"]
    for pair in pairs:
        parts.append(f"<div class='pair'><p>{html.escape(pair.kind)} · {html.escape(', '.join(pair.scope))} · "
                     f"{pair.distance} bits</p>")
        for name, key in (pair.first, pair.second):
            uses = sets[name].uses[key]
            caption = "; ".join(f"{u.split}/{u.source}/{u.row}" for u in uses[:3]) + (" ..." if len(uses) > 3 else "")
            src = thumbs.get((name, key), "")
            image = f"<img src='{src}' alt='image'>" if src else "<p>(no image bytes in this release)</p>"
            parts.append(f"<figure>{image}<figcaption>{html.escape(name)}<br>{html.escape(caption)}</figcaption>"
                         "</figure>")
        parts.append("</div>")
    return "\n".join(parts) + "\n"


def write_outputs(result: AuditResult, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("audit.json", json.dumps(result.to_json(), indent=2) + "\n"), ("audit.md", table(result)),
                       ("contact_sheet.html", contact_sheet(result))):
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# ------------------------------------------------------------------------------------------------ command
def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="the dataset folder to audit (or a Hub dataset id, org/name)")
    parser.add_argument("--against", action="append", default=[], metavar="FOLDER_OR_HUB_ID",
                        help="another dataset to look for the same images in (a folder or a Hub id in this "
                             "project's layout, e.g. a benchmark brought in with `vgmed import`); repeatable")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write audit.json, audit.md and contact_sheet.html here (default: print the table only)")
    parser.add_argument("--threshold", type=int, default=NEAR_THRESHOLD, metavar="BITS",
                        help=f"near duplicates: at most this many of the 64 perceptual-hash bits differ "
                             f"(default: {NEAR_THRESHOLD})")
    parser.epilog = ("exit status: 0 when the release does not leak, 1 when it has cross-split duplicates or "
                     "patients in several splits, 2 on bad input")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    folder, name = open_location(args.folder, what="dataset")
    against = [open_location(value, what="--against dataset") for value in args.against]
    result = audit(folder, name=name, against=against, threshold=args.threshold)
    print(table(result), end="")
    if args.out is not None:
        for path in write_outputs(result, args.out):
            print(f"wrote {path}")
    return 1 if any(result.leaks.values()) else 0
