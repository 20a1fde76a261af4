"""``vgmed validate FOLDER``: card, shard footers, schema, images, metadata, ids, boxes, patient-level splits.

:func:`validate_folder` returns every problem found (it does not stop at the first), each naming the file and
the record; the CLI prints them and exits 1 when there are any.

Order: the card (README.md YAML), then every shard's footer and schema (a truncated or foreign file is reported
before any row is read), then the rows of the readable shards. Every image and mask is decoded in full by
default (``quick=True`` / ``--quick``: header only, size and format); ``metadata`` must be a JSON object; ids
must be usable as file names (:func:`vgmed_data.safepaths.unsafe_id_reason`).
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features
from PIL import Image

from vgmed_data.configs import dataset_config, features_for
from vgmed_data.errors import FileFormatError, SchemaError, SourceNotFoundError
from vgmed_data.folder import ROW_GROUP_ROWS, check_card_paths, folder_configs, open_shard, read_card
from vgmed_data.rowchecks import Add, Decoding, check_choice
from vgmed_data.safepaths import PathEscapeError, unsafe_id_reason
from vgmed_data.schema import MODALITIES, REVIEW_STATUSES, SPLITS, row_metadata

MAX_LISTED = 200


@dataclass(frozen=True)
class Problem:
    file: str
    record: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file} [{self.record}]" if self.record else self.file
        return f"{where}: {self.message}"


def _card_problems(root: Path, configs: dict[str, dict[str, list[str]]]) -> list[Problem]:
    try:
        card = read_card(root)
    except SchemaError as error:
        return [Problem("README.md", "", error.message + (f" (fix: {error.fix})" if error.fix else ""))]
    if card is None:
        return [Problem("README.md", "", "missing: the dataset card declares the configurations "
                        "(fix: vgmed writes it with every build; rebuild, or copy it from the source folder)")]
    header = card[0]
    problems: list[Problem] = []
    try:
        check_card_paths(root, header)
    except PathEscapeError as error:
        problems.append(Problem("README.md", error.record or "", f"{error.message} (fix: {error.fix})"))
    declared_configs = header.get("configs", [])
    if not isinstance(declared_configs, list) or not all(isinstance(c, dict) for c in declared_configs):
        problems.append(Problem("README.md", "", "'configs' is not a list of mappings"))
        declared_configs = []
    declared = {c.get("config_name") for c in declared_configs}
    for name in configs:
        if name not in declared:
            problems.append(Problem("README.md", "", f"configuration '{name}' is not declared in the card's YAML"))
    infos = header.get("dataset_info", []) or []
    if not isinstance(infos, list) or not all(isinstance(i, dict) for i in infos):
        return [*problems, Problem("README.md", "", "'dataset_info' is not a list of mappings")]
    for info in infos:
        name = info.get("config_name")
        if name not in configs:
            continue
        try:
            features = Features._from_yaml_list(info.get("features", []))
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            problems.append(Problem("README.md", "", f"dataset_info features of '{name}' cannot be read ({error})"))
            continue
        if features != features_for(name):
            problems.append(Problem("README.md", "", f"dataset_info features of '{name}' differ from the schema"))
    return problems


def _open_shards(root: Path, configs: dict[str, dict[str, list[str]]],
                 problems: list[Problem]) -> dict[str, list[tuple[str, str, pq.ParquetFile]]]:
    """config -> (split, relative path, open shard) for every shard whose footer and schema are right."""
    readable: dict[str, list[tuple[str, str, pq.ParquetFile]]] = {}
    for config, splits in configs.items():
        for split, files in splits.items():
            if split not in SPLITS:
                problems.append(Problem(files[0], "", f"split '{split}' is not one of {', '.join(SPLITS)}"))
            for relative in files:
                try:
                    parquet = open_shard(root / relative, config=config)
                except (FileFormatError, SchemaError, SourceNotFoundError) as error:
                    problems.append(Problem(relative, "", error.message))
                    continue
                readable.setdefault(config, []).append((split, relative, parquet))
    return readable


def check_row(row: dict[str, Any], *, config: str, split: str,
              seen: Callable[[str, Image.Image], None] | None = None) -> list[str]:
    """The problems of one row as stored (a row read back from its shard), every image decoded in full;
    ``seen`` gets each decoded image. What :func:`validate_folder` checks per row (ids across rows and patient
    splits are checked over the folder)."""
    messages: list[str] = []
    _check_row(row, config=config, split=split, add=messages.append, decode=Decoding(full=True, seen=seen))
    return messages


def _check_row(row: dict[str, Any], *, config: str, split: str, add: Add, decode: Decoding) -> None:
    reason = unsafe_id_reason(row["id"]) if isinstance(row["id"], str) else "it is not a string"
    if reason:
        add(f"id {row['id']!r} cannot be used as a file name: {reason}")
    if row["split"] != split:
        add(f"row says split '{row['split']}' but is stored in the '{split}' shard")
    check_choice(row["modality"], MODALITIES, "modality", add)
    check_choice((row["review"] or {}).get("status"), REVIEW_STATUSES, "review status", add)
    for key in ("source", "source_id", "license", "patient_id"):
        if not row[key]:
            add(f"{key} is empty")
    try:
        row_metadata(row)
    except FileFormatError as error:
        add(error.message)
    dataset_config(config).check_row(row, add, decode)


def validate_folder(folder: str | os.PathLike[str], *, quick: bool = False,
                    patient_splits: bool = True, rows: bool = True) -> list[Problem]:
    """All problems in a dataset folder (empty list: valid). ``quick``: read image headers only.
    ``patient_splits``: False leaves out the patient-in-several-splits check (``vgmed publish --allow-leaks``,
    which counts them in the card's Checks section instead). ``rows``: False checks the card and the shards'
    footers and schemas only (``vgmed publish`` on a folder whose recorded facts it verified: the rows were
    checked with :func:`check_row` when they were written)."""
    root = Path(folder)
    if not root.is_dir():
        raise SourceNotFoundError("dataset folder not found", path=root, fix="pass the folder that holds README.md and data/")
    try:
        configs = folder_configs(root)
    except PathEscapeError as error:
        return [Problem(str(root), "", f"{error.message} (fix: {error.fix})")]
    if not configs:
        return [Problem(str(root), "", "no Parquet shards under data/<config>/ (expected data/vgmed/ or data/sequences/)")]
    problems = _card_problems(root, configs)
    readable = _open_shards(root, configs, problems)
    for config, shards in readable.items() if rows else ():
        ids: dict[str, str] = {}
        splits_of: dict[str, set[str]] = defaultdict(set)  # patient -> the splits holding them
        for split, relative, parquet in shards:
            try:
                for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS):
                    for row in batch.to_pylist():
                        record = str(row["id"])

                        def add(message: str, _file: str = relative, _record: str = record) -> None:
                            problems.append(Problem(_file, _record, message))

                        if record in ids:
                            add(f"duplicate id (also in {ids[record]})")
                        ids[record] = relative
                        splits_of[f"{row['source']}/{row['patient_id']}"].add(split)
                        _check_row(row, config=config, split=split, add=add, decode=Decoding(full=not quick))
            except (pa.ArrowException, OSError) as error:
                problems.append(Problem(relative, "", f"rows cannot be read: the shard is corrupt "
                                        f"({' '.join(str(error).split())[:200]})"))
        for patient, seen in sorted(splits_of.items()):
            if len(seen) > 1 and patient_splits:
                problems.append(Problem(f"data/{config}", "", f"patient {patient} appears in several splits: "
                                        f"{', '.join(sorted(seen))}"))
    return problems


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="dataset folder (README.md + data/<config>/*.parquet)")
    parser.add_argument("--quick", action="store_true",
                        help="read only the image headers (size, format) instead of decoding every image")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problems = validate_folder(args.folder, quick=args.quick)
    if not problems:
        configs = folder_configs(args.folder)
        total = sum(open_shard(Path(args.folder) / f).metadata.num_rows
                    for splits in configs.values() for files in splits.values() for f in files)
        print(f"{args.folder}: valid ({total} rows; configurations: {', '.join(configs)})")
        return 0
    print(f"{args.folder}: {len(problems)} problem(s)")
    for problem in problems[:MAX_LISTED]:
        print(f"  - {problem}")
    if len(problems) > MAX_LISTED:
        print(f"  ... and {len(problems) - MAX_LISTED} more")
    return 1
