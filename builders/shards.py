"""A ``vgmed build vgmed`` split over machines: ``--shard I/N`` builds one part, ``vgmed build merge`` joins them.

Every part lists all sources (headers only: cheap) exactly as the single-machine build does, so every part knows
the global record order (seeded shuffle, round-robin over sources). Part ``I`` then processes only the records
of the patients that fall to it, ``sha256(source, patient pseudonym) mod N == I`` (a deterministic partition by
patient: a patient's records are all in one part), and stores each record's result (rows, skips, filtered
counts, input checksums, slices held for review) with its place in that global order.

The merge checks the parts belong together (same sources, options, listing and N; each part 0..N-1 once), puts
the results back in global order and hands them to the same writer as the single-machine build
(:func:`vgmed_data.builders.vgmed.write_build`), which drops duplicate images and applies quotas in that order.
So the merged folder is byte-identical to the single-machine build of the same inputs: splits, ids, rows, report
counts, card and manifest.

A part is an intermediate file of your own build, written with :mod:`pickle` (rows hold image bytes and typed
values that must come back exactly): merge only parts you built yourself, as you would run only your own code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vgmed_data.errors import InvalidInputError, SourceNotFoundError
from vgmed_data.progress import add_quiet_argument, progress
from vgmed_data.staging import new_folder_or_existing

from vgmed_data.builders.policy import Skip
from vgmed_data.builders.records import SourceRecord
from vgmed_data.builders.sources import get_entry
from vgmed_data.builders.vgmed import (BuildOptions, BuildReport, RecordResult, _ordered_records, _results,
                                       card_body, resolve_sources, write_build)

PART_FILE = "vgmed-part.pickle"
PART_SUMMARY = "part.json"
PART_FORMAT = 1


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N."""
    index, sep, count = text.partition("/")
    try:
        shard, total = int(index), int(count)
    except ValueError:
        shard, total = -1, 0
    if not sep or total < 1 or not 0 <= shard < total:
        raise InvalidInputError(f"--shard {text!r} is not I/N with 0 <= I < N", fix="e.g. --shard 0/4 ... --shard 3/4")
    return shard, total


