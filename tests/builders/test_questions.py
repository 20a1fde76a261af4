"""Questions: snapshotted phrasings, answers computed from geometry, the paraphrasing hook never changes answers."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from vgmed_data.builders.measure import measure
from vgmed_data.builders.paraphrase import paraphrase, parse_hook
from vgmed_data.builders.questions import TEMPLATES, grid_cell, make_questions
from tests.builders.miniatures import disc
from vgmed_data.errors import InvalidInputError

# Update deliberately when a phrasing changes: every phrasing change moves scores.
TEMPLATES_SHA256 = "99b21d8cec7d54a6bb145ec31c30d33d59529ee5a2ff0e1a2551c0b304e3b6c2"


def test_templates_snapshot() -> None:
    text = json.dumps(TEMPLATES, sort_keys=True)
    assert all(len(v) >= 3 and all("{target}" in t for t in v) for v in TEMPLATES.values())
    assert hashlib.sha256(text.encode()).hexdigest() == TEMPLATES_SHA256


def _measure(mask: np.ndarray, spacing: tuple[float, float] | None = None):  # noqa: ANN202
    return measure(mask=mask, boxes=None, image_size=(mask.shape[1], mask.shape[0]), spacing_mm=spacing,
                   min_pixels=1, min_size_mm=None)


def test_answers_from_geometry() -> None:
    mask = disc((90, 90), (15, 75), 8)  # upper right of the image
    m = _measure(mask, (1.0, 1.0))
    rows, cols = np.nonzero(mask)
    assert m.area_px == rows.size and m.area_mm2 == pytest.approx(rows.size)
    assert m.centroid == pytest.approx((cols.mean() + 0.5, rows.mean() + 0.5))
    by_kind = {q.kind: q for q in make_questions(target="nodule", modality="CT", measurements=m, others={},
                                                 laterality_known=True, key="k")}
    assert by_kind["location"].answer == "upper right"
    assert by_kind["size"].answer == "1 to 10 cm²"  # 197 px * 1 mm² = 1.97 cm²
    assert by_kind["shape"].answer == "round"
    assert by_kind["count"].answer == "1"
    assert by_kind["laterality"].answer == "left"  # image right = patient left (radiological display)
    for question in by_kind.values():
        assert "nodule" in question.text and question.answer in question.options
        assert len(set(question.options)) == len(question.options)


def test_elongated_irregular_relative_and_ambiguous() -> None:
    bar = np.zeros((90, 90), bool)
    bar[40:46, 5:60] = True
    assert {q.kind: q.answer for q in make_questions(
        target="vessel", modality="CT", measurements=_measure(bar), others={}, laterality_known=False,
        key="k")}["shape"] == "elongated"
    ring = disc((90, 90), (45, 45), 30) & ~disc((90, 90), (45, 60), 25)
    assert _measure(ring).solidity < 0.75
    top, bottom = _measure(disc((90, 90), (10, 45), 5)), _measure(disc((90, 90), (80, 45), 5))
    [relative] = [q for q in make_questions(target="a", modality="MR", measurements=top, others={"b": bottom},
                                            laterality_known=False, key="k") if q.kind == "relative_position"]
    assert relative.answer == "above" and "b" in relative.text
    assert grid_cell((30.0, 45.0), (90, 90)) is None  # on a third-line: not asked


def test_phrasing_is_reproducible_and_varies() -> None:
    m = _measure(disc((90, 90), (45, 20), 6))
    first = make_questions(target="x", modality="US", measurements=m, others={}, laterality_known=False, key="a")
    again = make_questions(target="x", modality="US", measurements=m, others={}, laterality_known=False, key="a")
    assert first == again
    templates = {q.template for key in "abcdefghij" for q in make_questions(
        target="x", modality="US", measurements=m, others={}, laterality_known=False, key=key)}
    assert len({t for t in templates if t.startswith("location/")}) > 1


def test_paraphrase_hook_never_changes_answers() -> None:
    assert paraphrase("Where is the liver?", target="liver", paraphraser=None) == "Where is the liver?"
    assert paraphrase("Where is the liver?", target="liver",
                      paraphraser=lambda q, target: "Point to the organ.") == "Where is the liver?"
    assert paraphrase("Where is the liver?", target="liver",
                      paraphraser=lambda q, target: "Which area shows the liver?") == "Which area shows the liver?"
    with pytest.raises(InvalidInputError):
        parse_hook("gpt")
    assert parse_hook("openai:http://127.0.0.1:9/v1:tiny").model == "tiny"
