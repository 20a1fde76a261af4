"""The pipeline end to end, as users run it (issue 14): every stage is the ``vgmed`` CLI in a subprocess, reading the
folder (or Hub repository) the stage before it wrote. Nothing between stages is made by hand.

Sources, in their real on-disk layouts (tests/builders/miniatures.py): an MSD NIfTI task (Task01_BrainTumour: four
MR sequences), a 2D image/mask source (IDRiD), a DICOM CT series with DICOM-SEG (LIDC-IDRI as IDC ships it; needs
``--deid-key``) and a box table (NIH ChestX-ray14's BBox_List_2017.csv, whose licence forbids publishing images).

1. ``sources verify`` each; ``build vgmed`` over all four; ``build sequences`` from the MSD task; ``validate`` both.
2. Review in the session's real Label Studio: ``annotate push`` (and the first ``pull``) on a pseudo-terminal, where
   their progress bars show; two experts submit through the Label Studio API
   (one disagrees on one sample); ``pull``; ``agreement``; ``adjudicate``; the adjudicator submits; ``pull``;
   ``finalize``; ``validate``.
3. Publishing to the Hub-compatible server: the reviewed folder is refused with images (NIH's licence), goes out
   ``--annotations-only`` (gated) and hydrates back from the sources to the reviewed pixels, CT and MR rows included;
   ``build vgmed`` over the three redistributable sources publishes in full and loads back by repo id and tag with
   identical features and rows (and the same pixels as the hydrated rows); the sequences folder publishes too.
4. Evaluation of a tiny random-weight model: ``eval select`` and ``eval run --method baseline,vgrefine`` on the full
   release by Hub id, ``eval run --task boxes`` on the downloaded sequences release, ``eval publish`` of both runs,
   ``eval serve`` answering with both runs' rows over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasets import load_dataset
from PIL import Image

from tests.annotation.scenario import A, ADJ, B, rect, verdict
from tests.builders import miniatures as mini
from tests.fixtures.http import free_port, wait_until_up
from tests.fixtures.hub import HUB_ORG
from tests.hub.test_publish import card_of, rows_of
from tests.terminal import run_on_terminal
from vgmed_data.annotation.client import sdk_client
from vgmed_data.folder import iter_rows
from vgmed_data.schema import SEQUENCES_FEATURES, VGMED_FEATURES

pytestmark = [pytest.mark.slow, pytest.mark.labelstudio, pytest.mark.hub]

DEID_KEY = "e2e-pseudonymisation-key-not-a-secret"
PROJECT = "e2e-review"
REDISTRIBUTABLE = ("msd-brain-tumour", "idrid-seg", "lidc-idri")
BUILD_OPTIONS = ("--deid-key", DEID_KEY, "--seed", "0", "--splits", "test=1.0", "--max-per-source", "3")


class Cli:
    """``vgmed`` as a user runs it: a new process per command, stdout/stderr captured, Hub settings from the
    environment (HF_ENDPOINT points at the test server, HF_TOKEN is the write token)."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.cwd, self.env = cwd, dict(env)

    def __call__(self, *args: object, expect: int = 0, timeout: float = 600) -> str:
        done = subprocess.run([sys.executable, "-m", "vgmed_data.cli", *map(str, args)], cwd=self.cwd,
                              env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == expect, f"vgmed {' '.join(map(str, args))} -> {done.returncode}\n{done.stderr[-4000:]}"
        assert "Traceback" not in done.stderr, done.stderr[-4000:]
        return done.stdout if expect == 0 else done.stderr

    def on_terminal(self, *args: object) -> tuple[str, str]:
        """(stdout, what an interactive terminal showed on stderr: the progress bars)."""
        code, out, shown = run_on_terminal([sys.executable, "-m", "vgmed_data.cli", *map(str, args)], cwd=self.cwd,
                                           env=self.env)
        assert code == 0, shown[-4000:]
        return out, shown


def write_sources(root: Path) -> dict[str, Path]:
    shape = (32, 28, 10)
    tumour = mini.cuboid(shape, (6, 6, 2), (20, 20, 8))
    tumour[10:16, 10:16, 3:7] = 2
    return {
        "msd-brain-tumour": mini.write_msd_task(
            root / "msd", task="Task01_BrainTumour", cases={"BRATS_001": tumour, "BRATS_002": tumour[::-1].copy()},
            labels={"1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"},
            modality={"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"}),
        "idrid-seg": mini.write_idrid(root, {
            "IDRiD_01": {"OD": mini.disc((72, 96), (30, 70), 10).astype(np.uint8),
                         "EX": mini.disc((72, 96), (50, 20), 4).astype(np.uint8)},
            "IDRiD_02": {"OD": mini.disc((72, 96), (36, 24), 9).astype(np.uint8)}}),
        "lidc-idri": mini.write_lidc_idc(root / "idc"),
        "nih-cxr14-bbox": mini.write_nih(root / "cxr14", [
            ("00013118_008.png", "Atelectasis", (225.0847, 547.0192, 86.7797, 79.1864)),
            ("00014716_007.png", "Effusion", (600.0, 700.0, 200.0, 150.0))], size=1024),
    }


def source_args(sources: Mapping[str, Path], keys: tuple[str, ...]) -> list[str]:
    return [arg for key in keys for arg in ("--source", f"{key}={sources[key]}")]


def pixels(cell: Mapping[str, Any] | None) -> np.ndarray:
    assert cell is not None and cell.get("bytes"), "no image bytes"
    with Image.open(io.BytesIO(cell["bytes"])) as image:
        return np.asarray(image).copy()


def rows_by_id(folder: Path, config: str = "vgmed") -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in iter_rows(folder, config=config)}


