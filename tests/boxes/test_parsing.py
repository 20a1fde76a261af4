"""Parsers on realistic raw outputs per family, including every failure case of MedSG-Bench's parser."""

from __future__ import annotations

import pytest

from vgmed_data.eval.boxes import get_format

# (format, raw output, expected mode, expected first box as written, expected 0-based image index)
TABLE = [
    # Qwen2-VL: special tokens kept, or stripped by skip_special_tokens
    ("qwen2_vl", "<|box_start|>(120,340),(560,780)<|box_end|>", "strict", (120, 340, 560, 780), None),
    ("qwen2_vl", "Image 2 <|box_start|>(120,340),(560,780)<|box_end|>", "strict", (120, 340, 560, 780), 1),
    ("qwen2_vl", "It's in the third image. (92,150),(164,224)", "strict", (92, 150, 164, 224), 2),
    ("qwen2_vl", "<|object_ref_start|>liver<|object_ref_end|><|box_start|>(0,0),(1,1)<|box_end|>", "strict",
     (0, 0, 1, 1), None),
    # Qwen2.5-VL: JSON in a code fence, several objects, plain list, negative numbers, truncated JSON
    ("qwen2_5_vl", '```json\n[\n  {"bbox_2d": [135, 114, 208, 174], "label": "tumour"}\n]\n```', "strict",
     (135, 114, 208, 174), None),
    ("qwen2_5_vl", '```json\n[{"bbox_2d": [-4, 10, 50, 60]}, {"bbox_2d": [1, 2, 3, 4]}]\n```', "strict",
     (-4, 10, 50, 60), None),
    ("qwen2_5_vl", '{"image": 2, "bbox_2d": [30, 40, 90, 120]}', "strict", (30, 40, 90, 120), 1),
    ("qwen2_5_vl", "The box is [30.5, 40, 90, 120.25].", "strict", (30.5, 40, 90, 120.25), None),
    ("qwen2_5_vl", '```json\n[{"bbox_2d": [12, 30, 200', "unparsed", None, None),
    ("qwen2_5_vl", '[{"bbox": [10, 20, 30, 40]}]', "strict", (10, 20, 30, 40), None),  # list4 inside
    ("qwen2_5_vl", '{"box_2d": "10 20 30 40"}', "unparsed", None, None),
    # Qwen3-VL: bbox_2d on 0-1000
    ("qwen3_vl", '```json\n[{"bbox_2d": [250, 300, 750, 900], "label": "kidney"}]\n```', "strict",
     (250, 300, 750, 900), None),
    # LLaVA: normalised floats; MedSG-style <box> tags
    ("llava", "Image 1 [0.12, 0.34, 0.56, 0.78]", "strict", (0.12, 0.34, 0.56, 0.78), 0),
    ("llava", "<box>[0.1, 0.2, 0.3, 0.4]</box>", "strict", (0.1, 0.2, 0.3, 0.4), None),
    ("llava", "<box>0.1 0.2 0.3 0.4</box>", "lenient", (0.1, 0.2, 0.3, 0.4), None),
    # Gemini: JSON box_2d in y, x order
    ("gemini", '```json\n[{"box_2d": [100, 200, 300, 400], "label": "lesion", "image": 3}]\n```', "strict",
     (100, 200, 300, 400), 2),
    ("gemini", "[100, 200, 300, 400]", "strict", (100, 200, 300, 400), None),
    # plain pixels (API models, MedSG-Bench answers)
    ("pixel_xyxy", "Image 3: [10, 20, 110, 220]", "strict", (10, 20, 110, 220), 2),
    ("pixel_xyxy", "[0, 0, 1, 1]", "strict", (0, 0, 1, 1), None),  # a 1-pixel box, never 'normalised'
    ("pixel_xyxy", "[-12, 5, 40, 60]", "strict", (-12, 5, 40, 60), None),  # minus sign kept
    ("pixel_xyxy", "[\u221212, 5, 40, 60]", "lenient", (-12, 5, 40, 60), None),  # unicode minus
    ("pixel_xyxy", "[12\uff0c5\uff0c40\uff0c60]", "lenient", (12, 5, 40, 60), None),  # full-width commas
    ("pixel_xyxy", "x1=10, y1=20, x2=30, y2=40", "lenient", (10, 20, 30, 40), None),
    ("pixel_xyxy", "(10, 20, 30, 40) in the second image", "lenient", (10, 20, 30, 40), 1),
    # never 'any four numbers'
    ("pixel_xyxy", "The lesion measures 3 by 4 cm on slice 12 of 20.", "unparsed", None, None),
    ("pixel_xyxy", "Image 2, rows 10 to 40, columns 5 to 9", "unparsed", None, 1),
    ("pixel_xyxy", "", "unparsed", None, None),
    ("pixel_xyxy", "I cannot determine the location.", "unparsed", None, None),
    # several images mentioned: the one before the first box
    ("pixel_xyxy", "Not image 1; it is in image 2: [5, 6, 7, 8]", "strict", (5, 6, 7, 8), 1),
    ("pixel_xyxy", "[5, 6, 7, 8] in <image_3>", "strict", (5, 6, 7, 8), 2),
]


@pytest.mark.parametrize(("name", "text", "mode", "box", "index"), TABLE)
def test_parse_table(name: str, text: str, mode: str, box: tuple[float, ...] | None, index: int | None) -> None:
    parsed = get_format(name).parse(text)
    assert parsed.mode == mode, parsed
    assert parsed.first_box == (None if box is None else tuple(float(v) for v in box))
    assert parsed.image_index == index
    if mode == "lenient":
        assert any(note.startswith("lenient") for note in parsed.notes)


def test_multiple_boxes_counted_and_first_kept() -> None:
    parsed = get_format("pixel_xyxy").parse("[1, 2, 3, 4] or maybe [50, 60, 70, 80]")
    assert parsed.boxes == ((1, 2, 3, 4), (50, 60, 70, 80))
    assert parsed.first_box == (1, 2, 3, 4)
    assert any("first counts" in n for n in parsed.notes)


def test_lenient_never_rescales() -> None:
    # a Qwen2-VL format reading a bracketed list: numbers stay on the 0-1000 grid, the note says so
    parsed = get_format("qwen2_vl").parse("[100, 200, 300, 400]")
    assert parsed.mode == "lenient" and parsed.first_box == (100, 200, 300, 400)
    assert "xyxy_1000" in parsed.notes[0]


def test_unknown_format_lists_names() -> None:
    with pytest.raises(ValueError, match="qwen2_5_vl"):
        get_format("qwen25")
