"""Box prompts per format, frozen as a snapshot (VGMED_UPDATE_SNAPSHOTS=1 rewrites it after a reviewed change)."""

from __future__ import annotations

from pathlib import Path

from vgmed_data.eval.boxes.formats import FORMATS
from vgmed_data.eval.boxes.prompts import box_prompt, target_prompt
from vgmed_data.geometry import reference_phrase
from tests.snapshots import check_snapshot

SNAPSHOT = Path(__file__).parent / "snapshots" / "prompts.json"
QUESTION = ("Images 1 to 3 are axial slices of one scan, in order. The red box {ref} in Image 1 marks a liver. "
            "Locate the same object in Image 3.")
REF = (84.0, 56.0, 168.0, 140.0)


def current() -> dict[str, dict[str, str]]:
    sizes = [(336, 336)] * 3
    question = QUESTION.format(ref=reference_phrase(REF, image_size=(336, 336)))
    result = {}
    for name in sorted(FORMATS):
        multi, rewritten = box_prompt(question=question, fmt=name, image_sizes=sizes, reference_box=REF,
                                      reference_image_index=0)
        assert rewritten
        result[name] = {"sequences": multi, "vgmed": target_prompt(target="left kidney", fmt=name)}
    return result


def test_prompts_match_snapshot() -> None:
    check_snapshot(SNAPSHOT, current())


def test_reference_box_in_each_models_convention() -> None:
    prompts = current()
    assert "[250, 167, 500, 417] (x1, y1, x2, y2 on a 0-1000 grid)" in prompts["qwen2_vl"]["sequences"]
    assert "[84, 56, 168, 140] (absolute pixels x1, y1, x2, y2)" in prompts["qwen2_5_vl"]["sequences"]
    assert "[167, 250, 417, 500] (ymin, xmin, ymax, xmax normalised to 0-1000)" in prompts["gemini"]["sequences"]
    assert "[0.250, 0.167, 0.500, 0.417]" in prompts["llava"]["sequences"]


def test_the_reference_phrase_builders_write_and_prompts_find() -> None:
    """One definition (vgmed_data.geometry) serves the sequence builder and the box prompts."""
    assert reference_phrase(REF, image_size=(336, 336)) == "[84, 56, 168, 140] (pixel x1, y1, x2, y2)"


def test_foreign_question_left_as_written() -> None:
    text, rewritten = box_prompt(question="Find <|box_start|>(1,2),(3,4)<|box_end|> in image 2.", fmt="qwen2_vl",
                                 image_sizes=[(336, 336)] * 2, reference_box=(1, 2, 3, 4), reference_image_index=0)
    assert not rewritten and text.startswith("Find <|box_start|>(1,2),(3,4)<|box_end|>")
