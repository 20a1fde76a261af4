"""A tiny HuatuoGPT-Vision checkpoint in the authors' original layout, built and loaded once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vgmed_data.eval.tiny import build_tiny_checkpoint


@pytest.fixture(scope="session")
def huatuo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint("huatuogpt_vision", tmp_path_factory.mktemp("huatuo") / "tiny")


@pytest.fixture(scope="session")
def huatuo(huatuo_dir: Path):  # noqa: ANN201 - the adapter
    from vgmed_data.eval.adapters import load_adapter

    return load_adapter(huatuo_dir)


@pytest.fixture(scope="session")
def wide_image() -> Image.Image:
    """Landscape (112 x 84): padded top and bottom by 14 px before the resize to 56."""
    return Image.fromarray(np.random.default_rng(3).integers(0, 255, (84, 112, 3), dtype=np.uint8))
