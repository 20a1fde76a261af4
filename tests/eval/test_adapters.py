"""Registry, detection, image-token layouts and the stored-image -> model-input transform."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vgmed_data.eval.adapters import GENERAL_PROMPT, registered_families
from vgmed_data.eval.adapters.base import Adapter
from vgmed_data.eval.adapters.registry import adapter_for_config, register, unregister
from vgmed_data.eval.tiny import TINY_FAMILIES, build_tiny_checkpoint
from vgmed_data.errors import InvalidInputError, SchemaError


def test_every_family_is_registered_and_unknown_lists_them() -> None:
    from vgmed_data.eval.adapters.registry import families

    published = {checkpoint.name for family in families() for checkpoint in family.checkpoints}
    assert set(TINY_FAMILIES) == set(registered_families()) | published

    class Config:
        model_type = "blip_2"

    with pytest.raises(InvalidInputError) as info:
        adapter_for_config(Config())
    assert "qwen2_5_vl" in str(info.value) and "gemma3" in str(info.value)


def test_registry_refuses_collisions() -> None:
    from dataclasses import replace

    from vgmed_data.eval.adapters.family import Checkpoint
    from vgmed_data.eval.adapters.qwen2_vl import Qwen2VLAdapter

    base = Qwen2VLAdapter.descriptor

    class Clash(Qwen2VLAdapter):
        descriptor = replace(base, name="qwen2_vl_clash", checkpoints=())  # its published checkpoints stay put

    with pytest.raises(InvalidInputError, match="already handled"):
        register(Clash)

    class SameName(Qwen2VLAdapter):
        descriptor = replace(base, model_types=("something_else",), checkpoints=())

    with pytest.raises(InvalidInputError, match="already registered"):
        register(SameName)

    class CheckpointClash(Qwen2VLAdapter):
        descriptor = replace(base, name="other", model_types=("other",), checkpoints=(
            Checkpoint(name="llava", repo="x/y", commit="0", tiny="m:f"),))

    with pytest.raises(InvalidInputError, match="already used"):
        register(CheckpointClash)

    class NoDescriptor(Qwen2VLAdapter):
        pass

    with pytest.raises(InvalidInputError, match="descriptor"):
        register(NoDescriptor)
    unregister("qwen2_vl_clash")
    assert "qwen2_vl_clash" not in registered_families() and "other" not in registered_families()
    assert Clash.family == "qwen2_vl_clash" and Qwen2VLAdapter.family == "qwen2_vl"  # read from the descriptor


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_layout_grid_and_transform(family: str, tiny_adapters) -> None:  # noqa: ANN001
    adapter = tiny_adapters(family)
    image = Image.fromarray(np.zeros((70, 100, 3), dtype=np.uint8))
    encoded = adapter.encode([image], [GENERAL_PROMPT])
    layout = encoded.layouts[0]
    rows, cols = layout.grid
    ids = encoded.inputs["input_ids"][0].numpy()
    assert np.all(ids[layout.positions] == adapter.image_token_id)
    assert layout.transform.src_size == (100, 70)
    width, height = layout.transform.dst_size
    if adapter.family.startswith("qwen"):  # a published checkpoint's name differs from its family's
        unit = adapter.patch * adapter.merge
        assert (width, height) == (cols * unit, rows * unit)  # smart resize to multiples of patch * merge
        assert width % unit == 0 and height % unit == 0
    else:
        assert width == height  # LLaVA crop / Gemma square resize
    # The whole stored image maps onto the input frame's content region.
    full = layout.transform.apply_boxes([[0, 0, 100, 70]])[0]
    assert full[0] <= 0.5 and full[2] >= width - 0.5 or adapter.family in ("llava", "llava_next")


def test_llava_shortest_edge_crop_transform_matches_processor_pixels(tiny_adapters) -> None:  # noqa: ANN001
    """The transform reproduces the processor's own resize + center crop (pixel check on a ramp image)."""
    adapter = tiny_adapters("llava")
    ramp = np.tile(np.arange(112, dtype=np.uint8)[None, :, None] * 2, (56, 1, 3))
    image = Image.fromarray(ramp)
    transform = adapter.input_transform(image.size)
    assert transform.dst_size == (56, 56)
    ours = np.asarray(transform.apply_image(image), dtype=np.float64)[..., 0]
    pixels = adapter.processor.image_processor(images=[image], return_tensors="np")["pixel_values"][0, 0]
    mean, std = adapter.processor.image_processor.image_mean[0], adapter.processor.image_processor.image_std[0]
    theirs = (pixels * std + mean) * 255
    assert np.abs(ours - theirs).mean() < 3.0  # same geometry (resampling filters differ slightly)


def test_llava_square_padding_transform() -> None:
    from vgmed_data.eval.adapters.llava import LlavaAdapter

    class Stub:  # a processor-settings holder, not our code
        crop_size = {"width": 336, "height": 336}
        size = {"shortest_edge": 336}
        do_pad = True

    transform = LlavaAdapter.input_transform(type("A", (), {"processor": type("P", (), {"image_processor": Stub})})(),
                                             (200, 100))
    assert transform.dst_size == (336, 336)
    np.testing.assert_allclose(transform.apply_boxes([[0, 0, 200, 100]])[0], [0, 84, 336, 252])


def test_missing_image_span_is_a_clear_error(tmp_path, tiny_adapters) -> None:  # noqa: ANN001
    """A checkpoint whose chat template never inserts the image placeholder."""
    from vgmed_data.eval.adapters import AdapterOptions, load_adapter

    path = build_tiny_checkpoint("llava", tmp_path / "llava")
    adapter = load_adapter(path, options=AdapterOptions())
    adapter.processor.chat_template = "{% for m in messages %}{{ m['content'][1]['text'] }}{% endfor %}"
    image = Image.fromarray(np.zeros((56, 56, 3), dtype=np.uint8))
    with pytest.raises((SchemaError, InvalidInputError)) as info:
        adapter.encode([image], [GENERAL_PROMPT], record_ids=["r1"])
    assert "r1" in str(info.value) or "image" in str(info.value)


def test_processor_rejects_image_is_typed(tiny_adapters) -> None:  # noqa: ANN001
    from vgmed_data.errors import FileFormatError

    adapter = tiny_adapters("qwen2_vl")
    sliver = Image.fromarray(np.zeros((1, 400, 3), dtype=np.uint8))
    with pytest.raises(FileFormatError, match="rec-7"):
        adapter.encode([sliver], [GENERAL_PROMPT], record_ids=["rec-7"])


def test_adapter_is_abstract() -> None:
    with pytest.raises(TypeError):
        Adapter(None, None)  # type: ignore[abstract]