# ------------------------------------------------------------------------------------------------------- review

def project_tasks(client: Any, title: str) -> dict[str, int]:
    """sample id -> task id, read from the Label Studio API (the tasks carry their sample id)."""
    (project,) = [p for p in client.projects.list(title=title) if p.title == title]
    return {task.data["sample_id"]: int(task.id) for task in client.tasks.list(project=project.id, page_size=1000)}


def expert_boxes(row: Mapping[str, Any], *, moved: bool = False) -> list[dict]:
    """The candidate's boxes as a Label Studio annotator draws them; ``moved``: each box put beside itself (no
    overlap; the row is chosen so that there is room)."""
    size = (int(row["width"]), int(row["height"]))
    results = []
    for x1, y1, x2, y2 in row["boxes"]:
        width = x2 - x1
        if moved:
            x1 = x2 + 1 if x2 + 1 + width <= size[0] else x1 - width - 1
        results.append(rect(x1, y1, width, y2 - y1, label=row["target"], size=size))
    return results


def roomy(row: Mapping[str, Any]) -> bool:
    """Every box of the row can move beside itself inside the image."""
    return all(x2 + 1 + (x2 - x1) <= row["width"] or x1 - (x2 - x1) - 1 >= 0 for x1, _, x2, _ in row["boxes"])


def review(cli: Cli, built: Path, reviewed: Path, *, ls: Any, connection: Any, users: Mapping[str, int],
           workspace: Path) -> str:
    """Push, two experts (B disagrees on one sample), agreement, adjudication, finalize. Returns the sample that
    went to the adjudicator."""
    server = ["--workspace", workspace, "--url", ls.url, "--token", ls.settings.token,
              "--document-root", ls.settings.document_root]
    out, shown = cli.on_terminal("annotate", "push", built, "--project", PROJECT, "--batch-size", "4", *server)
    candidates = rows_by_id(built)
    assert f"{len(candidates)} task(s) imported" in out
    assert f"push {PROJECT}: 100%" in shown and f"{len(candidates)}/{len(candidates)}" in shown
    client = sdk_client(connection)
    tasks = project_tasks(client, PROJECT)
    assert set(tasks) == set(candidates)
    disputed = next(key for key in sorted(candidates) if roomy(candidates[key]))
    for sample_id, task in tasks.items():
        row = candidates[sample_id]
        client.annotations.create(id=task, result=[*expert_boxes(row), verdict("accept")], completed_by=users[A])
        client.annotations.create(id=task, result=[*expert_boxes(row, moved=sample_id == disputed),  # B disagrees
                                                   verdict("accept")],
                                  completed_by=users[B])
    _out, shown = cli.on_terminal("annotate", "pull", "--project", PROJECT, *server[:6])
    assert f"pull {PROJECT}: 100%" in shown
    agreement = cli("annotate", "agreement", "--project", PROJECT, "--workspace", workspace)
    assert A in agreement and B in agreement
    cli("annotate", "adjudicate", "--project", PROJECT, "--threshold", "0.7", *server)
    adjudication = project_tasks(client, f"{PROJECT}-adjudication")
    assert set(adjudication) == {disputed}
    client.annotations.create(id=adjudication[disputed], result=[*expert_boxes(candidates[disputed]),
                                                                  verdict("accept")], completed_by=users[ADJ])
    cli("annotate", "pull", "--project", f"{PROJECT}-adjudication", *server[:6])
    cli("annotate", "finalize", "--project", PROJECT, "--out", reviewed, "--workspace", workspace)
    assert "valid" in cli("validate", reviewed)
    final = rows_by_id(reviewed)
    assert set(final) == set(candidates)
    assert final[disputed]["review"]["status"] == "adjudicated" and final[disputed]["review"]["adjudicator"] == ADJ
    assert {row["review"]["status"] for key, row in final.items() if key != disputed} == {"accepted"}
    for key, row in final.items():  # A's boxes everywhere: agreed by B, or chosen by the adjudicator
        assert row["boxes"] == [pytest.approx(box, abs=1e-6) for box in candidates[key]["boxes"]]
        assert key == disputed or sorted(row["review"]["annotators"]) == sorted([A, B])
    return disputed


