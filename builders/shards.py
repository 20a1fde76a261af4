"""A ``vgmed build vgmed`` split over machines: ``--shard I/N`` builds one part, ``vgmed build merge`` joins them.

A part processes the records of the patients that fall to it, ``sha256(key) mod N == I`` with the patient as key
(a deterministic partition by patient: a patient's records are all in one part). Readers that know the patient
from the folder layout (IDC's ``<collection>/<PatientID>/...``: ``shard_filter`` on the reader) read only that
part's folders, so each machine needs only its part of the download and lists only its own headers; other
sources are listed whole by every part, which keeps the records of its pseudonymous patients.

The build order does not depend on the listing (a seeded hash of each record id,
:func:`vgmed_data.builders.vgmed.in_build_order`), and listing skips are reported in a canonical order. So the
merge can put the parts' results (rows, skips, filtered counts, input checksums, slices held for review) back
into exactly the single-machine build's order and hand them to the same writer
(:func:`vgmed_data.builders.vgmed.write_build`), which drops duplicate images and applies quotas in that order:
the merged folder is byte-identical to the single-machine build of the same inputs (rows, splits, ids, report,
card, manifest). It first checks the parts belong together (same sources, options, N, toolkit version; each part
0..N-1 once).

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
from vgmed_data.manifest import toolkit_version
from vgmed_data.progress import add_quiet_argument, progress
from vgmed_data.staging import new_folder_or_existing

from vgmed_data.builders.policy import Skip
from vgmed_data.builders.records import SourceRecord, patient_part
from vgmed_data.builders.sources import get_entry
from vgmed_data.builders.vgmed import (BuildOptions, BuildReport, RecordResult, card_body, in_build_order,
                                       interleave, list_source, record_results, resolve_sources, write_build)

PART_FILE = "vgmed-part.pickle"
PART_SUMMARY = "part.json"
PART_FORMAT = 2


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


def _record_part(record: SourceRecord, count: int) -> int:
    return patient_part(f"{record.source}\x1f{record.patient_id}", count)


@dataclass(frozen=True, kw_only=True)
class Part:
    format: int
    shard: int
    count: int
    fingerprint: str  # sources, options, N, version: equal in every part of one build
    source_keys: tuple[str, ...]
    options: BuildOptions
    card_body: str
    dicom_sources: tuple[str, ...]
    listing_skips: dict[str, tuple[Skip, ...]]  # per source
    listed_by_part: dict[str, bool]  # per source: True when each part listed only its own patients
    results: tuple[RecordResult, ...]


def build_part(sources: Sequence[tuple[str, str | Path]], *, out: str | Path, shard: tuple[int, int],
               options: BuildOptions = BuildOptions(), deid_key: str | None = None,
               quiet: bool = False) -> dict[str, Any]:
    """Build part ``shard`` = (I, N) of a ``build vgmed`` into the folder ``out``; returns its summary."""
    index, count = shard
    resolved, deid_key, dicom_sources = resolve_sources(sources, options, deid_key)
    records: list[SourceRecord] = []
    listing_skips: dict[str, tuple[Skip, ...]] = {}
    listed_by_part: dict[str, bool] = {}
    for entry, root in resolved:
        shard_filter = getattr(entry.reader, "shard_filter", None)
        listed_by_part[entry.key] = shard_filter is not None
        if shard_filter is not None:
            mine, skips = list_source(entry, root, options, deid_key=deid_key,
                                      include=shard_filter(root, index=index, count=count))
        else:
            every, skips = list_source(entry, root, options, deid_key=deid_key)
            mine = [record for record in every if _record_part(record, count) == index]
        listing_skips[entry.key] = tuple(skips)
        records += mine  # all of them: the merge applies max_records_per_source over the whole source
    fingerprint = hashlib.sha256(json.dumps(
        {"sources": [e.key for e, _ in resolved], "options": asdict(options), "count": count,
         "version": toolkit_version()}, sort_keys=True, default=str).encode()).hexdigest()
    results = tuple(progress(record_results(records, options, deid_key), total=len(records),
                             desc=f"build vgmed part {index}/{count}", unit="record", quiet=quiet))
    part = Part(format=PART_FORMAT, shard=index, count=count, fingerprint=fingerprint,
                source_keys=tuple(e.key for e, _ in resolved), options=options,
                card_body=card_body(resolved, options), dicom_sources=tuple(dicom_sources),
                listing_skips=listing_skips, listed_by_part=listed_by_part, results=results)
    summary = {"shard": f"{index}/{count}", "records": len(records),
               "rows": sum(len(image.rows) for result in results for image in result.images)}
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
            raise InvalidInputError("is a part of another build (other sources, options, N or version)", path=folder,
                                    fix="merge the parts of one build only; rebuild the stray part")
    shards = sorted(part.shard for part in loaded)
    if shards != list(range(first.count)):
        missing = sorted(set(range(first.count)) - set(shards))
        twice = sorted({s for s in shards if shards.count(s) > 1})
        raise InvalidInputError(f"the parts do not cover shards 0..{first.count - 1} once each (missing: "
                                f"{missing or 'none'}; given twice: {twice or 'none'})",
                                fix=f"pass each of the {first.count} part folders once")
    report = BuildReport()
    lists = []
    for key in first.source_keys:
        if first.listed_by_part[key]:
            skips = sorted((s for part in loaded for s in part.listing_skips[key]),
                           key=lambda s: (s.record, s.reason, s.detail))
        else:  # every part listed the whole source
            skips = list(first.listing_skips[key])
        report.skips.extend(skips)
        lists.append(in_build_order([r for part in loaded for r in part.results if r.source == key], first.options,
                                    ids=lambda r: (r.source, r.record_id)))
    ordered = interleave(lists)
    entries = [get_entry(key) for key in first.source_keys]
    results = progress(ordered, total=len(ordered), desc="merge", unit="record", quiet=quiet)
    with new_folder_or_existing(Path(out), what="dataset folder") as out_dir:
        write_build(out_dir, entries, results, first.options, report, card_body=first.card_body,
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
