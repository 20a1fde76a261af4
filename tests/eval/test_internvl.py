"""InternVL (transformers-native): dynamic tiling and the canvas grid the image tokens form.

The shared tests (capture vs eager, fast VGRefine vs naive, runner, prompt snapshot) run on it through
TINY_FAMILIES; here: the tile-major -> raster re-ordering against positions worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vgmed_data.eval.adapters import GENERAL_PROMPT
from vgmed_data.errors import SchemaError


def test_tiled_canvas_cells_in_raster_order(tiny_adapters) -> None:  # noqa: ANN001
    adapter = tiny_adapters("internvl")
    image = Image.fromarray(np.zeros((60, 90, 3), dtype=np.uint8))  # aspect 1.5: a 2 x 1 canvas of 56-px tiles
    encoded = adapter.encode([image], [GENERAL_PROMPT])
    layout = encoded.layouts[0]
    ids = encoded.inputs["input_ids"][0].tolist()
    start = ids.index(adapter.image_token_id)
    # 2 tiles + thumbnail, 16 tokens (4 x 4) each: 48 tokens, between <img> and </img>
    assert layout.span == (start, start + 48)
    assert ids[start - 1] == adapter.tokenizer.convert_tokens_to_ids("<img>")
    assert ids[start + 48] == adapter.tokenizer.convert_tokens_to_ids("</img>")
    assert layout.grid == (4, 8) and layout.transform.dst_size == (112, 56)
    cells = layout.positions.reshape(4, 8) - start
    # row 0: tile 0 cells 0-3, then tile 1 cells 0-3 (tile 1 starts at token 16); row 3: 12-15, then 28-31
    assert cells[0].tolist() == [0, 1, 2, 3, 16, 17, 18, 19]
    assert cells[3].tolist() == [12, 13, 14, 15, 28, 29, 30, 31]
    assert cells.max() < 32  # the thumbnail (tokens 32-47) is captured in the span but not mapped


def test_one_tile_has_no_thumbnail(tiny_adapters) -> None:  # noqa: ANN001
    adapter = tiny_adapters("internvl")
    layout = adapter.encode([Image.fromarray(np.zeros((50, 50, 3), dtype=np.uint8))], [GENERAL_PROMPT]).layouts[0]
    assert layout.grid == (4, 4) and layout.span[1] - layout.span[0] == 16
    assert layout.transform.dst_size == (56, 56)


def test_token_count_that_is_no_canvas_is_refused(tiny_adapters) -> None:  # noqa: ANN001
    adapter = tiny_adapters("internvl")
    encoded = adapter.encode([Image.fromarray(np.zeros((60, 90, 3), dtype=np.uint8))], [GENERAL_PROMPT])
    ids = encoded.inputs["input_ids"][0].tolist()
    start = ids.index(adapter.image_token_id)
    with pytest.raises(SchemaError, match="tiles"):
        adapter.layout(ids[: start + 40] + ids[start + 48:], (90, 60), encoded.inputs, 0, record="r1")


def test_detected_from_config_and_chat_template_used(tiny_adapters, tiny_checkpoint) -> None:  # noqa: ANN001
    import json

    folder = tiny_checkpoint("internvl")
    assert json.loads((folder / "config.json").read_text())["model_type"] == "internvl"
    adapter = tiny_adapters("internvl")
    assert type(adapter).__name__ == "InternVLAdapter"
    assert adapter.chat_text("Q?") == "<|im_start|>user\n<IMG_CONTEXT>\nQ?<|im_end|>\n<|im_start|>assistant\n"
