"""Options, triage thresholds and the knockout geometry on their own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vgmed_data.eval.adapters.base import ImageLayout
from vgmed_data.eval.vgrefine import Answer, VGRefineAnswer, VGRefineOptions, blocked_tokens, triage, triage_scores
from vgmed_data.geometry import Transform
from vgmed_data.eval.vgrefine.knockout import Knockout
from vgmed_data.errors import InvalidInputError


def _options(**kwargs: object) -> VGRefineOptions:
    return VGRefineOptions(**{"heads": [(0, 0)], "masked_layers": [0], **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [{"heads": []}, {"masked_layers": []}, {"percentile": 101},
                                 {"threshold": 1.5}, {"rows": "all"}, {"heads": [(0, 0), (0, 0)]}])
def test_options_reject_bad_values(bad: dict) -> None:
    with pytest.raises(InvalidInputError):
        _options(**bad)


def test_options_round_trip_and_model_check() -> None:
    options = _options(heads=[(2, 1), (0, 3)], masked_layers=[2, 1], percentile=80, rows="question")
    assert VGRefineOptions.from_dict(options.to_dict()) == options
    assert options.masked_layers == (1, 2) and options.first_masked_layer == 1
    assert VGRefineOptions.from_dict(options.to_dict(), percentile=50).percentile == 50
    with pytest.raises(InvalidInputError, match="do not exist"):
        options.check_model(layers=2, heads=4)


def test_percentile_and_minmax_thresholds() -> None:
    scores = np.array([0.1, 0.5, 0.2, 0.9, 0.4, 0.3])
    blocked, cut = blocked_tokens(scores, options=_options(percentile=50))
    assert cut == pytest.approx(0.35) and blocked.tolist() == [0, 2, 5]
    blocked, _ = blocked_tokens(scores, options=_options(threshold=0.2))  # (s - 0.1) / 0.8 < 0.2: s < 0.26
    assert blocked.tolist() == [0, 2]


def test_constant_map_blocks_nothing_under_the_threshold_and_says_so() -> None:
    # Official eval_utils.normalize on a constant map: (s - min) / 0 = NaN, and NaN < t is False: no token.
    with np.errstate(invalid="ignore"):
        official = np.flatnonzero((np.ones(4) - 1.0) / (1.0 - 1.0) < 0.5)
    assert official.tolist() == []
    blocked, cut = blocked_tokens(np.ones(4), options=_options(threshold=0.5))
    assert blocked.tolist() == [] and cut == 1.0
    maps = {1: np.full((2, 4), 0.25)}
    result = triage(maps, maps, options=_options(heads=[(1, 0)], threshold=0.5))
    assert result.blocked.tolist() == [] and "constant triage map" in (result.note or "")
    assert triage(maps, maps, options=_options(heads=[(1, 0)])).note is None  # percentile: defined, blocks none
    layout = ImageLayout(positions=np.arange(3, 7), grid=(2, 2), transform=Transform.identity((4, 4)), span=(3, 7))
    answer = VGRefineAnswer(answer=Answer(tokens=[1], text="a", first_logits=None), triage=result,  # type: ignore[arg-type]
                            blocked_positions=np.zeros(0, np.int64), layout=layout,
                            options=_options(heads=[(1, 0)], threshold=0.5), implementation="fast")
    assert answer.record()["triage_note"] == result.note and answer.record()["blocked"] == []


def test_scores_normalise_by_the_layer_head_mean() -> None:
    question = {1: np.array([[1.0, 2.0], [4.0, 4.0]])}
    general = {1: np.array([[1.0, 1.0], [3.0, 1.0]])}  # head mean [2, 1]
    options = _options(heads=[(1, 0), (1, 1)])
    np.testing.assert_allclose(triage_scores(question, general, options=options),
                               [(0.5 + 2.0) / 2, (2.0 + 4.0) / 2], rtol=1e-9)
    raw = triage_scores(question, None, options=_options(heads=[(1, 0), (1, 1)], normalise=False))
    np.testing.assert_allclose(raw, [2.5, 3.0])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_sdpa_edit_is_the_dense_mask_on_any_suffix_block(data: st.DataObject) -> None:
    """Any query suffix against any key suffix (KV cache, sliding window) sees the dense mask's cells."""
    total = data.draw(st.integers(4, 24))
    first_row = data.draw(st.integers(2, total))
    blocked = np.array(sorted(data.draw(st.sets(st.integers(0, first_row - 1), max_size=first_row))), dtype=np.int64)
    knockout = Knockout(first_row=first_row, prompt_length=total, blocked_positions=blocked, layers=frozenset({0}))
    dense = knockout.additive_mask(dtype=torch.float32, device="cpu")[0, 0]
    causal = torch.ones(total, total, dtype=torch.bool).tril()
    expected = causal & (dense == 0)
    q_len = data.draw(st.integers(1, total))
    k_len = data.draw(st.integers(q_len, total))
    block = expected[total - q_len:, total - k_len:]
    given_mask = causal[total - q_len:, total - k_len:][None, None]
    for mask in (given_mask, None if k_len == total else given_mask):
        edited = knockout.edit_sdpa_mask(mask, q_len=q_len, k_len=k_len, device=torch.device("cpu"))
        assert torch.equal(edited[0, 0], block)


def test_knockout_rejects_blocked_tokens_after_the_image() -> None:
    with pytest.raises(InvalidInputError):
        Knockout(first_row=5, prompt_length=9, blocked_positions=np.array([6]), layers=frozenset({0}))


def test_side_by_side_summary_counts_and_difference() -> None:
    from vgmed_data.eval.vgrefine.compare import markdown, side_by_side

    from vgmed_data.eval.run_folder import SampleRecord, Status, VGRefineRecord

    def record(index: int, status: Status, **fields: object) -> SampleRecord:
        return SampleRecord(index=index, id=f"s{index}", question="q", answer="a", options=(), status=status,
                            **fields)  # type: ignore[arg-type]

    def refined(answer: str, correct: bool) -> VGRefineRecord:
        return VGRefineRecord(method="vgrefine", implementation="fast", parameters={}, grid=(1, 1), blocked=(),
                              blocked_positions=(), cut=0.0, answer=answer, score={"correct": correct})

    records = [
        record(0, Status.OK, score={"correct": True}, prediction="a", modality="CT", question_type="localization",
               vgrefine=refined("a", True)),
        record(1, Status.OK, score={"correct": False}, prediction="a", modality="MR", question_type="attribute",
               vgrefine=refined("b", True)),
        record(2, Status.SKIPPED, modality="CT", question_type="attribute"),
    ]
    table = side_by_side(records)
    assert table["all"] == [{"group": "all", "n": 2, "baseline": 50.0, "vgrefine": 100.0, "difference": 50.0,
                             "changed": 1}]
    assert [row["group"] for row in table["modality"]] == ["CT", "MR"]
    assert "| all | 2 | 50.00 | 100.00 | +50.00 | 1 |" in markdown(table)
