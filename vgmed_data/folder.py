"""Dataset folders: Parquet shards under ``data/<config>/`` plus a README.md whose YAML declares the
configurations and their features, so ``datasets.load_dataset(folder, config)`` returns exactly the declared
features (the Parquet schema carries the ``huggingface`` metadata; images are embedded as bytes, never paths).

Layout::

    FOLDER/
      README.md                                    # dataset card: YAML (configs, dataset_info) + body
      data/vgmed/test-00000-of-00001.parquet
      data/sequences/train-00000-of-00002.parquet
      build_report.json, manifest.json             # written by builders, optional

Writing is streamed (rows are buffered per shard, never the whole dataset) into a temporary folder beside the
target and moved into place at the end, so an interrupted write never leaves a folder that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from vgmed_data.errors import SchemaError, SourceNotFoundError
from vgmed_data.schema import FEATURES, SPLITS, GroundingSample, SequenceSample, features_for, storage_row

ROW_GROUP_ROWS = 64


@dataclass
class FolderSummary:
    path: Path
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # config -> split -> rows
    shards: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # config -> split -> relative paths


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def write_config(
    folder: str | os.PathLike[str],
    samples: Iterable[GroundingSample | SequenceSample | Mapping[str, Any]],
    *,
    config: str,
    shard_rows: int = 2000,
    card_body: str | None = None,
) -> FolderSummary:
    """Write (or replace) one configuration of a dataset folder and refresh its README YAML.

    Rows keep their input order within each split (builders sort them, so output bytes are reproducible).
    Ids must be unique within the configuration. Other configurations already in the folder are kept.
    """
    features = features_for(config)
    schema = features.arrow_schema
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{config}-", dir=target))
    seen: set[str] = set()
    counts: dict[str, int] = {}
    parts: dict[str, list[Path]] = {}
    buffers: dict[str, list[dict[str, Any]]] = {}

    def flush(split: str) -> None:
        rows = buffers.pop(split, [])
        if not rows:
            return
        path = staging / f"{split}-part{len(parts.setdefault(split, [])):05d}.parquet"
        table = pa.Table.from_pylist(rows, schema=schema)
        pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS, compression="zstd")
        parts[split].append(path)

    try:
        for sample in samples:
            row = storage_row(sample, config=config)
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
        return summary
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def folder_configs(folder: str | os.PathLike[str]) -> dict[str, dict[str, list[str]]]:
    """config -> split -> sorted relative shard paths, read from the files on disk."""
    root = Path(folder) / "data"
    found: dict[str, dict[str, list[str]]] = {}
    if not root.is_dir():
        return found
    for config_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name in FEATURES):
        for shard in sorted(config_dir.glob("*.parquet")):
            split = shard.name.split("-", 1)[0]
            found.setdefault(config_dir.name, {}).setdefault(split, []).append(f"data/{config_dir.name}/{shard.name}")
    return found


def card_yaml(folder: str | os.PathLike[str], *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The YAML header: ``configs`` with data files per split and ``dataset_info`` with the features."""
    configs = folder_configs(folder)
    header: dict[str, Any] = dict(extra or {})
    default = "vgmed" if "vgmed" in configs else next(iter(configs), None)
    header["configs"] = [
        {"config_name": name,
         "data_files": [{"split": split, "path": f"data/{name}/{split}-*.parquet"} for split in sorted(splits)],
         **({"default": True} if name == default else {})}
        for name, splits in configs.items()
    ]
    header["dataset_info"] = [
        {"config_name": name, "features": features_for(name)._to_yaml_list()} for name in configs
    ]
    return header


def split_card(text: str) -> tuple[dict[str, Any], str]:
    """(YAML header, body) of a card."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            return yaml.safe_load(text[4:end]) or {}, text[end + 5:]
    return {}, text


def write_card(folder: str | os.PathLike[str], *, body: str | None = None,
               extra: Mapping[str, Any] | None = None) -> Path:
    """(Re)write README.md: fresh ``configs``/``dataset_info``, other YAML keys and the body kept unless given."""
    path = Path(folder) / "README.md"
    old_header, old_body = split_card(path.read_text()) if path.exists() else ({}, "")
    kept = {k: v for k, v in old_header.items() if k not in ("configs", "dataset_info")}
    kept.update(extra or {})
    header = card_yaml(folder, extra=kept)
    text = "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n"
    text += body if body is not None else (old_body or default_body(folder))
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def default_body(folder: str | os.PathLike[str]) -> str:
    configs = folder_configs(folder)
    lines = ["# Medical visual-grounding dataset", "",
             "Built with vgmed-data. Configurations:", ""]
    for name, splits in configs.items():
        lines.append(f"- `{name}`: " + ", ".join(f"{split} ({len(files)} shard(s))" for split, files in splits.items()))
    lines += ["", "```python", "from datasets import load_dataset",
              f"ds = load_dataset('path/to/folder', '{next(iter(configs), 'vgmed')}')", "```", ""]
    return "\n".join(lines)


def iter_rows(folder: str | os.PathLike[str], *, config: str, split: str | None = None,
              columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows as plain Python values straight from Parquet (images stay as ``{"bytes", "path"}``)."""
    configs = folder_configs(folder)
    if config not in configs:
        raise SourceNotFoundError(f"no '{config}' configuration in this folder (found: {', '.join(configs) or 'none'})",
                                  path=folder, fix="check the folder path, or build the configuration first")
    for name, files in sorted(configs[config].items()):
        if split is not None and name != split:
            continue
        for relative in files:
            parquet = pq.ParquetFile(Path(folder) / relative)
            for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS, columns=columns):
                yield from batch.to_pylist()


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None
