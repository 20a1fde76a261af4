"""The protocol lookup: official values per family, as read from the official VGMED code (FACTS.md)."""

from __future__ import annotations

import pytest

from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.protocol import (BoxMapping, GenerationSource, OfficialPath, Protocol, parse_protocol,
                                      protocol_settings)


def test_official_qwen_values() -> None:
    s = protocol_settings(Protocol.OFFICIAL, "qwen2_5_vl")
    assert s.path is OfficialPath.QWEN
    assert (s.measure_pixels.max_pixels, s.measure_pixels.min_pixels) == (50176, 784)
    assert (s.answer_pixels.max_pixels, s.answer_pixels.min_pixels) == (0, 0)  # checkpoint's processor
    assert s.measure_pre_resize  # qwen_vl_utils.process_vision_info before the processor
    assert (s.max_new_tokens, s.min_new_tokens, s.generation) == (64, None, GenerationSource.CHECKPOINT)
    assert (s.percentile, s.clip_boxes, s.answer_suffix) == (80.0, True, True)
    assert s.box_mapping is BoxMapping.INPUT_SCALE
    assert set(s.sources) >= {"measure_pixels", "generation", "percentile"}


def test_official_huatuo_values() -> None:
    s = protocol_settings(Protocol.OFFICIAL, "huatuogpt_vision")
    assert s.path is OfficialPath.HUATUO
    assert (s.max_new_tokens, s.min_new_tokens, s.generation) == (1, 1, GenerationSource.GREEDY)
    assert s.box_mapping is BoxMapping.INPUT_SCALE


def test_default_keeps_project_values() -> None:
    s = protocol_settings(Protocol.DEFAULT, "anything")
    assert (s.percentile, s.clip_boxes, s.answer_suffix, s.max_new_tokens) == (50.0, False, False, None)
    assert s.box_mapping is BoxMapping.PADDING_AWARE  # through the real transform (+ metrics_input_scale where it pads)
    assert s.to_dict()["protocol"] == "default"


def test_parse_and_unknown() -> None:
    assert parse_protocol(" Official ") is Protocol.OFFICIAL
    with pytest.raises(InvalidInputError, match="unknown protocol"):
        parse_protocol("paper")
    with pytest.raises(InvalidInputError, match="no setting for the model family"):
        protocol_settings(Protocol.OFFICIAL, "blip")


def test_adapter_options_and_answer_prompt() -> None:
    from vgmed_data.eval.protocol import adapter_options, answer_prompt

    official = protocol_settings(Protocol.OFFICIAL, "qwen2_vl")
    measure = adapter_options(official, answers=False, max_new_tokens=16)
    answers = adapter_options(official, answers=True, max_new_tokens=16)
    assert (measure.max_pixels, measure.min_pixels, measure.pre_resize) == (50176, 784, True)
    assert (answers.max_pixels, answers.min_pixels, answers.pre_resize) == (0, 0, False)
    assert answers.checkpoint_generation and answers.max_new_tokens == 64
    default = adapter_options(protocol_settings(Protocol.DEFAULT, "qwen2_vl"), answers=True, max_pixels=1000,
                              min_pixels=None, max_new_tokens=7)
    assert (default.max_pixels, default.max_new_tokens, default.checkpoint_generation) == (1000, 7, False)
    suffix = "Answer the question using a single word or phrase."
    closed = answer_prompt("Which organ?", ["liver", "spleen"], official)
    assert closed == ("Which organ?\nA. liver\nB. spleen\nAnswer with the option's letter from the given choices "
                      f"directly. {suffix}")
    assert answer_prompt("Which organ?", [], official) == f"Which organ? {suffix}"
    assert suffix not in answer_prompt("Which organ?", ["liver"], protocol_settings(Protocol.DEFAULT, "llava"))


def test_min_pixels_and_returning_to_the_checkpoint_budget(tiny_adapters) -> None:  # noqa: ANN001
    from PIL import Image

    from vgmed_data.eval.adapters import AdapterOptions

    adapter = tiny_adapters("qwen2_vl")
    before = adapter.options
    image = Image.new("RGB", (56, 56))
    try:
        adapter.set_options(AdapterOptions(min_pixels=28 * 28 * 16, max_pixels=28 * 28 * 64))
        assert adapter.encode([image], ["x"]).layouts[0].grid == (4, 4)  # 56x56 scaled up to 16 cells
        adapter.set_options(AdapterOptions(min_pixels=0, max_pixels=0))  # the checkpoint's (min 4 cells)
        assert adapter.encode([image], ["x"]).layouts[0].grid == (2, 2)
    finally:
        adapter.set_options(before)


def test_reconstructed_command_names_the_protocol() -> None:
    import shlex

    from vgmed_data.eval.choices import AttentionPrompt
    from vgmed_data.eval.results.collect import reconstructed_command
    from vgmed_data.eval.run_folder import Manifest

    official = Manifest(fingerprint="f", world=1, model="m", dataset="d", attention_prompt=AttentionPrompt.OFFICIAL,
                        protocol=Protocol.OFFICIAL, extra={"max_pixels": None, "min_pixels": None})
    words = shlex.split(reconstructed_command(official, config="vgmed", split="test", methods=["baseline"]))
    assert words[words.index("--protocol") + 1] == "official" and "--max-pixels" not in words
    default = Manifest(fingerprint="f", world=1, model="m", dataset="d", attention_prompt=AttentionPrompt.OFFICIAL,
                       protocol=Protocol.DEFAULT, extra={"max_pixels": 50176})
    words = shlex.split(reconstructed_command(default, config="vgmed", split="test", methods=["baseline"]))
    assert "--protocol" not in words and words[words.index("--max-pixels") + 1] == "50176"
    legacy = Manifest(fingerprint="f", world=1, model="m", dataset="d")  # run.json from before the option
    assert "--protocol" not in reconstructed_command(legacy, config="vgmed", split="test", methods=["baseline"])
