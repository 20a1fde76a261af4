"""Box parsing stays linear in the length of a model output, and outputs above the stated maximum are refused.

The work is measured, not timed: every JSON decode attempt is counted by the number of characters it is given
(from its start index to the end of the string). The quadratic scan this replaces handed the whole remaining
text to the decoder once per ``[`` or ``{`` (a 16.8 MB output was still being parsed after 180 s).
"""

from __future__ import annotations

import json

import pytest

from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.boxes.formats import get_format
from vgmed_data.eval.boxes.parsing import MAX_JSON_DEPTH, MAX_OUTPUT_CHARS

ADVERSARIAL = {
    "unclosed brackets": "[" * 60_000,
    "unclosed lists": "[1, " * 20_000,
    "unclosed objects": '{"a": ' * 12_000,
    "balanced but not JSON": ("[x " * 30 + "y" * 5_000 + "]" * 30) * 12,
    "deep balanced": "[" * 40_000 + "]" * 40_000,
    "many small lists": "[1, 2] " * 12_000,
}


@pytest.fixture()
def decoded_characters(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Characters handed to ``json.JSONDecoder.raw_decode`` (the standard library's, instrumented)."""
    counts: list[int] = []
    original = json.JSONDecoder.raw_decode

    def counting(self: json.JSONDecoder, s: str, idx: int = 0):  # noqa: ANN202
        counts.append(len(s) - idx)
        return original(self, s, idx)

    monkeypatch.setattr(json.JSONDecoder, "raw_decode", counting)
    return counts


@pytest.mark.parametrize("name", ADVERSARIAL)
@pytest.mark.parametrize("fmt", ["qwen2_5_vl", "pixel_xyxy"])
def test_json_scan_work_is_linear(name: str, fmt: str, decoded_characters: list[int]) -> None:
    text = ADVERSARIAL[name]
    get_format(fmt).parse(text)
    # the strict tier and six lenient JSON keys read the same (cached) scan; each character is decoded at most
    # once per nesting level up to MAX_JSON_DEPTH
    assert sum(decoded_characters) <= (MAX_JSON_DEPTH + 1) * len(text) * 2


def test_a_box_after_a_megabyte_of_junk_is_found() -> None:
    junk = "[1, " * 200_000 + '{"a": ' * 20_000
    parsed = get_format("qwen2_5_vl").parse(junk + ' {"bbox_2d": [10, 20, 30, 40]}')
    assert parsed.first_box == (10.0, 20.0, 30.0, 40.0) and parsed.mode == "strict"


def test_outputs_above_the_maximum_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=str(MAX_OUTPUT_CHARS)):
        get_format("pixel_xyxy").parse("x" * (MAX_OUTPUT_CHARS + 1))
