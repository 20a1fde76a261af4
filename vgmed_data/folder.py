"""Dataset folders: Parquet shards under ``data/<config>/`` plus a README.md whose YAML declares the
configurations and their features, so ``datasets.load_dataset(folder, config)`` returns exactly the declared
features (the Parquet schema carries the ``huggingface`` metadata; images are embedded as bytes, never paths).

Layout::

    FOLDER/
      README.md                                    # dataset card: YAML (configs, dataset_info) + body
      data/vgmed/test-00000-of-00001.parquet
      data/sequences/train-00000-of-00002.parquet
      build_report.json, manifest.json             # written by builders, optional

This module reads folders and writes their card; :func:`vgmed_data.writer.write_config` writes configurations
(and records their facts).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from vgmed_data.errors import FileFormatError, InvalidInputError, SchemaError, SourceNotFoundError
from vgmed_data.safepaths import PathEscapeError, resolve_inside
from vgmed_data.configs import CONFIGS, default_config, features_for
from vgmed_data.staging import staged_file
from vgmed_data.userfiles import CARD_LIMIT, check_regular, read_text_bounded

ROW_GROUP_ROWS = 64


@dataclass
class FolderSummary:
    path: Path
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # config -> split -> rows
    shards: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # config -> split -> relative paths


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def folder_configs(folder: str | os.PathLike[str]) -> dict[str, dict[str, list[str]]]:
    """config -> split -> sorted relative shard paths, read from the files on disk.

    ``data/``, each ``data/<config>/`` and each shard must stay inside ``folder``: one that is a link leading out
    is a :class:`~vgmed_data.safepaths.PathEscapeError` naming it (every reader lists shards through here)."""
    base = Path(folder)
    root = base / "data"
    found: dict[str, dict[str, list[str]]] = {}
    if not root.is_dir():
        return found
    _inside(base, "data")
    for config_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name in CONFIGS):
        _inside(base, f"data/{config_dir.name}")
        for shard in sorted(config_dir.glob("*.parquet")):
            relative = f"data/{config_dir.name}/{shard.name}"
            _inside(base, relative)
            split = shard.name.split("-", 1)[0]
            found.setdefault(config_dir.name, {}).setdefault(split, []).append(relative)
    return found


def _inside(base: Path, relative: str) -> None:
    try:
        resolve_inside(base, relative, what="dataset entry")
    except PathEscapeError:
        raise PathEscapeError(f"{relative} is a link that leads out of the dataset folder", path=base,
                              fix=f"replace {relative} with the real file or folder (links may only point inside "
                                  "the dataset folder)") from None


def count_rows(folder: str | os.PathLike[str], *, config: str, split: str | None = None) -> int:
    """Rows of a configuration (or one split of it), from the shards' Parquet footers (no data read)."""
    splits = folder_configs(folder).get(config, {})
    return sum(open_shard(Path(folder) / shard, config=config).metadata.num_rows
               for name, shards in splits.items() if split is None or name == split for shard in shards)


def card_yaml(folder: str | os.PathLike[str], *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The YAML header: ``configs`` with data files per split and ``dataset_info`` with the features."""
    configs = folder_configs(folder)
    header: dict[str, Any] = dict(extra or {})
    default = default_config(configs)
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


def check_card_paths(folder: str | os.PathLike[str], header: Mapping[str, Any]) -> None:
    """Every ``configs[].data_files`` path (or glob) of a card stays inside ``folder``: ``datasets`` reads what
    they name, so one that climbs out or is absolute is a :class:`~vgmed_data.safepaths.PathEscapeError` naming
    README.md, the configuration and the path."""
    configs = header.get("configs")
    for config in configs if isinstance(configs, list) else []:
        if not isinstance(config, Mapping):
            continue
        files = config.get("data_files")
        entries = files if isinstance(files, list) else [files] if files is not None else []
        for entry in entries:
            paths = entry.get("path") if isinstance(entry, Mapping) else entry
            for path in paths if isinstance(paths, list) else [paths]:
                resolve_inside(Path(folder), str(path), what="data_files path", path=Path(folder) / "README.md",
                               record=f"config {config.get('config_name')}")


def split_card(text: str, *, path: str | os.PathLike[str] = "README.md") -> tuple[dict[str, Any], str]:
    """(YAML header, body) of a card; :class:`SchemaError` naming ``path`` when the header is not a YAML
    mapping."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            try:
                header = yaml.safe_load(text[4:end])
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                where = f" (line {mark.line + 2})" if mark is not None else ""
                raise SchemaError(f"the YAML header is not valid YAML{where}: {getattr(error, 'problem', None) or error}",
                                  path=path, fix="repair the YAML between the '---' lines, or delete README.md and "
                                  "let vgmed write it again") from None
            if header is not None and not isinstance(header, dict):
                raise SchemaError(f"the YAML header is a {type(header).__name__}, not a mapping of keys", path=path,
                                  fix="the header must be 'key: value' lines (configs, dataset_info, ...)")
            return header or {}, text[end + 5:]
    return {}, text


def read_card(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], str] | None:
    """(YAML header, body) of ``folder``'s README.md, ``None`` when there is none; :class:`SchemaError` when it
    cannot be read (a folder, a pipe or device, a link out of the folder, over
    :data:`~vgmed_data.userfiles.CARD_LIMIT`, not UTF-8, a header that is not a YAML mapping)."""
    path = Path(folder) / "README.md"
    if not path.exists() and not path.is_symlink():
        return None
    try:
        _inside(Path(folder), "README.md")
        text = read_text_bounded(path, limit=CARD_LIMIT, what="README.md")
    except (PathEscapeError, FileFormatError, SourceNotFoundError) as error:
        raise SchemaError(error.message, path=path, fix=error.fix or "remove it; vgmed writes the card") from None
    return split_card(text, path=path)


