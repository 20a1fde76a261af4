"""Folder facts (issue 23 item 3): recorded in manifest.json while a folder is written, verified by size and
sha256 before a publish, and the full checks whenever they are absent or do not match the files.

Golden values come from the files themselves (hashlib, os.stat, pyarrow footers and columns) or from the full
checks that read every row (the path publishing took before facts existed)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.fixtures.hub_server import HubServer
from tests.hub.tiny import MANIFEST, grounding_rows, make_folder, sequence_rows, write_source_copy
from vgmed_data.audit import audit, write_image_hashes
from vgmed_data.card import CardOptions, render_card
from vgmed_data.errors import PublishRefusedError
from vgmed_data.facts import verify
from vgmed_data.guards import licence_report
from vgmed_data.hub import publish_dataset, release_checks
from vgmed_data.manifest import IMAGE_HASHES_NAME, MANIFEST_NAME
from vgmed_data.pointers import hydrate, rows_without_pointers, strip_images

pytestmark = pytest.mark.hub


def recorded(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST_NAME).read_text())["facts"]


def shard_files(folder: Path) -> list[Path]:
    return sorted((folder / "data").rglob("*.parquet"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "open", grounding=grounding_rows(count=5), sequences=sequence_rows(),
                       manifest=MANIFEST)


def test_facts_recorded_while_writing_are_the_files_own(folder: Path, tmp_path: Path) -> None:
    facts = recorded(folder)
    shards = {s["path"]: s for config in facts["configs"].values() for s in config["shards"]}
    assert sorted(shards) == [p.relative_to(folder).as_posix() for p in shard_files(folder)]
    for path in shard_files(folder):
        entry = shards[path.relative_to(folder).as_posix()]
        parquet = pq.ParquetFile(path)
        assert entry["bytes"] == path.stat().st_size
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["rows"] == parquet.metadata.num_rows
        assert entry["arrow_bytes"] == sum(parquet.read_row_group(i).nbytes for i in range(parquet.num_row_groups))

    for config, image_columns in (("vgmed", ("image", "mask")), ("sequences", ("images",))):
        table = pq.read_table(folder / "data" / config)
        rows = table.to_pylist()
        groups = Counter((r["source"], r["license"], r["redistributable"],
                          any(c and (any(i and i["bytes"] for i in c) if isinstance(c, list) else c["bytes"])
                              for c in (r[name] for name in image_columns))) for r in rows)
        assert {(g["source"], g["license"], g["redistributable"], g["images"]): g["rows"]
                for g in facts["configs"][config]["licences"]} == dict(groups)
        assert facts["configs"][config]["phi"] == {"identifying_rows": 0, "dicom_image_rows": 0}
        assert facts["configs"][config]["problems"] == 0 and facts["configs"][config]["rows_without_pointers"] == 0

    # the build record written after the rows kept the facts; image_hashes.json holds what decoding every image
    # of the written folder gives (the file the builders wrote before, by reading their output again)
    assert json.loads((folder / MANIFEST_NAME).read_text())["command"] == "build vgmed"
    written = (folder / IMAGE_HASHES_NAME).read_bytes()
    copy = shutil.copytree(folder, tmp_path / "copy")
    assert write_image_hashes(copy).read_bytes() == written


def test_audit_phi_and_problems_recorded_are_those_the_full_checks_find(tmp_path: Path) -> None:
    rows = grounding_rows(count=4)
    moved = replace(rows[0], id=rows[0].id + "-copy", provenance=replace(rows[0].provenance, split="train"))
    phi = grounding_rows(source="other", count=2, seed=5, metadata={"dicom": {"PatientName": "DOE^JANE"}})
    dicom = grounding_rows(source="raw", count=1, seed=6, image_origin="dicom")
    bare = replace(rows[1], id=rows[1].id + "-bare", provenance=replace(rows[1].provenance, metadata={}))
    folder = make_folder(tmp_path / "planted", grounding=[*rows, moved, *phi, *dicom, bare])
    config = recorded(folder)["configs"]["vgmed"]
    assert config["rows_without_pointers"] == len(rows_without_pointers(folder)) == 1
    full = audit(folder, name="x")
    assert full.leaks["cross-split exact duplicates"] == 1 and full.leaks["patients in several splits"] == 1
    assert config["audit"] == json.loads(json.dumps(full.summary()))
    assert config["phi"] == {"identifying_rows": 2, "dicom_image_rows": 1}


def test_publish_of_a_verified_folder_reads_facts_and_gives_the_card_of_the_full_checks(
        folder: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str) -> None:
    lines: list[str] = []
    publish_dataset(folder, repo_id=hub_repo_id, token=hub_token, revision="v1", note=lines.append)
    assert lines == ["folder facts verified (3 shard(s): sizes and sha256 as recorded)"]
    checks = release_checks(folder, name=hub_repo_id, allow_leaks=False)  # reads every row
    expected = render_card(folder, options=CardOptions(repo_id=hub_repo_id, revision="v1", checks=checks),
                           report=licence_report(folder))
    assert hub_server.files_at(hub_repo_id, "v1")["README.md"].decode() == expected


def test_a_folder_without_facts_publishes_through_the_full_checks(
        folder: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str) -> None:
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    del manifest["facts"]  # as written by a version before the facts
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    lines: list[str] = []
    publish_dataset(folder, repo_id=hub_repo_id, token=hub_token, note=lines.append)
    assert len(lines) == 1 and lines[0].startswith("no folder facts in manifest.json")
    assert "data/vgmed/test-00000-of-00001.parquet" in hub_server.files_at(hub_repo_id, "main")


def test_a_shard_edited_after_writing_is_checked_in_full_and_refused(
        folder: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str) -> None:
    shard = folder / "data" / "vgmed" / "test-00000-of-00001.parquet"
    table = pq.read_table(shard)
    metadata = table.column("metadata").to_pylist()
    metadata[0] = json.dumps({"dicom": {"PatientName": "DOE^JANE"}})  # the facts recorded no PHI
    table = table.set_column(table.schema.get_field_index("metadata"), "metadata",
                             pa.array(metadata, type=pa.string()))
    pq.write_table(table, shard, row_group_size=64, compression="zstd")
    lines: list[str] = []
    with pytest.raises(PublishRefusedError, match="PHI guard refuses to publish 1 row"):
        publish_dataset(folder, repo_id=hub_repo_id, token=hub_token, note=lines.append)
    assert len(lines) == 1 and lines[0].startswith("data/vgmed/test-00000-of-00001.parquet changed after the folder "
                                                   "was written")
    assert not hub_server.exists(hub_repo_id)


def test_verify_names_a_shard_of_the_same_size_another_shard_and_a_missing_one(folder: Path) -> None:
    assert verify(folder)[0] is not None
    shard = folder / "data" / "vgmed" / "validation-00000-of-00001.parquet"
    original = shard.read_bytes()
    shard.write_bytes(original[::-1])
    facts, line = verify(folder)
    assert facts is None and line.startswith(f"{shard.relative_to(folder).as_posix()} changed after the folder "
                                              "was written (its sha256 differs)")
    shard.write_bytes(original)
    extra = folder / "data" / "vgmed" / "train-00000-of-00001.parquet"
    shutil.copy(shard, extra)
    assert verify(folder)[1].startswith("data/vgmed/train-00000-of-00001.parquet is not in the folder facts")
    extra.unlink()
    shard.unlink()
    assert verify(folder)[1].startswith(f"{shard.relative_to(folder).as_posix()} is in the folder facts but not")
    shard.write_bytes(original)
    assert verify(folder)[0] is not None
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    sequences = manifest["facts"]["configs"].pop("sequences")  # as when an older version wrote that configuration
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert verify(folder)[1].startswith("the 'sequences' configuration has no folder facts")
    manifest["facts"]["configs"]["sequences"] = sequences
    manifest["facts"]["rules"] = "0" * 64  # recorded by other checking code (an earlier guard may have missed PHI)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert verify(folder)[1].startswith("the folder facts were recorded by other checking code")


def test_stripping_and_hydrating_keep_the_facts_true(tmp_path: Path) -> None:
    rows = grounding_rows(count=3)
    seqs = sequence_rows()
    original = make_folder(tmp_path / "orig", grounding=rows, sequences=seqs, manifest=MANIFEST)
    stripped = strip_images(original, tmp_path / "stripped")
    facts, line = verify(stripped)
    assert facts is not None, line
    assert json.loads((stripped / MANIFEST_NAME).read_text())["command"] == "build vgmed"
    # the stripped rows hold fingerprints only: their recorded audit still sees every image, by the hashes carried
    assert facts.facts.configs["vgmed"].audit == recorded(original)["configs"]["vgmed"]["audit"]
    hydrate(stripped, sources={"opensrc": write_source_copy(tmp_path / "src", [*rows, *seqs])}, quiet=True)
    facts, line = verify(stripped)
    assert facts is not None, line
    assert (stripped / IMAGE_HASHES_NAME).read_bytes() == (original / IMAGE_HASHES_NAME).read_bytes()
