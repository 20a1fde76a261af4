"""Publishing end to end: the real huggingface_hub and datasets clients against the Hub-compatible test server."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from datasets import load_dataset

from tests.fixtures.hub_server import HubServer
from tests.hub.tiny import MANIFEST, grounding_rows, make_folder, sequence_rows, write_source_copy
from vgmed_data.cli import main
from vgmed_data.errors import InvalidInputError, PublishRefusedError, RemoteError
from vgmed_data.folder import split_card
from vgmed_data.hub import publish_dataset, publish_files
from vgmed_data.schema import SEQUENCES_FEATURES, VGMED_FEATURES

pytestmark = pytest.mark.hub


def rows_of(dataset: Any) -> list[dict[str, Any]]:
    """All values, images as stored bytes (no decoding), in order."""
    return dataset.with_format("arrow")[:].to_pylist()


def card_of(server: HubServer, repo_id: str, revision: str = "main") -> tuple[dict[str, Any], str]:
    return split_card(server.files_at(repo_id, revision)["README.md"].decode())


@pytest.fixture
def open_folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "open", grounding=grounding_rows(count=5), sequences=sequence_rows(),
                       manifest=MANIFEST)


def test_publish_then_load_dataset_gives_identical_features_and_values(
        open_folder: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["publish", str(open_folder), "--repo", hub_repo_id, "--revision", "v1", "--token", hub_token])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, captured.err
    assert f"{hub_server.url}/datasets/{hub_repo_id}" in out
    assert f'load_dataset("{hub_repo_id}", "vgmed", revision="v1")' in out
    assert hub_token not in out

    for config, features in (("vgmed", VGMED_FEATURES), ("sequences", SEQUENCES_FEATURES)):
        remote = load_dataset(hub_repo_id, config, revision="v1")
        local = load_dataset(str(open_folder), config)
        assert set(remote) == set(local)
        for split in local:
            assert remote[split].features == features == local[split].features
            assert rows_of(remote[split]) == rows_of(local[split])

    # one data commit (after the repository's initial commit) holding the card and every shard
    commits = hub_server.commits(hub_repo_id)
    assert len(commits) == 2
    files = hub_server.files_at(hub_repo_id, "v1")
    local_shards = sorted(str(p.relative_to(open_folder)) for p in open_folder.glob("data/*/*.parquet"))
    assert sorted(p for p in files if p.startswith("data/")) == local_shards
    assert all(files[p] == (open_folder / p).read_bytes() for p in local_shards)

    header, body = card_of(hub_server, hub_repo_id)
    assert header["license"] == "cc-by-4.0"
    assert header["pretty_name"] == "VGMED tiny"
    assert header["task_categories"] == ["visual-question-answering", "object-detection"]
    assert header["size_categories"] == ["n<1K"]
    assert {"medical", "visual-grounding", "ct"} <= set(header["tags"])
    assert {c["config_name"] for c in header["configs"]} == {"vgmed", "sequences"}
    assert {c["config_name"] for c in header["dataset_info"]} == {"vgmed", "sequences"}
    info = {c["config_name"]: c for c in header["dataset_info"]}
    # grounding_rows(count=5) puts even indices in test, odd ones in validation; sequence_rows: 2 in test
    assert [(s["name"], s["num_examples"]) for s in info["vgmed"]["splits"]] == [("test", 3), ("validation", 2)]
    assert [(s["name"], s["num_examples"]) for s in info["sequences"]["splits"]] == [("test", 2)]
    for config, splits in (("vgmed", ("test", "validation")), ("sequences", ("test",))):  # Arrow bytes, as loaded
        for entry, split in zip(info[config]["splits"], splits):  # (up to buffer layout: row group by row group)
            assert entry["num_bytes"] == pytest.approx(load_dataset(str(open_folder), config, split=split).data.nbytes,
                                                       rel=0.01)
    for config in ("vgmed", "sequences"):
        assert info[config]["download_size"] == sum(len(files[p]) for p in files if p.startswith(f"data/{config}/"))
    assert not any(key.startswith("extra_gated") for key in header)
    for section in ("## How it was built", "## Sources", "## Schema", "## Review", "## Usage",
                    "## Intended use and limitations", "## Citation"):
        assert section in body
    assert "Doe et al. Open CT. 2024." in body and "builder version: `0.1.0`" in body and "seed: `13`" in body
    assert "Mean inter-annotator agreement over 5 rows" in body and "2 annotator(s)" in body
    assert hub_server.repo(hub_repo_id).meta()["gated"] is False


def test_second_publish_with_new_tag_keeps_first_revision_loadable(
        tmp_path: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str) -> None:
    first = make_folder(tmp_path / "v1", grounding=grounding_rows(count=8, seed=1))
    second = make_folder(tmp_path / "v2", grounding=grounding_rows(count=2, seed=2))
    publish_dataset(first, repo_id=hub_repo_id, token=hub_token, revision="v1")
    publish_dataset(second, repo_id=hub_repo_id, token=hub_token, revision="v2")

    old = load_dataset(hub_repo_id, "vgmed", revision="v1")
    new = load_dataset(hub_repo_id, "vgmed", revision="v2")
    assert rows_of(old["test"]) == rows_of(load_dataset(str(first), "vgmed")["test"])
    assert rows_of(new["test"]) == rows_of(load_dataset(str(second), "vgmed")["test"])
    assert old["test"].num_rows == 4 and new["test"].num_rows == 1
    # stale shards of v1 (8 rows -> 2 shards per split) are deleted from main in v2's commit
    assert sorted(p for p in hub_server.files_at(hub_repo_id, "v2") if p.startswith("data/")) == sorted(
        str(p.relative_to(second)) for p in second.glob("data/*/*.parquet"))

    with pytest.raises(InvalidInputError, match="already has a revision tagged 'v1'"):
        publish_dataset(second, repo_id=hub_repo_id, token=hub_token, revision="v1")
    assert len(hub_server.commits(hub_repo_id)) == 3


def test_annotations_only_publishes_no_image_bytes_gated_and_hydrates_back(
        tmp_path: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    open_rows = grounding_rows(count=2, seed=3)
    closed_rows = grounding_rows(source="closedsrc", license="LicenseRef-closed-dua", redistributable=False,
                                 count=3, seed=4)
    closed_seq = sequence_rows(source="closedsrc", license="LicenseRef-closed-dua", redistributable=False)
    folder = make_folder(tmp_path / "mixed", grounding=open_rows + closed_rows, sequences=closed_seq,
                         manifest=MANIFEST)

    with pytest.raises(PublishRefusedError, match="closedsrc") as refused:
        publish_dataset(folder, repo_id=hub_repo_id, token=hub_token)
    assert "opensrc" not in str(refused.value)
    assert not hub_server.exists(hub_repo_id)

    assert main(["publish", str(folder), "--repo", hub_repo_id, "--revision", "v1", "--annotations-only",
                 "--token", hub_token]) == 0
    assert "token=True" in capsys.readouterr().out

    # nothing the repository ever received holds image or mask bytes
    stored = hub_server.stored_objects(hub_repo_id)
    assert stored
    parquet_count = 0
    for path in stored:
        data = path.read_bytes()
        if data[:4] == b"PAR1":
            parquet_count += 1
            table = pq.read_table(io.BytesIO(data))
            for column in ("image", "mask", "images"):
                if column in table.column_names:
                    for cell in table.column(column).to_pylist():
                        cells = cell if isinstance(cell, list) else [cell]
                        assert all(c is None or not c.get("bytes") for c in cells)
        else:
            assert b"\x89PNG" not in data
    assert parquet_count == 3

    header, body = card_of(hub_server, hub_repo_id)
    assert header["license"] == "other" and header["license_name"] == "mixed"
    assert "extra_gated_prompt" in header and "annotations-only" in header["tags"]
    assert header["extra_gated_fields"]["I have access to the restricted sources under their terms"] == "checkbox"
    assert "vgmed hydrate" in body and "apply for access at https://example.org/closed/dua" in body
    assert hub_server.repo(hub_repo_id).meta()["gated"] == "manual"

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError

    with pytest.raises(GatedRepoError):
        snapshot_download(hub_repo_id, repo_type="dataset", revision="v1", local_dir=tmp_path / "anon", token=False)
    remote = load_dataset(hub_repo_id, "vgmed", revision="v1", token=hub_token)
    assert remote["test"].features == VGMED_FEATURES
    assert all(row["image"] is None and row["mask"] is None for row in remote["test"])
    metadata = json.loads(remote["test"][0]["metadata"])
    assert metadata["source_path"].startswith("images/") and len(metadata["image_sha256"]) == 64

    # a researcher with access to both sources gets the images back, pixel-identical
    download = Path(snapshot_download(hub_repo_id, repo_type="dataset", revision="v1",
                                      local_dir=tmp_path / "download", token=hub_token))
    copy_open = write_source_copy(tmp_path / "src-open", open_rows)
    copy_closed = write_source_copy(tmp_path / "src-closed", closed_rows + closed_seq)
    assert main(["hydrate", str(download), "--source", f"opensrc={copy_open}",
                 "--source", f"closedsrc={copy_closed}"]) == 0
    assert "restored 9 image(s)" in capsys.readouterr().out
    for config in ("vgmed", "sequences"):
        hydrated = load_dataset(str(download), config)
        original = load_dataset(str(folder), config)
        for split in original:
            column = "image" if config == "vgmed" else "images"
            assert hydrated[split][column] == original[split][column]


def test_dropped_upload_connection_is_retried(
        open_folder: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str) -> None:
    hub_server.inject_drop("lfs-upload", times=1)
    publish_dataset(open_folder, repo_id=hub_repo_id, token=hub_token, revision="v1")
    dropped = [r for r in hub_server.requests if r[2] == 0 and r[1].startswith(f"/lfs-upload/datasets/{hub_repo_id}/")]
    assert dropped
    assert len(hub_server.commits(hub_repo_id)) == 2


def test_dropped_commit_connection_is_retried_once_without_a_double_commit(
        open_folder: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str) -> None:
    hub_server.inject_drop("commit", times=1)
    publish_dataset(open_folder, repo_id=hub_repo_id, token=hub_token, revision="v1")
    assert any(r[2] == 0 and f"{hub_repo_id}/commit/" in r[1] for r in hub_server.requests)
    assert len(hub_server.commits(hub_repo_id)) == 2
    remote = load_dataset(hub_repo_id, "vgmed", revision="v1")
    assert rows_of(remote["test"]) == rows_of(load_dataset(str(open_folder), "vgmed")["test"])


def test_dropped_commit_connection_fails_cleanly_and_a_rerun_publishes(
        open_folder: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str) -> None:
    hub_server.inject_drop("commit", times=10)
    try:
        with pytest.raises(RemoteError, match="nothing was committed"):
            publish_dataset(open_folder, repo_id=hub_repo_id, token=hub_token, revision="v1")
    finally:
        hub_server.clear_faults()
    assert len(hub_server.commits(hub_repo_id)) == 1  # only the repository's initial commit
    assert list(hub_server.files_at(hub_repo_id)) == [".gitattributes"]
    assert not any(ref == "v1" for ref in hub_server.repo(hub_repo_id).refs()["tags"])

    publish_dataset(open_folder, repo_id=hub_repo_id, token=hub_token, revision="v1")
    assert load_dataset(hub_repo_id, "vgmed", revision="v1")["test"].num_rows == 3


def test_concurrent_commit_is_refused_not_interleaved(
        hub_server: HubServer, hub_token: str, hub_repo_id: str) -> None:
    first = publish_files(repo_id=hub_repo_id, files={"results/a.jsonl": b'{"a": 1}\n'}, token=hub_token,
                          message="a")
    publish_files(repo_id=hub_repo_id, files={"results/b.jsonl": b'{"b": 2}\n'}, token=hub_token, message="b")
    with pytest.raises(RemoteError, match="another commit landed"):
        publish_files(repo_id=hub_repo_id, files={"results/c.jsonl": b"{}\n"}, token=hub_token, message="c",
                      parent_commit=first.commit_oid)
    assert sorted(hub_server.files_at(hub_repo_id)) == [".gitattributes", "results/a.jsonl", "results/b.jsonl"]


def test_server_refuses_lfs_content_that_does_not_match_its_sha256(hub_server: HubServer, hub_api: Any,
                                                                   hub_repo_id: str) -> None:
    import hashlib

    from huggingface_hub import get_session

    hub_api.create_repo(hub_repo_id, repo_type="dataset")
    oid = hashlib.sha256(b"the real bytes").hexdigest()
    response = get_session().put(f"{hub_server.url}/lfs-upload/datasets/{hub_repo_id}/{oid}?size=14",
                                 content=b"other bytes!!!")
    assert response.status_code == 400
    assert not (hub_server.repo(hub_repo_id).objects / oid).exists()


def test_declared_split_sizes_are_what_load_dataset_checks(
        open_folder: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str,
        caplog: pytest.LogCaptureFixture) -> None:
    from datasets import load_dataset_builder
    from datasets.exceptions import NonMatchingSplitsSizesError

    publish_dataset(open_folder, repo_id=hub_repo_id, token=hub_token, revision="v1")
    with caplog.at_level(logging.WARNING, logger="datasets"):
        builder = load_dataset_builder(hub_repo_id, "vgmed", revision="v1")
    assert "Ignoring part of dataset_info" not in caplog.text  # the card's split entries are well formed
    assert builder.info.features == VGMED_FEATURES
    assert {name: split.num_examples for name, split in builder.info.splits.items()} == {"test": 3, "validation": 2}
    assert load_dataset(hub_repo_id, "vgmed", revision="v1")["validation"].num_rows == 2

    # A card whose counts are wrong fails the load: the declaration is checked, not decorative.
    header, body = card_of(hub_server, hub_repo_id, "v1")
    next(c for c in header["dataset_info"] if c["config_name"] == "vgmed")["splits"][0]["num_examples"] = 4
    card = "---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n" + body
    publish_files(repo_id=hub_repo_id, files={"README.md": card.encode()}, token=hub_token, message="wrong", tag="bad")
    with pytest.raises(NonMatchingSplitsSizesError):
        load_dataset(hub_repo_id, "vgmed", revision="bad")


def test_card_yaml_is_valid_for_the_hub_validator(open_folder: Path, hub_server: HubServer, hub_token: str,
                                                  hub_repo_id: str) -> None:
    publish_dataset(open_folder, repo_id=hub_repo_id, token=hub_token)
    text = hub_server.files_at(hub_repo_id)["README.md"].decode()
    assert yaml.safe_load(text.split("---\n")[1])["configs"][0]["data_files"]


def test_large_folder_is_staged_resumably_and_published_last(
        tmp_path: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    from vgmed_data.hub import UploadInterruptedError, staging_branch

    folder = make_folder(tmp_path / "big", grounding=grounding_rows(count=10, seed=3), sequences=sequence_rows(),
                         manifest=MANIFEST)
    shards = sorted(str(p.relative_to(folder)) for p in folder.glob("data/*/*.parquet"))
    sizes = {p: (folder / p).stat().st_size for p in shards}
    assert len(shards) == 5  # 5 test + 5 validation rows in shards of 3 -> 2 + 2, and one sequences shard
    limit = max(sizes.values()) + 1  # one shard per staging commit
    staging = staging_branch("v1")

    # Interrupted after two staging commits: both attempts of the third commit lose their connection.
    hub_server.inject_drop("commit", times=2, after=2)
    try:
        with pytest.raises(UploadInterruptedError, match=f"2 of 5 file.*{staging}.*nothing was published"):
            publish_dataset(folder, repo_id=hub_repo_id, token=hub_token, revision="v1", max_commit_bytes=limit)
    finally:
        hub_server.clear_faults()
    refs = hub_server.repo(hub_repo_id).refs()
    assert "v1" not in refs["tags"]
    assert list(hub_server.files_at(hub_repo_id, "main")) == [".gitattributes"]  # no card, no shard on main
    staged = hub_server.files_at(hub_repo_id, staging)
    assert sorted(p for p in staged if p.startswith("data/")) == shards[:2] and "README.md" not in staged
    assert all(staged[p] == (folder / p).read_bytes() for p in shards[:2])
    assert len(hub_server.commits(hub_repo_id, staging)) == 3  # initial + two staging commits

    # The re-run (through the CLI option) skips the staged shards and sends only the others.
    before = len(hub_server.requests)
    code = main(["publish", str(folder), "--repo", hub_repo_id, "--revision", "v1", "--token", hub_token,
                 "--max-commit-bytes", str(limit)])
    assert code == 0, capsys.readouterr().err
    import hashlib

    requests = hub_server.requests[before:]
    uploaded = {r[1].split("/")[-1].split("?")[0] for r in requests if r[0] == "PUT" and r[1].startswith("/lfs-upload/")}
    digests = {p: hashlib.sha256((folder / p).read_bytes()).hexdigest() for p in shards}
    # The third shard's object reached the server before its commit was cut: it is not sent again either.
    assert uploaded == {digests[p] for p in shards[3:]}
    staging_commits = [r for r in requests if r[0] == "POST" and r[1].endswith(f"/commit/{staging}") and r[2] == 200]
    assert len(staging_commits) == 3  # shards 3, 4 and 5, one per commit; the two staged ones are skipped
    main_commits = hub_server.commits(hub_repo_id, "main")
    assert len(main_commits) == 2  # the initial commit and ONE publishing commit with card + all shards
    refs = hub_server.repo(hub_repo_id).refs()
    assert refs["tags"]["v1"] == main_commits[0]["oid"] and staging not in refs["branches"]
    files = hub_server.files_at(hub_repo_id, "v1")
    assert sorted(p for p in files if p.startswith("data/")) == shards and "README.md" in files
    for config in ("vgmed", "sequences"):
        remote = load_dataset(hub_repo_id, config, revision="v1")
        local = load_dataset(str(folder), config)
        for split in local:
            assert rows_of(remote[split]) == rows_of(local[split])


def test_small_folder_under_the_threshold_is_one_commit_without_staging(
        open_folder: Path, hub_server: HubServer, hub_token: str, hub_repo_id: str) -> None:
    from vgmed_data.hub import staging_branch

    total = sum(p.stat().st_size for p in open_folder.glob("data/*/*.parquet"))
    publish_dataset(open_folder, repo_id=hub_repo_id, token=hub_token, revision="v1", max_commit_bytes=total)
    assert len(hub_server.commits(hub_repo_id)) == 2
    assert staging_branch("v1") not in hub_server.repo(hub_repo_id).refs()["branches"]
    with pytest.raises(InvalidInputError, match="max_commit_bytes must be positive"):
        publish_dataset(open_folder, repo_id=hub_repo_id, token=hub_token, max_commit_bytes=0)
