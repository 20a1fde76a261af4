"""A folder written by ``vgmed build vgmed`` publishes (its manifest read by the card through the same typed record
the builder wrote) and loads back from the Hub with identical features and rows (issue 14: ``vgmed publish``
crashed with ``'list' object has no attribute 'get'`` on every built folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasets import load_dataset

from tests.builders import miniatures as mini
from tests.fixtures.hub_server import HubServer
from tests.hub.test_publish import card_of, rows_of
from tests.terminal import run_on_terminal
from vgmed_data.builders.vgmed import BuildOptions, build_vgmed
from vgmed_data.cli import main
from vgmed_data.errors import FileFormatError
from vgmed_data.manifest import Manifest, ManifestSource, read_manifest, write_manifest
from vgmed_data.schema import VGMED_FEATURES


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("built")
    shape = (32, 28, 10)
    spleen = mini.write_msd_task(root / "msd", task="Task09_Spleen", labels={"1": "spleen"}, modality={"0": "CT"},
                                 cases={"spleen_2": mini.cuboid(shape, (4, 6, 3), (14, 18, 7)),
                                        "spleen_3": mini.cuboid(shape, (18, 4, 2), (28, 12, 5))})
    idrid = mini.write_idrid(root, {"IDRiD_01": {"OD": mini.disc((72, 96), (30, 70), 10).astype(np.uint8)}})
    out = root / "out"
    build_vgmed([("msd-spleen", spleen), ("idrid-seg", idrid)], out=out, options=BuildOptions(seed=0))
    return out


@pytest.mark.hub
def test_a_built_folder_publishes_and_loads_back_identically(built: Path, hub_server: HubServer, hub_token: str,
                                                             hub_repo_id: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["publish", str(built), "--repo", hub_repo_id, "--revision", "v1", "--token", hub_token])
    assert code == 0, capsys.readouterr().err
    local = load_dataset(str(built), "vgmed")
    remote = load_dataset(hub_repo_id, "vgmed", revision="v1")
    assert set(remote) == set(local)
    for split in local:
        assert remote[split].features == VGMED_FEATURES == local[split].features
        assert rows_of(remote[split]) == rows_of(local[split])
    _header, body = card_of(hub_server, hub_repo_id, "v1")
    # the card shows what the builder recorded: source names, citations and the build command
    assert "Medical Segmentation Decathlon" in body and "IDRiD" in body
    assert "command: `vgmed build vgmed`" in body and "seed: `0`" in body
    assert "not recorded in manifest.json" not in body


def test_the_builder_manifest_reads_back_typed_and_holds_no_local_path(built: Path) -> None:
    manifest = read_manifest(built)
    assert manifest is not None and manifest.command == "build vgmed" and manifest.seed == 0
    assert [s.key for s in manifest.sources] == ["msd-spleen", "idrid-seg"]
    spleen = manifest.source("msd-spleen")
    assert spleen is not None and spleen.license == "CC-BY-SA-4.0" and spleen.redistributable and spleen.files == 4
    assert str(built.parent) not in (built / "manifest.json").read_text()  # published: no local paths


def test_manifest_round_trip_and_a_foreign_layout_is_a_one_line_error(tmp_path: Path) -> None:
    manifest = Manifest(command="build vgmed", version="0.1.0", seed=3, options={"seed": 3},
                        sources=(ManifestSource(key="a", license="CC0-1.0", redistributable=True, citation="A."),))
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest
    assert read_manifest(tmp_path / "nowhere") is None
    (tmp_path / "manifest.json").write_text(json.dumps({"command": "x", "version": "1",
                                                        "sources": {"a": {"license": "CC0-1.0"}}}))
    with pytest.raises(FileFormatError, match=r"manifest\.json: 'sources' must be a list .*Fix: rebuild"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(FileFormatError, match="not valid JSON"):
        read_manifest(tmp_path)


@pytest.mark.hub
def test_publish_shows_upload_bars_on_a_terminal_only(built: Path, hub_server: HubServer, hub_token: str,
                                                      hub_repo_id: str) -> None:
    env = {**{k: v for k, v in os.environ.items() if k != "VGMED_DISABLE_PROGRESS_BARS"}, "HF_TOKEN": hub_token}
    command = [sys.executable, "-m", "vgmed_data.cli", "publish", str(built), "--repo", hub_repo_id]
    piped = subprocess.run([*command, "--revision", "v1"], capture_output=True, text=True, env=env, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert "%|" not in piped.stderr  # no carriage-return bars in logs and pipes
    code, out, shown = run_on_terminal([*command, "--revision", "v2"], env=env)
    assert code == 0 and "tagged v2" in out
    assert "Upload 0 LFS files" in shown and "it/s" in shown  # huggingface_hub's bar (the shards are stored already)


def test_rows_that_could_never_be_hydrated_are_not_stripped(built: Path, tmp_path: Path) -> None:
    """`build sequences` draws, edits and crops its images and writes no pointers: an annotations-only release of
    them would lose the images for good, so stripping (publish --annotations-only) refuses and names the rows."""
    from vgmed_data.errors import PublishRefusedError
    from vgmed_data.pointers import strip_images

    msd = built.parent / "msd" / "Task09_Spleen"
    assert main(["build", "sequences", "--source", f"msd-spleen={msd}", "--out", str(tmp_path / "seq"),
                 "--tasks", "referring", "--quiet"]) == 0
    manifest = read_manifest(tmp_path / "seq")  # the sequences builder writes the same typed manifest
    assert manifest is not None and manifest.command == "build sequences" and manifest.options["tasks"] == ["referring"]
    assert [(s.key, s.license) for s in manifest.sources] == [("msd-spleen", "CC-BY-SA-4.0")]
    assert "Medical Segmentation Decathlon" in (manifest.sources[0].name + manifest.sources[0].citation)
    with pytest.raises(PublishRefusedError, match=r"row\(s\) have no pointer .* sequences/msd-spleen-") as refused:
        strip_images(tmp_path / "seq", tmp_path / "stripped")
    assert "without --annotations-only" in str(refused.value) and not (tmp_path / "stripped").exists()
    strip_images(built, tmp_path / "stripped-vgmed")  # the vgmed builder's rows all carry their pointer
