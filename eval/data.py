"""Evaluation samples read from a dataset folder or a Hub dataset, and the deterministic shard of each rank."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from vgmed_data.configs import CONFIGS
from vgmed_data.errors import FileFormatError, InvalidInputError, require
from vgmed_data.locations import hub_error, local_or_hub


@dataclass(frozen=True)
class EvalSample:
    """One ``vgmed`` row as the evaluator needs it. ``index`` is the row's position in the split (the order
    every output is sorted by); boxes are internal xyxy on the stored image."""

    index: int
    id: str
    image_bytes: bytes
    size: tuple[int, int]
    question: str
    question_type: str
    answer: str
    options: tuple[str, ...]
    boxes: tuple[tuple[float, float, float, float], ...]
    modality: str

    def image(self) -> Image.Image:
        try:
            with Image.open(io.BytesIO(self.image_bytes)) as opened:
                return opened.convert("RGB")
        except Exception as error:  # PIL raises several unrelated types for bad bytes
            raise FileFormatError(f"the image cannot be decoded ({error})", record=self.id,
                                  fix="re-encode the image as PNG in the dataset", reason="image not decodable") from error


def _sample(index: int, row: dict[str, Any]) -> EvalSample:
    image = row.get("image") or {}
    data = image.get("bytes") if isinstance(image, dict) else None
    if data is None and isinstance(image, dict) and image.get("path"):
        data = Path(image["path"]).read_bytes()
    return EvalSample(
        index=index, id=str(row["id"]), image_bytes=data or b"",
        size=(int(row.get("width") or 0), int(row.get("height") or 0)),
        question=str(row["question"]), question_type=str(row.get("question_type") or ""),
        answer=str(row.get("answer") or ""), options=tuple(row.get("options") or ()),
        boxes=tuple(tuple(float(v) for v in box) for box in (row.get("boxes") or ())),  # type: ignore[misc]
        modality=str(row.get("modality") or "OTHER"))


def iter_samples(dataset: str | os.PathLike[str], *, config: str = "vgmed", split: str = "test",
                 limit: int | None = None) -> Iterator[EvalSample]:
    """Samples of ``split`` in stored order, from a local folder (Parquet shards) or a Hub dataset id."""
    if config not in CONFIGS or CONFIGS[config].multi_image:  # attention is measured over one image's tokens
        single = ", ".join(f"'{name}'" for name, spec in CONFIGS.items() if not spec.multi_image)
        raise InvalidInputError(f"the attention evaluator reads the {single} configuration, not {config!r}",
                                fix=f"pass --config {single}; a multi-image configuration is evaluated with "
                                    "`vgmed eval run --task boxes`")
    for index, row in enumerate(iter_dataset_rows(dataset, config=config, split=split)):
        if limit is not None and index >= limit:
            break
        yield _sample(index, row)


def _location(dataset: str | os.PathLike[str]) -> Path | str:
    location = local_or_hub(dataset, what="dataset folder")
    if isinstance(location, Path) and not location.is_dir():
        raise InvalidInputError("is a file, not a dataset folder", path=location,
                                fix="pass the folder that holds README.md and data/")
    return location


def iter_dataset_rows(dataset: str | os.PathLike[str], *, config: str, split: str,
                      columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of one split in stored order, from a local dataset folder or a Hub dataset id (``org/name``, read with
    ``datasets.load_dataset`` and cached); images stay undecoded (``{"bytes", "path"}``) either way. The one
    reader of evaluation rows: the grounding task, the boxes task and box scoring use it."""
    location = _location(dataset)
    if isinstance(location, Path):
        from vgmed_data.folder import iter_rows

        return iter_rows(location, config=config, split=split, columns=columns)
    return _hub_rows(location, config=config, split=split, columns=columns)


def dataset_splits(dataset: str | os.PathLike[str], *, config: str) -> list[str]:
    """The splits of ``config`` in a local dataset folder or a Hub dataset, sorted."""
    location = _location(dataset)
    if isinstance(location, Path):
        from vgmed_data.folder import folder_configs

        return sorted(folder_configs(location).get(config, {}))
    datasets = require("datasets", extra="eval", purpose="reading a Hub dataset")
    try:
        return sorted(datasets.get_dataset_split_names(location, config))
    except (OSError, ConnectionError) as error:
        raise hub_error(error, repo_id=location, repo_type="dataset") from error


def _hub_rows(repo_id: str, *, config: str, split: str, columns: list[str] | None) -> Iterator[dict[str, Any]]:
    datasets = require("datasets", extra="eval", purpose="reading a Hub dataset")
    splits = dataset_splits(repo_id, config=config)
    if split not in splits:
        have = ", ".join(splits) or "none"
        raise InvalidInputError(f"{repo_id}: the '{config}' configuration has no '{split}' split (splits: {have})",
                                fix=f"pass --split with one of: {have}")
    try:
        table = datasets.load_dataset(repo_id, config, split=split)
    except (OSError, ConnectionError) as error:  # DatasetNotFoundError is a FileNotFoundError
        raise hub_error(error, repo_id=repo_id, repo_type="dataset") from error
    if columns is not None:
        table = table.select_columns(columns)
    return iter(table.cast(datasets.Features({name: _undecoded(feature, datasets)
                                              for name, feature in table.features.items()})))


def _undecoded(feature: Any, datasets: Any) -> Any:
    """``feature`` with every image in it (``image``, the ``images`` list of sequences) left as stored bytes."""
    if isinstance(feature, datasets.Image):
        return datasets.Image(decode=False)
    if isinstance(feature, datasets.List):
        return datasets.List(_undecoded(feature.feature, datasets), length=feature.length)
    return feature


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) from the launcher's environment (``torchrun`` / ``accelerate launch`` set
    ``RANK`` and ``WORLD_SIZE``); (0, 1) when run alone."""
    rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world < 1 or not 0 <= rank < world:
        raise InvalidInputError(f"RANK={rank} is not inside WORLD_SIZE={world}",
                                fix="launch with torchrun or unset RANK/WORLD_SIZE")
    return rank, world


def in_shard(index: int, *, rank: int, world: int) -> bool:
    """Deterministic sharding: row ``index`` belongs to rank ``index % world``."""
    return index % world == rank
