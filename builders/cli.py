"""The builders' commands: ``vgmed sources``, ``vgmed build``, ``vgmed import``, ``vgmed export``.

``vgmed build`` has one sub-command per assembler, registered in :data:`BUILD_COMMANDS` as
``name -> (help, "module:function")`` (the function adds its arguments to the sub-parser and sets ``func``).
Issue 9 adds ``sequences`` with one line there. ``vgmed import`` and ``vgmed export`` have one sub-command per
format of the format catalogue (:mod:`vgmed_data.builders.formats`); the evaluation-harness exports point into
``vgmed_data.eval.harness``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from vgmed_data.errors import InvalidInputError
from vgmed_data.lazy import load_target
from vgmed_data.onbad import ON_BAD_CHOICES, OnBad
from vgmed_data.progress import add_quiet_argument

BUILD_COMMANDS: dict[str, tuple[str, str]] = {
    "vgmed": ("build a VGMED-style dataset (localization + attribute questions) from downloaded sources",
              "vgmed_data.builders.cli:register_build_vgmed"),
    "sequences": ("build MedSG-style multi-image grounding tasks (or import/export MedSG-Bench JSON)",
                  "vgmed_data.builders.sequences.cli:register"),
    "merge": ("join the parts of a `build vgmed --shard I/N` into the folder the single-machine build writes",
              "vgmed_data.builders.shards:register_merge"),
}



# ------------------------------------------------------------------------------------------------------ sources
def register_sources(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sources_command", metavar="SUBCOMMAND", required=True)
    listing = sub.add_parser("list", help="table of the known sources")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument("--markdown", action="store_true",
                         help="print the catalogue as Markdown (the generated part of docs/sources.md)")
    listing.set_defaults(func=_sources_list)
    fetch = sub.add_parser("fetch", help="download a source (resume + checksum) or print the exact steps")
    fetch.add_argument("key", help="source key from `vgmed sources list`")
    fetch.add_argument("--dest", required=True, type=Path, help="folder to download into (created; resumed)")
    fetch.add_argument("--patients", type=int, default=None, help="idc:<collection> only: the first N patients")
    fetch.add_argument("--modality", action="append", default=[],
                       help="idc:<collection> only: image modality to take with the annotations (repeatable)")
    add_quiet_argument(fetch)
    fetch.set_defaults(func=_sources_fetch)
    verify = sub.add_parser("verify", help="check a downloaded source's layout and checksums")
    verify.add_argument("key", help="source key from `vgmed sources list`")
    verify.add_argument("path", type=Path,
                        help="the downloaded source: its extracted folder, the archive, or the folder holding both")
    verify.set_defaults(func=_sources_verify)
    idc = sub.add_parser("idc", help="IDC collections with SEG/RTSTRUCT series, from the installed IDC index")
    idc.add_argument("--modality", default=None, help="only collections with a series of this modality")
    idc.add_argument("--body-part", default=None, help="only collections with this BodyPartExamined")
    idc.add_argument("--license", default=None, help="only collections with a series under this licence")
    idc.add_argument("--json", action="store_true", help="print JSON instead of a table")
    idc.set_defaults(func=_sources_idc)


def _sources_list(args: argparse.Namespace) -> int:
    from vgmed_data.builders.sources import all_entries
    from vgmed_data.guards import allows_image_redistribution

    entries = all_entries()
    if args.markdown:
        from vgmed_data.builders.catalogue import render_markdown

        print(render_markdown(entries), end="")
        return 0
    if args.json:
        print(json.dumps([{"key": e.key, "name": e.name, "modality": e.modality, "body_part": e.body_part,
                           "license": e.license, "license_status": e.license_status, "license_url": e.license_url,
                           "redistributable": e.redistributable, "images_publishable": e.redistributable,
                           "split_unit": e.split_unit, "split_units": list(e.split_units), "size": e.size,
                           "access": "download" if e.downloads else "steps", "homepage": e.homepage,
                           "layout_confirmed_at": e.layout_confirmed_at}
                          for e in entries], indent=2))
        return 0

    def images(entry: Any) -> str:  # what `vgmed publish` will do with this source's images
        if entry.redistributable:
            return "yes"
        if entry.license_status in ("conflicting", "unknown"):
            return f"no (licence {entry.license_status})"
        if not allows_image_redistribution(license=entry.license, redistributable=True):
            return "no (licence not on the guard's list)"
        return f"no (licence {entry.license_status}: not read at the source)"

    rows = [("KEY", "MODALITY", "LICENCE", "STATUS", "LICENCE READ AT", "IMAGES PUBLISHED", "SPLIT UNIT", "SIZE")]
    rows += [(e.key, e.modality, e.license, e.license_status, _where(e.license_url), images(e), e.split_unit, e.size)
             for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    modalities = sorted({e.modality for e in entries})
    print(f"\n{len(entries)} sources, modalities: {', '.join(modalities)}"
          "\n(where each licence was read, in full: vgmed sources list --json, key license_url)")
    return 0


def _where(text: str, *, width: int = 48) -> str:
    """The first reference of a 'where read' text (a URL or repo@commit:path), cut to ``width`` for the table."""
    head = text.split(" (", 1)[0].split()[0] if text.strip() else "-"
    return head if len(head) <= width else head[: width - 3] + "..."


def _sources_fetch(args: argparse.Namespace) -> int:
    from vgmed_data.builders.sources import get_entry
    from vgmed_data.builders.fetch import fetch

    if args.key.startswith("idc:"):
        from vgmed_data.builders.sources.idc import fetch_selection

        return fetch_selection(args.key.removeprefix("idc:"), args.dest, patients=args.patients,
                               modalities=args.modality, quiet=args.quiet)
    if args.patients is not None or args.modality:
        raise InvalidInputError("--patients and --modality apply to idc:<collection> only")
    fetch(get_entry(args.key), args.dest, quiet=args.quiet)
    return 0


def _sources_verify(args: argparse.Namespace) -> int:
    from vgmed_data.builders.sources import get_entry
    from vgmed_data.builders.fetch import verify

    entry = get_entry(args.key)
    result = verify(entry, args.path)
    for path, verdict in sorted(result.checksums.items()):
        print(f"checksum of {path}: {verdict}")
    if not result.checksums:
        names = ", ".join(d.filename for d in entry.downloads)
        print(f"no archive checked ({names} not found in {args.path} or beside it)" if names else
              f"no archive checked ({args.key} has no direct download with a published file)")
    if not result.layout_checked:
        print(f"{args.key}: layout not checked (pass the extracted folder to check it)")
        return 0 if result.ok else 1
    if result.missing:
        print(f"{args.key}: layout problems in {args.path}: missing " + ", ".join(result.missing))
        print(f"expected layout: {entry.layout}")
        return 1
    print(f"{args.key}: layout ok" + ("" if result.ok else " (but a checksum does not match)"))
    return 0 if result.ok else 1


def _sources_idc(args: argparse.Namespace) -> int:
    from vgmed_data.builders.idc import catalogue, catalogue_json, index_version

    summaries = catalogue(modality=args.modality, body_part=args.body_part, license=args.license)
    if args.json:
        print(json.dumps(catalogue_json(summaries), indent=2))
        return 0
    rows = [("COLLECTION", "SEG series/patients", "RTSTRUCT series/patients", "OTHER MODALITIES", "SIZE GB",
             "LICENCES", "BODY PARTS")]
    for s in summaries:
        cells = []
        for modality in ("SEG", "RTSTRUCT"):
            count = s.count(modality)
            cells.append(f"{count.series}/{count.patients}" if count else "-")
        others = ",".join(m.modality for m in s.modalities if m.modality not in ("SEG", "RTSTRUCT"))
        rows.append((s.collection_id, *cells, others, f"{s.size_mb / 1000:.1f}", "; ".join(s.licenses),
                     ",".join(s.body_parts)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"\n{len(summaries)} collections, {sum(s.annotation_series for s in summaries)} SEG/RTSTRUCT series "
          f"(idc-index-data {index_version()}); fetch one with `vgmed sources fetch idc:<collection> --dest DIR`")
    return 0


# -------------------------------------------------------------------------------------------------------- build
def register_build(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="build_command", metavar="SUBCOMMAND", required=True)
    for name, (help_text, target) in BUILD_COMMANDS.items():
        module_name, function_name = target.split(":")
        command = sub.add_parser(name, help=help_text)
        getattr(importlib.import_module(module_name), function_name)(command)


def _source_pair(text: str) -> tuple[str, str]:
    key, sep, path = text.partition("=")
    if not sep or not key or not path:
        raise argparse.ArgumentTypeError(f"expected KEY=PATH, got {text!r}")
    return key, path


def _splits(text: str) -> tuple[tuple[str, float], ...]:
    try:
        pairs = [part.split("=") for part in text.split(",")]
        return tuple((name.strip(), float(value)) for name, value in pairs)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. train=0.7,validation=0.1,test=0.2, got {text!r}") from None


def register_build_vgmed(parser: argparse.ArgumentParser) -> None:
    from vgmed_data.builders.vgmed import QUESTION_KINDS, BuildOptions

    defaults = BuildOptions()
    parser.add_argument("--source", action="append", type=_source_pair, required=True, metavar="KEY=PATH",
                        help="a downloaded source (repeat for several); keys from `vgmed sources list`")
    parser.add_argument("--out", required=True, type=Path, help="output dataset folder")
    parser.add_argument("--num-proc", type=int, default=defaults.num_proc, help="worker processes")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="seed of the split assignment and of question sampling (same seed: same bytes)")
    parser.add_argument("--on-bad", choices=ON_BAD_CHOICES, default=defaults.on_bad,
                        help="bad input: stop (default), or count it in the build report and go on")
    parser.add_argument("--slices-per-target", type=int, default=defaults.slices_per_target,
                        help="volumes: slices per target and plane (the largest first, then evenly spaced)")
    parser.add_argument("--min-pixels", type=int, default=defaults.min_pixels,
                        help="connected regions smaller than this many pixels are not targets")
    parser.add_argument("--min-size-mm", type=float, default=defaults.min_size_mm,
                        help="nor those whose larger side is under this many mm (when the pixel spacing is known)")
    parser.add_argument("--max-records-per-source", type=int, default=None,
                        help="read at most this many records (cases, images) of each source (default: all)")
    parser.add_argument("--max-per-source", type=int, default=None, help="sample quota per source")
    parser.add_argument("--max-per-modality", type=int, default=None, help="sample quota per modality")
    parser.add_argument("--max-per-target", type=int, default=None, help="sample quota per (modality, target)")
    parser.add_argument("--splits", type=_splits, default=defaults.splits,
                        help="patient-level split fractions (default train=0.7,validation=0.1,test=0.2)")
    parser.add_argument("--split-unit", action="append", type=_source_pair, default=[], metavar="KEY=UNIT",
                        help="split source KEY by UNIT instead of its own subject unit (e.g. polypgen=centre); "
                             "`vgmed sources list --json` lists each source's split_units")
    parser.add_argument("--question-kinds", default=",".join(QUESTION_KINDS),
                        help=f"comma-separated subset of: {', '.join(QUESTION_KINDS)}")
    parser.add_argument("--no-masks", action="store_true", help="do not store target masks")
    parser.add_argument("--deid-key", default=None, metavar="KEY",
                        help="secret key for pseudonymising DICOM sources (default: $VGMED_DEID_KEY, which keeps it "
                             "out of shell history); required when a DICOM source is built; never written out")
    parser.add_argument("--burned-in-check", choices=("off", "header", "pixels"), default=defaults.burned_in_check,
                        help="DICOM slices that may have text burned into the pixels are withheld and listed under "
                             "'review' in build_report.json: 'header' (default) when ImageType, SOP class or "
                             "modality suggest it, 'pixels' also looks for text in the image border; "
                             "BurnedInAnnotation=YES is always refused")
    parser.add_argument("--paraphrase", default=None, metavar="HOOK",
                        help="optional: openai:BASE_URL:MODEL or transformers:PATH (never changes answers)")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="build only part I (0-based) of N, partitioned by patient, into --out; join the N part "
                             "folders with `vgmed build merge` (docs/building.md)")
    add_quiet_argument(parser)
    parser.set_defaults(func=_build_vgmed)


def _build_vgmed(args: argparse.Namespace) -> int:
    from vgmed_data.builders.vgmed import BuildOptions, build_vgmed

    options = BuildOptions(
        seed=args.seed, on_bad=args.on_bad, num_proc=args.num_proc, slices_per_target=args.slices_per_target,
        min_pixels=args.min_pixels, min_size_mm=args.min_size_mm, max_records_per_source=args.max_records_per_source,
        max_per_source=args.max_per_source, max_per_modality=args.max_per_modality,
        max_per_target=args.max_per_target, splits=tuple(args.splits), split_units=tuple(args.split_unit),
        question_kinds=tuple(k.strip() for k in args.question_kinds.split(",") if k.strip()),
        keep_masks=not args.no_masks, paraphrase=args.paraphrase, burned_in_check=args.burned_in_check)
    if args.shard is not None:
        from vgmed_data.builders.shards import build_part, parse_shard

        part = build_part(args.source, out=args.out, shard=parse_shard(args.shard), options=options,
                          deid_key=args.deid_key, quiet=args.quiet)
        print(f"wrote part {part['shard']} ({part['records']} records, {part['rows']} rows) "
              f"to {args.out}; join all parts with `vgmed build merge PART... --out DIR`")
        return 0
    report = build_vgmed(args.source, out=args.out, options=options, deid_key=args.deid_key, quiet=args.quiet)
    print(f"wrote {report['samples']} samples to {args.out} "
          f"({', '.join(f'{k}: {v}' for k, v in report['by_split'].items()) or 'no rows'})")
    if report["skips"]:
        print(f"skipped {len(report['skips'])} item(s): " +
              "; ".join(f"{k} x{v}" for k, v in report["skip_counts"].items()), file=sys.stderr)
    if report.get("review"):
        print(f"withheld {len(report['review'])} DICOM slice(s) for review (possible burned-in text); "
              f"see 'review' in {args.out / 'build_report.json'}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------------ import/export
def register_import(parser: argparse.ArgumentParser) -> None:
    from vgmed_data.builders.formats import importers

    sub = parser.add_subparsers(dest="import_format", metavar="FORMAT", required=True)
    for name, fmt in importers().items():
        load_target(str(fmt.importer))(sub.add_parser(name, help=fmt.summary))


def register_export(parser: argparse.ArgumentParser) -> None:
    from vgmed_data.builders.formats import exporters

    sub = parser.add_subparsers(dest="export_format", metavar="FORMAT", required=True)
    for name, fmt in exporters().items():
        load_target(str(fmt.exporter))(sub.add_parser(name, help=fmt.summary))


def register_import_jsonl(jsonl: argparse.ArgumentParser) -> None:
    jsonl.add_argument("file", type=Path, help="the release's JSONL file")
    jsonl.add_argument("--images", required=True, type=Path, help="folder the JSONL image paths are relative to")
    jsonl.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    jsonl.add_argument("--on-bad", choices=ON_BAD_CHOICES, default=OnBad.ERROR.value,
                       help="a bad line: stop (default), or skip it, count it in OUT/import_report_vgmed.json and "
                            "go on (warn also prints each)")
    jsonl.set_defaults(func=_import_jsonl)


def _import_jsonl(args: argparse.Namespace) -> int:
    from vgmed_data.builders.interop import import_jsonl

    report = import_jsonl(args.file, images=args.images, out=args.out, on_bad=args.on_bad)
    print(f"imported {report.imported} samples into {args.out}")
    if report.skips:
        print(f"skipped {len(report.skips)} line(s): " + "; ".join(f"{k} x{v}" for k, v in report.counts().items())
              + f" (details in {args.out / 'import_report_vgmed.json'})", file=sys.stderr)
    return 0


def register_export_jsonl(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="dataset folder (vgmed configuration)")
    parser.add_argument("--out", required=True, type=Path, help="JSONL file to write")
    parser.add_argument("--images-dir", type=Path, default=None,
                        help="also write each row's image under this folder, as images/<id>-<hash>.png (the name "
                             "the JSONL gives; the hash keeps ids that differ only in case or punctuation apart)")
    parser.set_defaults(func=_export_jsonl)


def _export_jsonl(args: argparse.Namespace) -> int:
    from vgmed_data.builders.interop import export_jsonl

    if not args.folder.is_dir():
        raise InvalidInputError("dataset folder not found", path=args.folder)
    count = export_jsonl(args.folder, out=args.out, images_dir=args.images_dir)
    print(f"wrote {count} lines to {args.out}")
    return 0
