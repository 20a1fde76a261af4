"""Tiny random-weight checkpoints of every family (eval/tiny.py), built and loaded once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vgmed_data.eval.tiny import build_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_adapter(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - cached factory
    from vgmed_data.eval.adapters import load_adapter

    root = tmp_path_factory.mktemp("vgrefine-tiny")
    cache: dict[str, Any] = {}

    def get(family: str) -> Any:
        if family not in cache:
            cache[family] = load_adapter(build_tiny_checkpoint(family, Path(root) / family))
        return cache[family]

    return get


@pytest.fixture(scope="session")
def image() -> Image.Image:
    """A non-square random image: exercises resize, crop and padding rules of every family."""
    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (84, 112, 3), dtype=np.uint8))
