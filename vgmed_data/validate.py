"""``vgmed validate FOLDER``: schema, image sizes, boxes, unique ids, patient-level splits.

:func:`validate_folder` returns every problem found (it does not stop at the first), each naming the file and
the record; the CLI prints them and exits 1 when there are any.
"""

from __future__ import annotations

import argparse
import io
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from datasets import Features
from PIL import Image

from vgmed_data.errors import GeometryError, SourceNotFoundError
from vgmed_data.folder import ROW_GROUP_ROWS, folder_configs, split_card
from vgmed_data.geometry.boxes import validate_boxes
from vgmed_data.schema import (IMAGE_ORIGINS, MODALITIES, QUESTION_TYPES, REVIEW_STATUSES, SEQUENCE_TASKS, SPLITS,
                               features_for)

MAX_LISTED = 200


@dataclass(frozen=True)
class Problem:
    file: str
    record: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file} [{self.record}]" if self.record else self.file
        return f"{where}: {self.message}"


def _image_size(cell: dict | None) -> tuple[int, int] | None:
    if not cell or not cell.get("bytes"):
        return None
    with Image.open(io.BytesIO(cell["bytes"])) as image:
        return image.size


def _check_choice(value: object, allowed: tuple[str, ...], name: str, add) -> None:  # noqa: ANN001
    if value not in allowed:
        add(f"{name} {value!r} is not one of {', '.join(allowed)}")


def _check_vgmed_row(row: dict, add) -> None:  # noqa: ANN001
    size = (row["width"], row["height"])
    actual = _image_size(row["image"])
    if actual is not None and actual != size:
        add(f"image is {actual[0]}x{actual[1]} but width/height say {size[0]}x{size[1]}")
    if row["image"] and row["image"].get("path") and not row["image"].get("bytes"):
        add(f"image is stored as a path ({row['image']['path']}), not embedded bytes")
    mask_size = _image_size(row["mask"])
    if mask_size is not None and mask_size != size:
        add(f"mask is {mask_size[0]}x{mask_size[1]} but the image is {size[0]}x{size[1]}")
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


def _check_sequence_row(row: dict, add) -> None:  # noqa: ANN001
    sizes = [tuple(s) for s in row["image_sizes"] or []]
    images = row["images"] or []
    if len(sizes) != len(images):
        add(f"{len(images)} images but {len(sizes)} image sizes")
    for index, cell in enumerate(images):
        actual = _image_size(cell)
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


def validate_folder(folder: str | os.PathLike[str]) -> list[Problem]:
    """All problems in a dataset folder (empty list: valid)."""
    root = Path(folder)
    if not root.is_dir():
        raise SourceNotFoundError("dataset folder not found", path=root, fix="pass the folder that holds README.md and data/")
    problems: list[Problem] = []
    configs = folder_configs(root)
    if not configs:
        return [Problem(str(root), "", "no Parquet shards under data/<config>/ (expected data/vgmed/ or data/sequences/)")]
    card = root / "README.md"
    header = split_card(card.read_text())[0] if card.exists() else {}
    declared = {c.get("config_name") for c in header.get("configs", [])}
    for name in configs:
        if name not in declared:
            problems.append(Problem("README.md", "", f"configuration '{name}' is not declared in the card's YAML"))
    for info in header.get("dataset_info", []) or []:
        name = info.get("config_name")
        if name in configs and Features._from_yaml_list(info.get("features", [])) != features_for(name):
            problems.append(Problem("README.md", "", f"dataset_info features of '{name}' differ from the schema"))
    for config, splits in configs.items():
        expected = features_for(config)
        ids: dict[str, str] = {}
        patient_splits: dict[str, set[str]] = defaultdict(set)
        for split, files in splits.items():
            if split not in SPLITS:
                problems.append(Problem(files[0], "", f"split '{split}' is not one of {', '.join(SPLITS)}"))
            for relative in files:
                parquet = pq.ParquetFile(root / relative)
                try:
                    features = Features.from_arrow_schema(parquet.schema_arrow)
                except Exception as error:  # noqa: BLE001 - any schema decoding failure is a problem to report
                    problems.append(Problem(relative, "", f"schema cannot be read as datasets features ({error})"))
                    continue
                if features != expected:
                    missing = set(expected) - set(features)
                    extra = set(features) - set(expected)
                    problems.append(Problem(relative, "", "features differ from the schema"
                                            + (f"; missing {sorted(missing)}" if missing else "")
                                            + (f"; unexpected {sorted(extra)}" if extra else "")))
                    continue
                for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS):
                    for row in batch.to_pylist():
                        record = str(row["id"])

                        def add(message: str, _file: str = relative, _record: str = record) -> None:
                            problems.append(Problem(_file, _record, message))

                        if record in ids:
                            add(f"duplicate id (also in {ids[record]})")
                        ids[record] = relative
                        if row["split"] != split:
                            add(f"row says split '{row['split']}' but is stored in the '{split}' shard")
                        _check_choice(row["modality"], MODALITIES, "modality", add)
                        _check_choice((row["review"] or {}).get("status"), REVIEW_STATUSES, "review status", add)
                        for key in ("source", "source_id", "license", "patient_id"):
                            if not row[key]:
                                add(f"{key} is empty")
                        patient_splits[f"{row['source']}/{row['patient_id']}"].add(split)
                        (_check_vgmed_row if config == "vgmed" else _check_sequence_row)(row, add)
        for patient, seen in sorted(patient_splits.items()):
            if len(seen) > 1:
                problems.append(Problem(f"data/{config}", "", f"patient {patient} appears in several splits: "
                                        f"{', '.join(sorted(seen))}"))
    return problems


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="dataset folder (README.md + data/<config>/*.parquet)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problems = validate_folder(args.folder)
    configs = folder_configs(args.folder)
    if not problems:
        total = sum(pq.ParquetFile(Path(args.folder) / f).metadata.num_rows
                    for splits in configs.values() for files in splits.values() for f in files)
        print(f"{args.folder}: valid ({total} rows; configurations: {', '.join(configs)})")
        return 0
    print(f"{args.folder}: {len(problems)} problem(s)")
    for problem in problems[:MAX_LISTED]:
        print(f"  - {problem}")
    if len(problems) > MAX_LISTED:
        print(f"  ... and {len(problems) - MAX_LISTED} more")
    return 1
