"""``vgmed publish`` audits the release: cross-split duplicates and patient overlap are refused before anything is
uploaded, ``--allow-leaks`` publishes and states the counts in the card's Checks section (the real
huggingface_hub client against the Hub-compatible test server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.core.test_audit import folder_of, real_renders, sample
from tests.fixtures.hub_server import HubServer
from vgmed_data.cli import main
from vgmed_data.folder import split_card

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def renders() -> dict[str, Image.Image]:
    return real_renders()


def _leaky(path: Path, renders: dict[str, Image.Image]) -> Path:
    ct, mr = renders["CT_small"], renders["MR_small.dcm"]
    return folder_of(path, [
        sample(ct, name="ct", split="train"), sample(ct.resize((64, 64)), name="ct-half", split="test"),
        sample(mr, name="mr-1", split="train", patient="P-both"),
        sample(renders["liver_1frame.dcm"], name="liver", split="test", patient="P-both")])


def test_publish_refuses_a_leaking_release_and_uploads_nothing(renders: dict[str, Image.Image], tmp_path: Path,
                                                               hub_server: HubServer, hub_token: str,
                                                               hub_repo_id: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = _leaky(tmp_path / "ds", renders)
    assert main(["publish", str(folder), "--repo", hub_repo_id, "--token", hub_token]) == 2
    err = capsys.readouterr().err
    assert "patient src-a/P-both appears in several splits" in err  # validation names the patient first
    assert not hub_server.exists(hub_repo_id)
    clean_patients = folder_of(tmp_path / "dup-only", [sample(renders["CT_small"], name="ct", split="train"),
                                                       sample(renders["CT_small"].resize((64, 64)), name="ct-half",
                                                              split="test")])
    assert main(["publish", str(clean_patients), "--repo", hub_repo_id, "--token", hub_token]) == 2
    err = capsys.readouterr().err
    assert "leaks between its splits (cross-split near duplicates: 1)" in err and "--allow-leaks" in err
    assert "Traceback" not in err and not hub_server.exists(hub_repo_id)


def test_allow_leaks_publishes_with_the_counts_in_the_checks_section(renders: dict[str, Image.Image],
                                                                     tmp_path: Path, hub_server: HubServer,
                                                                     hub_token: str, hub_repo_id: str) -> None:
    folder = _leaky(tmp_path / "ds", renders)
    assert main(["publish", str(folder), "--repo", hub_repo_id, "--token", hub_token, "--allow-leaks"]) == 0
    _header, body = split_card(hub_server.files_at(hub_repo_id)["README.md"].decode())
    checks = body.split("## Checks", 1)[1].split("\n## ", 1)[0]
    assert "| cross-split near duplicates | 1 |" in checks and "| patients in several splits | 1 |" in checks
    assert "| cross-split exact duplicates | 0 |" in checks and "--allow-leaks" in checks


def test_a_clean_release_has_a_checks_section_with_zero_counts(renders: dict[str, Image.Image], tmp_path: Path,
                                                               hub_server: HubServer, hub_token: str,
                                                               hub_repo_id: str) -> None:
    folder = folder_of(tmp_path / "ds", [sample(renders["CT_small"], name="ct", split="train"),
                                         sample(renders["MR_small.dcm"], name="mr", split="test")])
    assert main(["publish", str(folder), "--repo", hub_repo_id, "--token", hub_token]) == 0
    _header, body = split_card(hub_server.files_at(hub_repo_id)["README.md"].decode())
    assert "## Checks" in body and "| cross-split near duplicates | 0 |" in body and "--allow-leaks" not in body


def test_audit_against_a_hub_id_finds_the_published_images(renders: dict[str, Image.Image], tmp_path: Path,
                                                           hub_server: HubServer, hub_token: str, hub_repo_id: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = folder_of(tmp_path / "bench", [sample(renders["MR_small.dcm"], name="mr", split="test",
                                                      source="vqa-rad"),
                                               sample(renders["liver_1frame.dcm"], name="liver", split="test",
                                                      source="vqa-rad")])
    assert main(["publish", str(benchmark), "--repo", hub_repo_id, "--token", hub_token]) == 0
    ours = folder_of(tmp_path / "ours", [sample(renders["MR_small.dcm"], name="mr-train", split="train"),
                                         sample(renders["CT_small"], name="ct", split="test")])
    capsys.readouterr()
    assert main(["audit", str(ours), "--against", hub_repo_id, "--out", str(tmp_path / "out")]) == 0
    assert f"| exact against:{hub_repo_id} | 1 |" in capsys.readouterr().out
    pairs = json.loads((tmp_path / "out" / "audit.json").read_text())["pairs"]
    assert [(p["first"]["rows"][0]["split"], p["second"]["dataset"], p["second"]["rows"][0]["source"])
            for p in pairs] == [("train", hub_repo_id, "vqa-rad")]
