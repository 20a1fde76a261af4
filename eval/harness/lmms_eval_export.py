"""``vgmed export lmms-eval FOLDER --out DIR``: one lmms-eval task per configuration of a dataset folder.

lmms-eval (0.7.3) indexes every ``*.yaml`` under ``--include_path`` that has a ``task`` key
(``lmms_eval/tasks/__init__.py``, ``TaskManager.initialize_tasks``) and builds a ``ConfigurableTask`` from it
(``lmms_eval/api/task.py``): ``dataset_path`` + ``dataset_kwargs`` go to ``datasets.load_dataset`` (here the
``parquet`` builder on the folder's own shards, absolute paths, so nothing is copied or downloaded);
``doc_to_visual`` / ``doc_to_text`` / ``process_results`` / metric ``aggregation`` name functions with
``!function utils.<name>``, resolved relative to the YAML's folder. ``utils.py`` is
:mod:`vgmed_data.eval.harness.lmms_task_utils` with the chosen box format written in.

    vgmed export lmms-eval DATA --out tasks/       # then: lmms-eval --tasks vgmed_data --include_path tasks/ ...

Tasks: ``<name>`` for the ``vgmed`` configuration (answer accuracy, scored as ``vgmed eval run`` scores
answers) and ``<name>_sequences`` for ``sequences`` (mIoU, Acc@0.3/0.5/0.7, image accuracy, scored as
``vgmed eval score`` scores boxes in ``--box-format``). ``<name>`` defaults to ``vgmed_<folder name>``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from vgmed_data.eval.harness import lmms_task_utils
from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.boxes.formats import FORMATS
from vgmed_data.eval.boxes.scoring import THRESHOLDS
from vgmed_data.folder import folder_configs, open_shard
from vgmed_data.staging import staged_file

GENERATION = {"vgmed": 64, "sequences": 128}  # max_new_tokens: a short answer / one box with an image number


def task_name(folder: Path, name: str | None) -> str:
    base = name or "vgmed_" + folder.resolve().name
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", base).strip("_").lower()
    if not slug:
        raise InvalidInputError(f"cannot make a task name from {base!r}", fix="pass --name NAME (letters, digits, _)")
    return slug


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _yaml(config: str, *, task: str, files: dict[str, list[str]], split: str) -> str:
    prefix = "vgmed" if config == "vgmed" else "sequences"
    lines = [f"task: {task}", "dataset_path: parquet", "dataset_kwargs:", "  data_files:"]
    for name in sorted(files):
        lines.append(f"    {name}:")
        lines.extend(f"      - {_quoted(path)}" for path in files[name])
    lines += [f"test_split: {split}", "output_type: generate_until",
              f"doc_to_visual: !function utils.{prefix}_doc_to_visual",
              f"doc_to_text: !function utils.{prefix}_doc_to_text",
              "doc_to_target: answer",
              f"process_results: !function utils.{prefix}_process_results",
              "generation_kwargs:", f"  max_new_tokens: {GENERATION[config]}", "  temperature: 0", "  do_sample: false",
              "metric_list:"]
    metrics = ["accuracy"] if config == "vgmed" else ["miou", *(f"acc@{t}" for t in THRESHOLDS)]
    for metric in metrics:
        lines += [f"  - metric: {_quoted(metric)}", "    aggregation: mean", "    higher_is_better: true"]
    if config == "sequences":
        lines += ['  - metric: "image_acc"', "    aggregation: !function utils.mean_skip_none",
                  "    higher_is_better: true"]
    lines += ["metadata:", "  version: 1.0", ""]
    return "\n".join(lines)


def _utils_source(box_format: str) -> str:
    source = inspect.getsource(lmms_task_utils)
    line = 'BOX_FORMAT = "pixel_xyxy"'
    if line not in source:
        raise RuntimeError("lmms_task_utils.BOX_FORMAT line not found")  # a broken install, not a user error
    return source.replace(line, f"BOX_FORMAT = {box_format!r}", 1)


def export_lmms_eval(folder: str | Path, *, out: str | Path, name: str | None = None,
                     box_format: str = "pixel_xyxy", split: str | None = None) -> list[Path]:
    """Write ``out/utils.py`` and one task YAML per configuration (``vgmed``, ``sequences``); the YAML paths."""
    root = Path(folder)
    if box_format not in FORMATS:
        raise InvalidInputError(f"unknown box format {box_format!r}", fix=f"use one of {', '.join(sorted(FORMATS))}")
    configs = {c: s for c, s in folder_configs(root).items() if c in GENERATION}
    if not configs:
        raise InvalidInputError("no vgmed or sequences configuration in this folder", path=root,
                                fix="pass a dataset folder written by vgmed build / vgmed import")
    base = task_name(root, name)
    target = Path(out)
    texts: dict[str, str] = {"utils.py": _utils_source(box_format)}
    for config, splits in configs.items():
        chosen = split or ("test" if "test" in splits else sorted(splits)[0])
        if chosen not in splits:
            raise InvalidInputError(f"no split {chosen!r} in the {config} configuration", path=root,
                                    fix=f"pass --split, one of {', '.join(sorted(splits))}")
        for paths in splits.values():  # a task must not point at a shard that cannot be read
            for relative in paths:
                open_shard(root / relative)
        files = {s: [str((root / p).resolve()) for p in paths] for s, paths in splits.items()}
        task = base if config == "vgmed" else f"{base}_sequences"
        texts[f"{task}.yaml"] = _yaml(config, task=task, files=files, split=chosen)
    if target.exists() and not target.is_dir():
        raise InvalidInputError("--out is a file", path=target, fix="pass a folder for the task files")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in texts.items():
        with staged_file(target / file_name) as staged:
            staged.write_text(text)
        if file_name.endswith(".yaml"):
            written.append(target / file_name)
    return written
