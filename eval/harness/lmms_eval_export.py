"""``vgmed export lmms-eval FOLDER --out DIR``: one lmms-eval task per configuration of a dataset folder.

lmms-eval (0.7.3) indexes every ``*.yaml`` under ``--include_path`` that has a ``task`` key
(``lmms_eval/tasks/__init__.py``, ``TaskManager.initialize_tasks``), reads it with ``yaml.full_load`` plus a
``!function`` constructor that imports ``<module>.py`` from the YAML's folder (``lmms_eval/utils.py``,
``import_function`` and ``load_yaml_config``) and builds a ``ConfigurableTask`` (``lmms_eval/api/task.py``):
``dataset_path: parquet`` + ``dataset_kwargs.data_files`` go to ``datasets.load_dataset`` on the folder's own
shards (absolute paths: nothing is copied or downloaded).

Each task ``<task>`` is written as three files, so tasks exported into one folder never share state:

* ``<task>.yaml``, written by PyYAML's safe dumper (``!function`` tags by one added representer; never by formatting),
  whose functions are ``!function <task>.<name>``;
* ``<task>.json``, its settings (configuration, ``--box-format``, the lmms-eval frame, the fitted mean-box
  baseline), written by ``json.dumps``;
* ``<task>.py``, the same fixed module for every task: it binds
  :mod:`vgmed_data.eval.harness.lmms_task_utils` to the JSON file of its own name.

Names that reach these files are checked against documented patterns (:data:`TASK_NAME`, :data:`SPLIT_NAME`,
:data:`SHARD_NAME`) and refused in one line otherwise. Files are mode 0644, like generated code.

    vgmed export lmms-eval DATA --out tasks/ --box-format qwen2_5_vl   # lmms-eval ... --include_path tasks/
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from vgmed_data.configs import CONFIGS, default_config
from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.boxes.baselines import MeanBox
from vgmed_data.eval.boxes.dataset import iter_targets
from vgmed_data.eval.boxes.formats import FORMATS
from vgmed_data.eval.boxes.report import FIT_SPLIT_ORDER
from vgmed_data.eval.harness.lmms_frames import get_frame
from vgmed_data.eval.harness.lmms_task_utils import (MULTI_IMAGE_ONLY, SETTINGS_VERSION, sequence_metric_names)
from vgmed_data.folder import folder_configs, open_shard
from vgmed_data.staging import staged_file

GENERATION = {"text": 64, "box": 128}  # max_new_tokens per answer kind: a short answer / one box with an image number
# A task name is also the name of its Python module (``!function <task>.x``) and of its files.
TASK_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# A split name as the Hub writes them (``datasets``: ``\w+(\.\w+)*``), ASCII only.
SPLIT_NAME = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
# A shard file name: no whitespace, quotes, YAML/Jinja syntax or glob characters (``data_files`` are globs).
SHARD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.=-]*\.parquet")
FILE_MODE = 0o644
MODULE = '''"""An lmms-eval task written by `vgmed export lmms-eval`; its settings are the .json file of the same name."""

from pathlib import Path

from vgmed_data.eval.harness.lmms_task_utils import bind, mean_skip_none  # noqa: F401 (named by the YAML)

_task = bind(Path(__file__).with_suffix(".json"))
doc_to_visual = _task.doc_to_visual
doc_to_text = _task.doc_to_text
doc_to_messages = _task.doc_to_messages
process_results = _task.process_results
'''


class _Function(str):
    """A ``!function module.name`` value for lmms-eval's YAML loader."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Function, lambda dumper, value: dumper.represent_scalar("!function", str(value)))


def task_name(folder: Path, name: str | None) -> str:
    """``name`` if it matches :data:`TASK_NAME`; without one, ``vgmed_`` + the folder name made to match."""
    if name is not None:
        if not TASK_NAME.fullmatch(name):
            raise InvalidInputError(f"task name {name!r} is not allowed",
                                    fix=f"pass --name matching {TASK_NAME.pattern} (lower-case letters, digits, _)")
        return name
    slug = re.sub(r"[^a-z0-9_]+", "_", "vgmed_" + folder.resolve().name.lower()).strip("_")[:64]
    if not TASK_NAME.fullmatch(slug):
        raise InvalidInputError(f"cannot make a task name from the folder name {folder.resolve().name!r}",
                                fix=f"pass --name matching {TASK_NAME.pattern}")
    return slug


def _checked_splits(root: Path, config: str, splits: dict[str, list[str]]) -> dict[str, list[str]]:
    """Absolute shard paths per split, every split and shard name checked and every shard readable."""
    files: dict[str, list[str]] = {}
    for split, paths in splits.items():
        for relative in paths:
            shard = root / relative
            if not SHARD_NAME.fullmatch(shard.name) or not SPLIT_NAME.fullmatch(split):
                raise InvalidInputError(
                    f"shard name {shard.name!r} cannot be exported (split {split!r})", path=shard.parent,
                    fix=f"rename it to <split>-NNNNN-of-NNNNN.parquet; names must match {SHARD_NAME.pattern} "
                        f"and splits {SPLIT_NAME.pattern}")
            open_shard(shard)
        files[split] = [str((root / p).resolve()) for p in paths]
    return files


