"""An annotation dry run that needs no server: what ``push`` would send, written to a folder.

``prepare_review_files(dataset, out=...)`` writes ``label_config.xml``, ``guideline.md``, ``tasks.json`` (the
import payload: task data with ``/data/local-files/?d=vgmed/<name>/...`` image URLs and the predictions) and
the images under ``files/vgmed/<name>/``. Pointing a server's document root at ``out/files`` and importing
``tasks.json`` into a project with that configuration gives the same tasks as ``push``. Used by ``vgmed demo``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vgmed_data.annotation import config
from vgmed_data.annotation.push import MEDIA_SUBDIR
from vgmed_data.annotation.tasks import dataset_labels, iter_task_specs
from vgmed_data.annotation.views import check_sources


@dataclass(frozen=True, kw_only=True)
class DryRunSummary:
    out: Path
    tasks: int
    labels: tuple[str, ...]
    label_config: Path
    tasks_json: Path


def prepare_review_files(dataset: Path, *, out: Path, mask_as: str = "brush", name: str = "dry-run",
                         sources: Mapping[str, Path] | None = None) -> DryRunSummary:
    """With ``sources`` the configuration shows several views and each task's views are written beside its image
    (:mod:`vgmed_data.annotation.views`), as ``push --source`` sends them."""
    out = Path(out)
    media = out / "files" / MEDIA_SUBDIR / name
    sources = check_sources(Path(dataset), sources or {})
    media.mkdir(parents=True, exist_ok=True)
    labels = dataset_labels(Path(dataset))
    label_config = config.build_label_config(labels, multi_view=bool(sources))
    (out / "label_config.xml").write_text(label_config.xml)
    (out / "guideline.md").write_text(config.guideline_markdown())
    payloads = []
    folder_url = f"/data/local-files/?d={MEDIA_SUBDIR}/{name}"
    for spec in iter_task_specs(Path(dataset), mask_as=mask_as, sources=sources):
        (media / spec.image_file).write_bytes(spec.image_bytes)
        for file_name, data in spec.view_files():
            (media / file_name).write_bytes(data)
        payloads.append(spec.payload(image_url=f"{folder_url}/{spec.image_file}",
                                     view_urls=[f"{folder_url}/{f}" for f, _ in spec.view_files()]
                                     if sources else None))
    tasks_json = out / "tasks.json"
    tasks_json.write_text(json.dumps(payloads, indent=1))
    return DryRunSummary(out=out, tasks=len(payloads), labels=labels, label_config=out / "label_config.xml",
                         tasks_json=tasks_json)
