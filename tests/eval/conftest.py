"""Shared fixtures: tiny random-weight checkpoints of every family, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from vgmed_data.eval.tiny import TINY_FAMILIES, build_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-checkpoints")


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_root: Path):  # noqa: ANN201 - factory
    def get(family: str) -> Path:
        return build_tiny_checkpoint(family, tiny_root / family)

    return get


@pytest.fixture(scope="session")
def tiny_adapters(tiny_checkpoint):  # noqa: ANN001, ANN201 - cache of loaded adapters
    from vgmed_data.eval.adapters import load_adapter

    cache: dict[str, object] = {}

    def get(family: str):  # noqa: ANN202
        if family not in cache:
            cache[family] = load_adapter(tiny_checkpoint(family))
        return cache[family]

    return get


ALL_FAMILIES = TINY_FAMILIES