def shard_of(record: SourceRecord, count: int) -> int:
    """The part a record belongs to: by its source and (pseudonymous) patient, so a patient is never split."""
    digest = hashlib.sha256(f"{record.source}\x1f{record.patient_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True, kw_only=True)
class Part:
    format: int
    shard: int
    count: int
    fingerprint: str  # sources, options, listing: equal in every part of one build
    source_keys: tuple[str, ...]
    options: BuildOptions
    card_body: str
    dicom_sources: tuple[str, ...]
    listing_skips: tuple[Skip, ...]
    records: int  # in the whole build
    results: tuple[tuple[int, RecordResult], ...]  # (place in the global record order, result)


def build_part(sources: Sequence[tuple[str, str | Path]], *, out: str | Path, shard: tuple[int, int],
               options: BuildOptions = BuildOptions(), deid_key: str | None = None,
               quiet: bool = False) -> dict[str, Any]:
    """Build part ``shard`` = (I, N) of a ``build vgmed`` into the folder ``out``; returns its summary."""
    index, count = shard
    resolved, deid_key, dicom_sources = resolve_sources(sources, options, deid_key)
    report = BuildReport()
    records = _ordered_records(resolved, options, report, deid_key=deid_key)
    mine = [(place, record) for place, record in enumerate(records) if shard_of(record, count) == index]
    listing = hashlib.sha256("\n".join(f"{r.source}\x1f{r.record_id}\x1f{r.patient_id}" for r in records).encode())
    fingerprint = hashlib.sha256(json.dumps(
        {"sources": [e.key for e, _ in resolved], "options": asdict(options), "listing": listing.hexdigest(),
         "count": count}, sort_keys=True, default=str).encode()).hexdigest()
    results = progress(_results([record for _, record in mine], options, deid_key), total=len(mine),
                       desc=f"build vgmed part {index}/{count}", unit="record", quiet=quiet)
    part = Part(format=PART_FORMAT, shard=index, count=count, fingerprint=fingerprint,
                source_keys=tuple(e.key for e, _ in resolved), options=options,
                card_body=card_body(resolved, options), dicom_sources=tuple(dicom_sources),
                listing_skips=tuple(report.skips), records=len(records),
                results=tuple((place, result) for (place, _), result in zip(mine, results)))
    summary = {"shard": f"{index}/{count}", "records": len(mine), "of_records": len(records),
               "rows": sum(len(image.rows) for _, r in part.results for image in r.images)}
    with new_folder_or_existing(Path(out), what="build part folder") as folder:
        with open(folder / PART_FILE, "wb") as handle:
            pickle.dump(part, handle, protocol=pickle.HIGHEST_PROTOCOL)
        (folder / PART_SUMMARY).write_text(json.dumps({**summary, "fingerprint": fingerprint}, indent=2) + "\n")
    return summary


def _read_part(folder: Path) -> Part:
    path = folder / PART_FILE
    if not path.is_file():
        raise SourceNotFoundError(f"no {PART_FILE} here: not a part of a sharded build", path=folder,
                                  fix="pass the --out folders of `vgmed build vgmed ... --shard I/N`")
    with open(path, "rb") as handle:
        part = pickle.load(handle)  # noqa: S301 - the user's own build output (see the module text)
    if not isinstance(part, Part) or part.format != PART_FORMAT:
        raise InvalidInputError("was written by another version of vgmed-data", path=path,
                                fix="rebuild the parts with this version")
    return part


def merge_parts(parts: Sequence[str | Path], *, out: str | Path, quiet: bool = False) -> dict[str, Any]:
    """Join the parts of one sharded build into the dataset folder ``out``; returns the build report."""
    loaded = [_read_part(Path(p)) for p in parts]
    if not loaded:
        raise InvalidInputError("no parts given", fix="pass every part folder of the build")
    first = loaded[0]
    for part, folder in zip(loaded, parts):
        if part.fingerprint != first.fingerprint:
            raise InvalidInputError("is a part of another build (other sources, options, inputs or N)", path=folder,
                                    fix="merge the parts of one build only; rebuild the stray part")
    shards = sorted(part.shard for part in loaded)
    if shards != list(range(first.count)):
        missing = sorted(set(range(first.count)) - set(shards))
        twice = sorted({s for s in shards if shards.count(s) > 1})
        raise InvalidInputError(f"the parts do not cover shards 0..{first.count - 1} once each (missing: "
                                f"{missing or 'none'}; given twice: {twice or 'none'})",
                                fix=f"pass each of the {first.count} part folders once")
    results = sorted((result for part in loaded for result in part.results), key=lambda item: item[0])
    report = BuildReport()
    report.skips.extend(first.listing_skips)
    entries = [get_entry(key) for key in first.source_keys]
    ordered = progress((result for _, result in results), total=len(results), desc="merge", unit="record",
                       quiet=quiet)
    with new_folder_or_existing(Path(out), what="dataset folder") as out_dir:
        write_build(out_dir, entries, ordered, first.options, report, card_body=first.card_body,
                    dicom_sources=list(first.dicom_sources))
    return report.to_dict()


# ------------------------------------------------------------------------------------------------------ the CLI
def register_merge(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("parts", nargs="+", type=Path, help="the --out folders of every `--shard I/N` part")
    parser.add_argument("--out", required=True, type=Path, help="output dataset folder")
    add_quiet_argument(parser)
    parser.set_defaults(func=_merge)


def _merge(args: argparse.Namespace) -> int:
    report = merge_parts(args.parts, out=args.out, quiet=args.quiet)
    print(f"merged {len(args.parts)} part(s): {report['samples']} samples in {args.out}")
    return 0