def _mean_box(root: Path, splits: dict[str, list[str]], scored: str) -> dict[str, Any] | None:
    fit = next((s for s in FIT_SPLIT_ORDER if s in splits and s != scored), None)
    if fit is None:
        return None
    mean = MeanBox.fit(list(iter_targets(root, config="sequences", split=fit)), split=fit, scored_split=scored)
    return {"fitted_on": mean.fitted_on, "relative": {k: list(v) for k, v in mean.relative.items()},
            "image_index": mean.image_index, "overall": list(mean.overall), "n": mean.n}


def _metric_list(task: str, names: list[str]) -> list[dict[str, Any]]:
    return [{"metric": name, "higher_is_better": True,
             "aggregation": _Function(f"{task}.mean_skip_none") if name.endswith(MULTI_IMAGE_ONLY) else "mean"}
            for name in names]


def _task_yaml(config: str, *, task: str, files: dict[str, list[str]], split: str,
               settings: dict[str, Any]) -> str:
    if CONFIGS[config].answer == "text":
        metrics = ["accuracy"]
    else:
        metrics = [m for m in sequence_metric_names()
                   if settings.get("mean_box") is not None or not m.startswith("mean_box_")]
    document = {
        "task": task, "dataset_path": "parquet", "dataset_kwargs": {"data_files": files}, "test_split": split,
        "output_type": "generate_until",
        **{key: _Function(f"{task}.{key}") for key in ("doc_to_visual", "doc_to_text", "doc_to_messages")},
        "doc_to_target": "answer", "process_results": _Function(f"{task}.process_results"),
        "generation_kwargs": {"max_new_tokens": GENERATION[CONFIGS[config].answer], "temperature": 0, "do_sample": False},
        "metric_list": _metric_list(task, metrics),
        "metadata": {"version": 1.0, "vgmed": _stated(settings)},
    }
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=False, width=1000)


def _stated(settings: dict[str, Any]) -> dict[str, Any]:
    """What the YAML says about its scoring (the JSON file holds the same, and is what the code reads)."""
    stated: dict[str, Any] = {"config": settings["config"], "scale": "fraction 0-1 (vgmed eval score prints x100)"}
    if CONFIGS[settings["config"]].answer == "box":
        frame = settings["frame"]
        stated.update({"box_format": settings["box_format"], "frame": frame["lmms_model"],
                       "frame_resizes": frame["resizes"], "frame_source": frame["source"],
                       "mean_box": "unavailable: no split to fit it on" if settings.get("mean_box") is None
                       else f"fitted on split {settings['mean_box']['fitted_on']!r}"})
    return stated


def _write(path: Path, text: str) -> None:
    with staged_file(path) as staged:
        staged.write_text(text, encoding="utf-8")
        os.chmod(staged, FILE_MODE)


def _check_not_foreign(target: Path, task: str) -> None:
    module = target / f"{task}.py"
    if module.exists() and (not module.is_file() or module.read_text(errors="replace") != MODULE):
        raise InvalidInputError(f"{module.name} exists and was not written by vgmed export lmms-eval", path=module,
                                fix="pass another --name or another --out folder")


def export_lmms_eval(folder: str | Path, *, out: str | Path, name: str | None = None,
                     box_format: str = "pixel_xyxy", split: str | None = None, lmms_model: str | None = None,
                     min_pixels: int | None = None, max_pixels: int | None = None) -> list[Path]:
    """Write one task (``.yaml`` + ``.json`` + ``.py``) per configuration (``vgmed``, ``sequences``); the YAML
    paths. ``lmms_model`` names the lmms-eval model whose image frame sequences boxes are scored in (default:
    the one of ``box_format``'s family, else the stored image); ``min_pixels``/``max_pixels`` as its model_args."""
    root = Path(folder)
    if box_format not in FORMATS:
        raise InvalidInputError(f"unknown box format {box_format!r}", fix=f"use one of {', '.join(sorted(FORMATS))}")
    frame = get_frame(lmms_model, box_format=box_format, min_pixels=min_pixels, max_pixels=max_pixels)
    configs = folder_configs(root)
    if not configs:
        raise InvalidInputError("no vgmed or sequences configuration in this folder", path=root,
                                fix="pass a dataset folder written by vgmed build / vgmed import")
    base = task_name(root, name)
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise InvalidInputError("--out is a file", path=target, fix="pass a folder for the task files")
    tasks: dict[str, tuple[str, str]] = {}  # task -> (yaml text, settings json)
    for config, splits in configs.items():
        chosen = split or ("test" if "test" in splits else sorted(splits)[0])
        if chosen not in splits:
            raise InvalidInputError(f"no split {chosen!r} in the {config} configuration", path=root,
                                    fix=f"pass --split, one of {', '.join(sorted(splits))}")
        files = _checked_splits(root, config, splits)
        task = base if config == default_config(CONFIGS) else f"{base}_{config}"
        settings: dict[str, Any] = {"version": SETTINGS_VERSION, "config": config, "task": task, "split": chosen}
        if CONFIGS[config].answer == "box":
            settings.update({"box_format": box_format, "frame": frame.to_dict(),
                             "mean_box": _mean_box(root, splits, chosen)})
        text = _task_yaml(config, task=task, files=files, split=chosen, settings=settings)
        tasks[task] = (text, json.dumps(settings, indent=2, sort_keys=True) + "\n")
        _check_not_foreign(target, task)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for task, (text, settings_json) in tasks.items():
        _write(target / f"{task}.json", settings_json)
        _write(target / f"{task}.py", MODULE)
        _write(target / f"{task}.yaml", text)
        written.append(target / f"{task}.yaml")
    return written
