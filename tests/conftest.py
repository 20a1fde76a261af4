"""Shared test setup. Service fixtures (real Label Studio, the Hub-compatible server, chromium) live in
tests/fixtures/ and are registered here; each starts once per test session and cleans up after itself."""

from __future__ import annotations

import os

import pytest

pytest_plugins: list[str] = []


@pytest.fixture(autouse=True)
def _hermetic_hf(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's Hugging Face cache or token; never reach the network."""
    home = tmp_path_factory.getbasetemp() / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    if "HF_ENDPOINT" not in os.environ:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
