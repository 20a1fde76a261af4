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
    assert (s.max_new_tokens, s.min_new_tokens, s.generation) == (64, None, GenerationSource.CHECKPOINT)
    assert (s.percentile, s.clip_boxes, s.answer_suffix) == (80.0, True, True)
    assert s.box_mapping is BoxMapping.INPUT_SCALE
    assert set(s.sources) >= {"measure_pixels", "generation", "percentile"}


def test_official_huatuo_values() -> None:
    s = protocol_settings("official", "huatuogpt_vision")
    assert s.path is OfficialPath.HUATUO
    assert (s.max_new_tokens, s.min_new_tokens, s.generation) == (1, 1, GenerationSource.GREEDY)
    assert s.box_mapping is BoxMapping.INPUT_SCALE


def test_default_keeps_project_values() -> None:
    s = protocol_settings(Protocol.DEFAULT, "anything")
    assert (s.percentile, s.clip_boxes, s.answer_suffix, s.max_new_tokens) == (50.0, False, False, None)
    assert s.box_mapping is BoxMapping.INPUT_SCALE  # + metrics_padding_aware where the input pads
    assert s.to_dict()["protocol"] == "default"


def test_parse_and_unknown() -> None:
    assert parse_protocol(" Official ") is Protocol.OFFICIAL
    with pytest.raises(InvalidInputError, match="unknown protocol"):
        parse_protocol("paper")
    with pytest.raises(InvalidInputError, match="no setting for the model family"):
        protocol_settings(Protocol.OFFICIAL, "blip")