def write_card(folder: str | os.PathLike[str], *, body: str | None = None,
               extra: Mapping[str, Any] | None = None) -> Path:
    """(Re)write README.md: fresh ``configs``/``dataset_info``, other YAML keys and the body kept unless given."""
    path = Path(folder) / "README.md"
    old_header, old_body = read_card(folder) or ({}, "")
    kept = {k: v for k, v in old_header.items() if k not in ("configs", "dataset_info")}
    kept.update(extra or {})
    header = card_yaml(folder, extra=kept)
    text = "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n"
    text += body if body is not None else (old_body or default_body(folder))
    with staged_file(path, what="dataset card") as staged:  # a fresh name: never written through a planted link
        staged.write_text(text)
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
    """Rows as plain Python values straight from Parquet (images stay as ``{"bytes", "path"}``). An unknown
    configuration or split is refused here, before the first row is asked for, naming the ones the folder has."""
    configs = folder_configs(folder)
    if config not in configs:
        raise SourceNotFoundError(f"no '{config}' configuration in this folder (found: {', '.join(configs) or 'none'})",
                                  path=folder, fix="check the folder path, or build the configuration first")
    if split is not None and split not in configs[config]:
        have = ", ".join(sorted(configs[config])) or "none"
        raise InvalidInputError(f"the '{config}' configuration has no '{split}' split (splits: {have})", path=folder,
                                fix=f"pass --split with one of: {have}")
    return _shard_rows(folder, [files for name, files in sorted(configs[config].items())
                                if split is None or name == split], config=config, columns=columns)


def _shard_rows(folder: str | os.PathLike[str], shard_lists: list[list[str]], *, config: str,
                columns: list[str] | None) -> Iterator[dict[str, Any]]:
    for files in shard_lists:
        for relative in files:
            path = Path(folder) / relative
            parquet = open_shard(path, config=config)
            try:
                for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS, columns=columns):
                    yield from batch.to_pylist()
            except (pa.ArrowException, OSError) as error:
                raise FileFormatError(f"the shard is corrupt ({_arrow_message(error)})", path=path,
                                      fix=SHARD_FIX) from None


SHARD_FIX = "rebuild the folder, or download the shard again"


def _arrow_message(error: BaseException) -> str:
    return " ".join(str(error).split())[:200]


def open_shard(path: str | os.PathLike[str], *, config: str | None = None) -> pq.ParquetFile:
    """A Parquet shard with its footer read; :class:`FileFormatError` naming the shard when it is not one
    (empty, truncated, text, a folder, a pipe or device: those are refused before opening).

    Its schema must be the configuration's (``config``, else the name of the ``data/<config>/`` folder it sits
    in, when that is one): a valid Parquet file of another schema is a :class:`SchemaError`."""
    shard = Path(path)
    if shard.is_dir():
        raise FileFormatError("is a folder, not a Parquet shard", path=shard, fix="remove it from data/<config>/")
    try:
        check_regular(shard, what="shard")
    except SourceNotFoundError:
        raise SourceNotFoundError("shard not found", path=shard, fix=SHARD_FIX) from None
    try:
        parquet = pq.ParquetFile(shard)
    except (pa.ArrowException, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise SourceNotFoundError("shard not found", path=shard, fix=SHARD_FIX) from None
        raise FileFormatError(f"is not a readable Parquet shard ({_arrow_message(error)})", path=shard,
                              fix=SHARD_FIX) from None
    config = config or (shard.parent.name if shard.parent.name in CONFIGS else None)
    problem = None if config is None else schema_problem(parquet, config=config)
    if problem is not None:
        raise SchemaError(problem, path=shard, fix=f"this is not a shard of the '{config}' configuration; rebuild "
                                                   "the folder")
    return parquet


def schema_problem(parquet: pq.ParquetFile, *, config: str) -> str | None:
    """Why a shard's features are not ``config``'s (``None``: they are)."""
    from datasets import Features

    expected = features_for(config)
    try:
        features = Features.from_arrow_schema(parquet.schema_arrow)
    except Exception as error:  # noqa: BLE001 - any schema decoding failure is the problem to report
        return f"schema cannot be read as datasets features ({_arrow_message(error)})"
    if features == expected:
        return None
    missing, extra = sorted(set(expected) - set(features)), sorted(set(features) - set(expected))
    return ("features differ from the schema" + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else ""))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None
