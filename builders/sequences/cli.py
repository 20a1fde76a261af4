"""``vgmed build sequences``: build the ``sequences`` configuration from registered sources; ``vgmed import
medsg`` / ``vgmed export medsg``: MedSG-Bench JSON in and out (the format catalogue, builders/formats.py).

    vgmed build sequences --source msd-brain-tumour=/data/Task01_BrainTumour --out DIR [--tasks ...] [--seed 0]
    vgmed import medsg medsg.json [--images-root DIR] --out DIR
    vgmed export medsg DIR --out OUTDIR
    vgmed build sequences --from-medsg medsg.json --out DIR / --export-medsg OUTDIR --out DIR   (the same, as
                                                                                     build options)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vgmed_data.onbad import ON_BAD_CHOICES, OnBad
from vgmed_data.progress import add_quiet_argument

if TYPE_CHECKING:
    from vgmed_data.builders.policy import Skip
    from vgmed_data.builders.sequences.inputs import Case


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", default=[], metavar="KEY=PATH",
                        help="a registered source and its root folder (repeatable; see `vgmed sources list`)")
    parser.add_argument("--out", required=True, help="dataset folder to write (or to export from)")
    parser.add_argument("--tasks", nargs="+", default=None, help="tasks to build (default: all 8)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the task sampling and split assignment (same seed: same bytes)")
    parser.add_argument("--size", type=int, default=336, help="images are padded to square and resized to this")
    parser.add_argument("--box-width", type=int, default=2, help="red reference box line width in pixels")
    parser.add_argument("--fit-fraction", type=float, default=0.2,
                        help="fraction of patients in the 'train' split (fits the mean-box baseline)")
    parser.add_argument("--on-bad", default=OnBad.ERROR.value, choices=ON_BAD_CHOICES,
                        help="bad input: stop (default), or count it in the build report and go on (warn also prints)")
    parser.add_argument("--from-medsg", default=None,
                        help="import a MedSG-Bench JSON file instead of sources (as `vgmed import medsg`)")
    _add_medsg_import_arguments(parser)
    parser.add_argument("--export-medsg", default=None, metavar="DIR",
                        help="after building (or, with no source, from --out), write MedSG-Bench JSON + PNGs here "
                             "(as `vgmed export medsg`)")
    add_quiet_argument(parser)
    parser.set_defaults(func=run)


def _cases(specs: list[str], *, on_bad: str, quiet: bool = False) -> tuple[list[Case], list[Skip]]:
    from vgmed_data.builders.sources import get_entry
    from vgmed_data.builders.policy import handle
    from vgmed_data.builders.sequences.inputs import cases_from_records
    from vgmed_data.errors import InvalidInputError, VgmedError
    from vgmed_data.imaging.windowing import parse_window
    from vgmed_data.progress import progress

    cases: list[Case] = []
    skips: list[Skip] = []
    for spec in specs:
        key, sep, path = spec.partition("=")
        if not sep or not key or not path:
            raise InvalidInputError(f"--source {spec!r} is not KEY=PATH", fix="write e.g. --source msd-heart=/data/Task02_Heart")
        entry = get_entry(key)
        if getattr(entry.reader, "needs_deid_key", False):  # its records carry original patient ids and UIDs
            raise InvalidInputError(f"source {key} is DICOM, which the sequence builder does not read",
                                    fix="use a NIfTI or raster source; DICOM series go through `vgmed build vgmed`")
        found: list[Skip] = []
        records = list(entry.reader.records(entry, Path(path), on_bad=on_bad, skips=found))
        by_case: dict[str, list] = {}
        for record in records:
            by_case.setdefault(record.case_id, []).append(record)
        for case_id, group in progress(sorted(by_case.items()), desc=f"read {key}", unit="case", quiet=quiet):
            try:
                cases.extend(cases_from_records(group, license=entry.license, redistributable=entry.redistributable,
                                                window=parse_window(entry.window) if entry.window else None))
            except VgmedError as error:
                handle(error, policy=on_bad, source=key, record=case_id, reason="unreadable case", log=found)
        skips.extend(found)
    return cases, skips


def _add_medsg_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images-root", default=None,
                        help="folder MedSG image paths are relative to (default: the JSON file's folder)")
    parser.add_argument("--strip-prefix", default=None, metavar="PREFIX",
                        help="leading part of absolute MedSG image paths to drop (the published JSON holds the "
                             "authors' paths, e.g. /root/autodl-tmp/); the rest is read under --images-root")


def register_import_medsg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the MedSG-Bench JSON file")
    parser.add_argument("--out", required=True, help="dataset folder to write (its sequences configuration)")
    _add_medsg_import_arguments(parser)
    parser.set_defaults(func=_import_medsg_command)


def register_export_medsg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="dataset folder (its sequences configuration)")
    parser.add_argument("--out", required=True, help="folder to write medsg.json and images/ into")
    parser.set_defaults(func=_export_medsg_command)


def _import_medsg_command(args: argparse.Namespace) -> int:
    return _import_medsg(args.file, args)


def _export_medsg_command(args: argparse.Namespace) -> int:
    return _export_medsg(args.folder, args.out)


def _import_medsg(path: str, args: argparse.Namespace) -> int:
    from vgmed_data.builders.sequences.medsg import import_medsg
    from vgmed_data.writer import write_config

    samples = sorted(import_medsg(path, images_root=args.images_root, strip_prefix=args.strip_prefix),
                     key=lambda s: s.id)
    summary = write_config(args.out, samples, config="sequences")
    print(f"imported {len(samples)} MedSG samples into {args.out}: {summary.rows}")
    return 0


def _export_medsg(folder: str, out: str) -> int:
    from vgmed_data.builders.sequences.medsg import export_medsg

    exported = export_medsg(folder, out)
    print(f"wrote {exported.items} MedSG-Bench items to {exported.path}")
    for task, count in sorted(exported.not_exported.items()):
        print(f"not exported: {count} {task} row(s) (MedSG-Bench has no such task)", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from vgmed_data.builders.entry import manifest_source
    from vgmed_data.builders.sequences.build import build_sequences
    from vgmed_data.builders.sources import get_entry
    from vgmed_data.builders.sequences.common import Settings
    from vgmed_data.errors import InvalidInputError

    if args.from_medsg:
        _import_medsg(args.from_medsg, args)
    elif args.source:
        settings = Settings(seed=args.seed, size=args.size, box_width=args.box_width, fit_fraction=args.fit_fraction)
        cases, skips = _cases(args.source, on_bad=args.on_bad, quiet=args.quiet)
        keys = dict.fromkeys(spec.partition("=")[0] for spec in args.source)
        report = build_sequences(cases, args.out, settings=settings, tasks=args.tasks, load_skips=skips,
                                 quiet=args.quiet, sources=[manifest_source(get_entry(key)) for key in keys])
        print(json.dumps({"samples": report["samples"], "splits": report["splits"],
                          "per_task": report["per_task"]}, indent=2))
    elif not args.export_medsg:
        raise InvalidInputError("nothing to do", fix="pass --source KEY=PATH, --from-medsg FILE or --export-medsg DIR")
    if args.export_medsg:
        _export_medsg(args.out, args.export_medsg)
    return 0