def hf_download(cli: Cli, repo: str, folder: Path) -> None:
    """``hf download`` of a release's v1 tag, as the dataset card tells users to."""
    subprocess.run([str(Path(sys.executable).with_name("hf")), "download", repo, "--repo-type", "dataset",
                    "--revision", "v1", "--local-dir", str(folder)], env=cli.env, check=True, capture_output=True,
                   timeout=300)


# -------------------------------------------------------------------------------------------------------- serve

def served_runs(cli: Cli, results: str) -> dict[str, Any]:
    """What ``vgmed eval serve RESULTS`` answers on ``/api/runs``."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "vgmed_data.cli", "eval", "serve", results, "--port", str(port)],
                               cwd=cli.cwd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        return json.loads(wait_until_up(f"http://127.0.0.1:{port}/api/runs", process, timeout_s=180))
    finally:
        process.terminate()
        process.wait(timeout=30)


# --------------------------------------------------------------------------------------------------------- test

def test_the_pipeline_end_to_end(tmp_path: Path, hub_server: Any, hub_token: str, label_studio: Any,
                                 ls_connection: Any, ls_users: Mapping[str, int]) -> None:
    cli = Cli(tmp_path, {**os.environ, "HF_TOKEN": hub_token, "HF_HUB_DISABLE_XET": "1"})
    sources = write_sources(tmp_path / "sources")

    # 1. sources -> builds -> validation
    for key, root in sources.items():
        assert f"{key}: layout ok" in cli("sources", "verify", key, root)
    built, sequences = tmp_path / "built", tmp_path / "sequences"
    cli("build", "vgmed", *source_args(sources, tuple(sources)), "--out", built, *BUILD_OPTIONS)
    cli("build", "sequences", "--source", f"msd-brain-tumour={sources['msd-brain-tumour']}", "--out", sequences,
        "--seed", "0")
    assert "valid" in cli("validate", built) and "valid" in cli("validate", sequences)
    candidates = rows_by_id(built)
    assert {row["source"] for row in candidates.values()} == set(sources)
    assert {"CT", "MR", "XR", "FUNDUS"} <= {row["modality"] for row in candidates.values()}

    # 2. expert review in Label Studio
    reviewed = tmp_path / "reviewed"
    review(cli, built, reviewed, ls=label_studio, connection=ls_connection, users=ls_users,
           workspace=tmp_path / "review")
    final = rows_by_id(reviewed)

    # 3a. the reviewed folder holds NIH rows: refused with images, published annotations-only behind a gate
    full_repo, gated_repo, seq_repo = (f"{HUB_ORG}/e2e-{name}" for name in ("full", "gated", "sequences"))
    refusal = cli("publish", reviewed, "--repo", gated_repo, expect=2)
    assert len(refusal.strip().splitlines()) == 1 and "nih-cxr14-bbox" in refusal and "--annotations-only" in refusal
    assert "gated" in cli("publish", reviewed, "--repo", gated_repo, "--revision", "v1", "--annotations-only")
    _header, body = card_of(hub_server, gated_repo, "v1")
    assert "command: `vgmed build vgmed`" in body and "Medical Segmentation Decathlon" in body  # the build's manifest
    release = load_dataset(gated_repo, "vgmed", revision="v1", token=hub_token)
    assert release["test"].features == VGMED_FEATURES
    assert sorted(release["test"]["id"]) == sorted(final) and all(i is None for i in release["test"]["image"])

    # 3b. hydrate the downloaded annotations-only release from local copies of the sources
    download = tmp_path / "download"
    hf_download(cli, gated_repo, download)
    assert "valid" in cli("validate", download)
    out = cli("hydrate", download, *source_args(sources, tuple(sources)))
    assert f"restored {len(final)} image(s)" in out and "valid" in cli("validate", download)
    hydrated = rows_by_id(download)
    for sample_id, row in final.items():
        assert np.array_equal(pixels(hydrated[sample_id]["image"]), pixels(row["image"])), sample_id

    # 3c. a build over the redistributable sources publishes in full and loads back identically
    open_build = tmp_path / "built-open"
    cli("build", "vgmed", *source_args(sources, REDISTRIBUTABLE), "--out", open_build, *BUILD_OPTIONS)
    assert "valid" in cli("validate", open_build)
    cli("publish", open_build, "--repo", full_repo, "--revision", "v1")
    local, remote = load_dataset(str(open_build), "vgmed"), load_dataset(full_repo, "vgmed", revision="v1")
    assert set(remote) == set(local) == {"test"}
    assert remote["test"].features == VGMED_FEATURES == local["test"].features
    assert rows_of(remote["test"]) == rows_of(local["test"])
    shared = {row["id"]: row for row in remote["test"].with_format("arrow")[:].to_pylist() if row["id"] in hydrated}
    assert {row["modality"] for row in shared.values()} >= {"CT", "MR"}  # the hydrated CT and MR rows, pixel for pixel
    for sample_id, row in shared.items():
        assert np.array_equal(pixels(hydrated[sample_id]["image"]), pixels(row["image"])), sample_id
    cli("publish", sequences, "--repo", seq_repo, "--revision", "v1")
    assert "command: `vgmed build sequences`" in card_of(hub_server, seq_repo, "v1")[1]
    remote_sequences = load_dataset(seq_repo, "sequences", revision="v1")
    assert remote_sequences["test"].features == SEQUENCES_FEATURES
    assert rows_of(remote_sequences["test"]) == rows_of(load_dataset(str(sequences), "sequences")["test"])

    # 4. evaluation of a tiny random-weight model on the releases
    tiny, heads, runs = tmp_path / "tiny-qwen2-vl", tmp_path / "heads.json", tmp_path / "runs"
    cli("eval", "tiny", "qwen2_vl", "--out", tiny)
    cli("eval", "select", "--model", tiny, "--dataset", full_repo, "--out", heads, "--limit", "3", "--k", "4",
        "--split", "test", "--no-progress")
    cli("eval", "run", "--model", tiny, "--dataset", full_repo, "--out", runs / "grounding", "--method",
        "baseline,vgrefine", "--heads", heads, "--limit", "4", "--max-new-tokens", "2", "--overlays", "1",
        "--no-progress")
    grounding = json.loads((runs / "grounding" / "summary.json").read_text())
    assert grounding["counts"]["samples"] == 4
    downloaded_sequences = tmp_path / "download-sequences"
    hf_download(cli, seq_repo, downloaded_sequences)
    cli("eval", "run", "--model", tiny, "--dataset", downloaded_sequences, "--config", "sequences", "--task",
        "boxes", "--out", runs / "boxes", "--limit", "4", "--max-new-tokens", "8", "--no-progress")
    assert (runs / "boxes" / "predictions.jsonl").read_text().count("\n") == 4
    results = f"{HUB_ORG}/e2e-results"
    published = [cli("eval", "publish", runs / name, "--repo", results) for name in ("grounding", "boxes")]
    run_ids = [line.split()[2] for out in published for line in out.splitlines() if line.startswith("appended run")]
    assert len(run_ids) == 2, published
    served = served_runs(cli, results)
    rows = served["runs"]
    assert {row["run_id"] for row in rows} == set(run_ids)
    assert sorted(row["method"] for row in rows if row["run_id"] == run_ids[0]) == ["baseline", "vgrefine"]
