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

from vgmed_data.errors import FileFormatError, GeometryError, SchemaError, SourceNotFoundError
from vgmed_data.folder import ROW_GROUP_ROWS, check_card_paths, folder_configs, open_shard, read_card
from vgmed_data.geometry.boxes import validate_boxes
from vgmed_data.imaging.decode import decode_bytes
from vgmed_data.safepaths import PathEscapeError, unsafe_id_reason
from vgmed_data.schema import (IMAGE_ORIGINS, MODALITIES, QUESTION_TYPES, REVIEW_STATUSES, SEQUENCE_TASKS, SPLITS,
                               features_for, row_metadata)

MAX_LISTED = 200


@dataclass(frozen=True)
class Problem:
    file: str
    record: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file} [{self.record}]" if self.record else self.file
        return f"{where}: {self.message}"


Add = Callable[[str], None]


@dataclass(frozen=True)
class _Checks:
    decode: bool  # decode every image in full (False: header only)


def _image_size(cell: dict | None, *, what: str, add: Add, checks: _Checks) -> tuple[int, int] | None:
    """The size of an embedded image, or None (no bytes, or undecodable: then the problem is added)."""
    if not cell or not cell.get("bytes"):
        return None
    try:
        with decode_bytes(cell["bytes"], what=what, decode=checks.decode) as image:
            return image.size
    except FileFormatError as error:
        add(error.message)
        return None


def _size(row: dict, add: Add) -> tuple[int, int] | None:
    width, height = row.get("width"), row.get("height")
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        add(f"width/height {width!r}x{height!r} are not positive whole numbers")
        return None
    return width, height


def _check_choice(value: object, allowed: tuple[str, ...], name: str, add: Add) -> None:
    if value not in allowed:
        add(f"{name} {value!r} is not one of {', '.join(allowed)}")


def _check_vgmed_row(row: dict, add: Add, checks: _Checks) -> None:
    size = _size(row, add)
    actual = _image_size(row["image"], what="image", add=add, checks=checks)
    if actual is not None and size is not None and actual != size:
        add(f"image is {actual[0]}x{actual[1]} but width/height say {size[0]}x{size[1]}")
    if row["image"] and row["image"].get("path") and not row["image"].get("bytes"):
        add(f"image is stored as a path ({row['image']['path']}), not embedded bytes")
    mask_size = _image_size(row["mask"], what="mask", add=add, checks=checks)
    if mask_size is not None and size is not None and mask_size != size:
        add(f"mask is {mask_size[0]}x{mask_size[1]} but the image is {size[0]}x{size[1]}")
    if size is not None:
        try:
            validate_boxes(row["boxes"] or [], image_size=size)
        except GeometryError as error:
            add(error.message)
    if len(row["boxes"] or []) != len(row["box_labels"] or []):
        add(f"{len(row['boxes'] or [])} boxes but {len(row['box_labels'] or [])} box labels")
    _check_choice(row["question_type"], QUESTION_TYPES, "question_type", add)
    _check_choice(row["image_origin"], IMAGE_ORIGINS, "image_origin", add)
    if row["options"] and row["answer"] not in row["options"]:
        add(f"answer {row['answer']!r} is not among the options")


def _check_sequence_row(row: dict, add: Add, checks: _Checks) -> None:
    raw_sizes = row["image_sizes"] or []
    if any(size is None for size in raw_sizes):
        add("image_sizes has a null entry")
    sizes = [tuple(size) for size in raw_sizes if size is not None]
    images = row["images"] or []
    if len(sizes) != len(images):
        add(f"{len(images)} images but {len(sizes)} image sizes")
    if len(row["image_provenance"] or []) != len(images):
        add(f"{len(images)} images but {len(row['image_provenance'] or [])} image_provenance entries")
    for index, cell in enumerate(images):
        actual = _image_size(cell, what=f"image {index}", add=add, checks=checks)
        if actual is not None and index < len(sizes) and actual != sizes[index]:
            add(f"image {index} is {actual} but image_sizes says {sizes[index]}")
    _check_choice(row["task"], SEQUENCE_TASKS, "task", add)
    for prefix in ("answer", "reference"):
        index, box = row[f"{prefix}_image_index"], row[f"{prefix}_box"]
        if prefix == "reference" and index is None and box is None:
            continue
        if index is None or box is None or not 0 <= index < len(sizes):
            add(f"{prefix}_image_index {index} is missing or out of range for {len(sizes)} images")
            continue
        try:
            validate_boxes([box], image_size=sizes[index])
        except GeometryError as error:
            add(f"{prefix}_box: {error.message}")


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


def _check_row(row: dict[str, Any], *, config: str, split: str, add: Add, checks: _Checks) -> None:
    reason = unsafe_id_reason(row["id"]) if isinstance(row["id"], str) else "it is not a string"
    if reason:
        add(f"id {row['id']!r} cannot be used as a file name: {reason}")
    if row["split"] != split:
        add(f"row says split '{row['split']}' but is stored in the '{split}' shard")
    _check_choice(row["modality"], MODALITIES, "modality", add)
    _check_choice((row["review"] or {}).get("status"), REVIEW_STATUSES, "review status", add)
    for key in ("source", "source_id", "license", "patient_id"):
        if not row[key]:
            add(f"{key} is empty")
    try:
        row_metadata(row)
    except FileFormatError as error:
        add(error.message)
    (_check_vgmed_row if config == "vgmed" else _check_sequence_row)(row, add, checks)


def validate_folder(folder: str | os.PathLike[str], *, quick: bool = False,
                    patient_splits: bool = True) -> list[Problem]:
    """All problems in a dataset folder (empty list: valid). ``quick``: read image headers only.
    ``patient_splits``: False leaves out the patient-in-several-splits check (``vgmed publish --allow-leaks``,
    which counts them in the card's Checks section instead)."""
    root = Path(folder)
    if not root.is_dir():
        raise SourceNotFoundError("dataset folder not found", path=root, fix="pass the folder that holds README.md and data/")
    checks = _Checks(decode=not quick)
    try:
        configs = folder_configs(root)
    except PathEscapeError as error:
        return [Problem(str(root), "", f"{error.message} (fix: {error.fix})")]
    if not configs:
        return [Problem(str(root), "", "no Parquet shards under data/<config>/ (expected data/vgmed/ or data/sequences/)")]
    problems = _card_problems(root, configs)
    readable = _open_shards(root, configs, problems)
    for config, shards in readable.items():
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
                        _check_row(row, config=config, split=split, add=add, checks=checks)
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
