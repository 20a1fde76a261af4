"""Benchmark of the Label Studio workflow against a local server (started here, stopped at the end).

1. Tasks imported per second: one task per request vs batches (goal: batched >= 20x one-by-one).
2. Time to pull and convert 1,000 annotated tasks (each with a rectangle, a rotated rectangle, a polygon, a brush
   mask and a verdict, on a 64x40 image; the annotations are imported with the tasks).

Run: ``python bench/annotation.py [--one-by-one 40] [--batched 1000] [--annotated 1000]`` (or ``python -m bench.annotation``)
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/annotation.py` finds tests/ too

import numpy as np
from label_studio_sdk.converter.brush import mask2rle

from vgmed_data.annotation import config
from vgmed_data.annotation.client import Connection, sdk_client
from vgmed_data.annotation.pull import pull_project
from vgmed_data.annotation.push import import_batch
from vgmed_data.annotation.server import ServerSettings, start_server
from vgmed_data.annotation.state import ProjectRecord, open_state
from vgmed_data.annotation.tasks import iter_task_specs
from tests.annotation.data import HEIGHT, WIDTH, make_dataset, sample_mask


def _annotation(index: int) -> dict:
    def pct(x: float, y: float) -> list[float]:
        return [x / WIDTH * 100, y / HEIGHT * 100]
    common = {"to_name": "image", "original_width": WIDTH, "original_height": HEIGHT, "image_rotation": 0}
    return {"completed_by": 1, "lead_time": 10.0, "result": [
        {**common, "from_name": "box", "type": "rectanglelabels",
         "value": {"x": 10.0, "y": 12.5, "width": 25.0, "height": 20.0, "rotation": 0, "rectanglelabels": ["liver"]}},
        {**common, "from_name": "box", "type": "rectanglelabels",
         "value": {"x": 30.0, "y": 10.0, "width": 20.0, "height": 30.0, "rotation": 25, "rectanglelabels": ["liver"]}},
        {**common, "from_name": "polygon", "type": "polygonlabels",
         "value": {"points": [pct(4, 4), pct(20, 4), pct(12, 16)], "closed": True, "polygonlabels": ["liver"]}},
        {**common, "from_name": "brush", "type": "brushlabels",
         "value": {"format": "rle", "rle": mask2rle(sample_mask(index).astype(np.uint8) * 255),
                   "brushlabels": ["liver"]}},
        {"from_name": "verdict", "to_name": "image", "type": "choices", "value": {"choices": ["accept"]}}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-by-one", type=int, default=40)
    parser.add_argument("--batched", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--annotated", type=int, default=1000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vgmed-bench-ls-"))
    settings = ServerSettings.create(data_dir=root / "data", document_root=root / "files")
    server = start_server(settings)
    try:
        connection = Connection(url=settings.url, token=settings.token, document_root=settings.document_root)
        client = sdk_client(connection)
        dataset = make_dataset(root / "ds", max(args.one_by_one, args.batched))
        with open_state(root / "ws") as state:
            specs = list(iter_task_specs(dataset))
            for spec in specs:
                (settings.document_root / spec.image_file).write_bytes(spec.image_bytes)
            payloads = [s.payload(image_url=f"/data/local-files/?d={s.image_file}") for s in specs]
            xml = config.build_label_config(["liver", "kidney"]).xml
            one = client.projects.create(title="bench one-by-one", label_config=xml).id
            many = client.projects.create(title="bench batched", label_config=xml).id
            started = time.perf_counter()
            for payload in payloads[:args.one_by_one]:
                import_batch(client, project_id=one, payloads=[payload], url=settings.url)
            single_rate = args.one_by_one / (time.perf_counter() - started)
            started = time.perf_counter()
            for i in range(0, args.batched, args.batch_size):
                import_batch(client, project_id=many, payloads=payloads[i:i + args.batch_size], url=settings.url)
            batched_rate = args.batched / (time.perf_counter() - started)

            annotated = client.projects.create(title="bench-pull", label_config=xml).id
            tasks = [{**payloads[i % len(payloads)], "annotations": [_annotation(i)]} for i in range(args.annotated)]
            for i in range(0, len(tasks), args.batch_size):
                client.projects.import_tasks(id=annotated, request=tasks[i:i + args.batch_size])
            state.save_project(ProjectRecord(name="bench-pull", url=settings.url, project_id=int(annotated),
                                             kind="review", dataset=str(dataset), labels=("kidney", "liver"),
                                             parent=None))
            started = time.perf_counter()
            report = pull_project(connection, state, workspace=root / "ws", project="bench-pull")
            pull_seconds = time.perf_counter() - started
            assert report.annotations == args.annotated and not report.skipped, report.lines()
        print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}, "
              f"Label Studio {settings.url} (SQLite)")
        print(f"one-by-one import: {single_rate:.1f} tasks/s ({args.one_by_one} tasks)")
        print(f"batched import ({args.batch_size}/request): {batched_rate:.1f} tasks/s ({args.batched} tasks)")
        print(f"ratio: {batched_rate / single_rate:.1f}x")
        print(f"pull + convert {args.annotated} annotated tasks (4 regions + verdict each): {pull_seconds:.2f} s")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
