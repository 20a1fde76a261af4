"""Answer scoring: letter, then option text, then closest option; open answers."""

from __future__ import annotations

import pytest

from vgmed_data.eval.answers import read_option, score_answer, score_open

OPTIONS = ("liver", "spleen", "left kidney")


@pytest.mark.parametrize(("reply", "index", "rule"), [
    ("B", 1, "letter"), ("B.", 1, "letter"), ("(C)", 2, "letter"), ("A) liver", 0, "letter"),
    ("Answer: C", 2, "letter"), ("spleen", 1, "text"), ("It is the Left Kidney.", 2, "text"),
    ("the liver", 0, "text"), ("splen", 1, "closest"), ("", None, "none"),
])
def test_read_option(reply: str, index: int | None, rule: str) -> None:
    assert read_option(reply, OPTIONS) == (index, rule)


def test_closed_and_open_scores() -> None:
    assert score_answer("B", answer="spleen", options=OPTIONS)["correct"] is True
    assert score_answer("A", answer="spleen", options=OPTIONS)["correct"] is False
    assert score_open("The Liver.", "liver").exact is True
    partial = score_open("left side", "left kidney")
    assert partial.exact is False and partial.recall == pytest.approx(0.5)
    record = score_answer("kidney", answer="left kidney")
    assert record == {"kind": "open", "correct": False, "exact": False, "recall": 0.5}
