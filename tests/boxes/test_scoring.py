"""Scoring: IoU, thresholds, image index, first-box policy, zero-area/inverted boxes, baselines."""

from __future__ import annotations

import pytest

from vgmed_data.eval.boxes import MeanBox, Target, full_image, get_format, score_output, summarise
from vgmed_data.eval.boxes.scoring import missing, summarise_by_task

PIXEL = get_format("pixel_xyxy")


def target(box=(10.0, 10.0, 30.0, 30.0), *, index: int | None = 1, n: int = 3, task: str = "referring",
           split: str = "test", size=(100, 100), sample_id: str = "s") -> Target:
    return Target(id=sample_id, task=task, split=split, image_sizes=(size,) * n, answer_image_index=index,
                  answer_boxes=(box,))


def test_iou_and_image_index() -> None:
    score = score_output(target(), "Image 2 [20, 10, 40, 30]", fmt=PIXEL)
    assert score.iou == pytest.approx(200 / 600)  # overlap 10x20, union 400 + 400 - 200
    assert score.image_correct is True and score.predicted_image_index == 1


def test_right_box_wrong_image_is_not_a_hit_on_the_joint_metric() -> None:
    scores = [score_output(target(), "Image 1 [10, 10, 30, 30]", fmt=PIXEL)]
    summary = summarise(scores)
    assert summary["acc@0.5"] == 1.0 and summary["image_acc"] == 0.0 and summary["image_and_iou50"] == 0.0


def test_no_image_named_counts_as_wrong_image() -> None:
    assert score_output(target(), "[10, 10, 30, 30]", fmt=PIXEL).image_correct is False


@pytest.mark.parametrize("text", ["[5, 5, 5, 9]", "[30, 30, 10, 10]", "[10, 10, 30, 10]"])
def test_zero_area_and_inverted_score_zero(text: str) -> None:
    score = score_output(target(), f"Image 2 {text}", fmt=PIXEL)
    assert score.iou == 0.0
    assert any("zero-area" in n for n in score.notes)


def test_first_box_policy_even_when_a_later_box_is_right() -> None:
    score = score_output(target(), "Image 2 [60, 60, 90, 90] or [10, 10, 30, 30]", fmt=PIXEL)
    assert score.iou == 0.0 and score.boxes_found == 2


def test_one_pixel_box_is_pixels_not_normalised() -> None:
    score = score_output(target((0.0, 0.0, 1.0, 1.0)), "Image 2 [0, 0, 1, 1]", fmt=PIXEL)
    assert score.iou == 1.0


def test_negative_coordinates_kept() -> None:
    # MedSG-Bench's parser reads -10 as 10 and would score IoU 1 here
    score = score_output(target((10.0, 10.0, 30.0, 30.0)), "Image 2 [-10, 10, 30, 30]", fmt=PIXEL)
    assert score.iou == pytest.approx(400 / 800)


def test_unparsed_and_missing_score_zero() -> None:
    assert score_output(target(), "no idea", fmt=PIXEL).iou == 0.0
    assert missing(target()).mode == "missing"


def test_single_image_targets_have_no_image_metric() -> None:
    single = Target(id="v", task="vgmed", split="test", image_sizes=((100, 100),), answer_image_index=None,
                    answer_boxes=((0.0, 0.0, 10.0, 10.0), (50.0, 50.0, 70.0, 70.0)))
    score = score_output(single, "[50, 50, 70, 70]", fmt=PIXEL)
    assert score.iou == 1.0 and score.image_correct is None  # best over the target's boxes
    assert summarise([score])["image_acc"] is None


def test_summary_thresholds() -> None:
    scores = [score_output(target(sample_id=str(i)), f"Image 2 {t}", fmt=PIXEL) for i, t in enumerate(
        ["[10, 10, 30, 30]", "[10, 10, 30, 20]", "[20, 10, 40, 30]", "[50, 50, 60, 60]"])]
    # IoUs: 1, 0.5, 1/3, 0
    summary = summarise(scores)
    assert summary["miou"] == pytest.approx((1 + 0.5 + 1 / 3) / 4, abs=1e-6)
    assert (summary["acc@0.3"], summary["acc@0.5"], summary["acc@0.7"]) == (0.75, 0.5, 0.25)
    assert summary["image_acc"] == 1.0 and summary["image_and_iou50"] == 0.5


def test_full_image_baseline() -> None:
    score = full_image(target((0.0, 0.0, 50.0, 50.0), index=2))
    assert score.iou == pytest.approx(0.25) and score.predicted_image_index == 2 and score.image_correct


def test_mean_box_is_fitted_on_another_split() -> None:
    train = [target((0.0, 0.0, 50.0, 50.0), split="train", index=0, sample_id="a"),
             target((50.0, 50.0, 100.0, 100.0), split="train", index=0, sample_id="b"),
             target((50.0, 50.0, 100.0, 100.0), split="train", index=2, sample_id="c", task="multi_view")]
    mean = MeanBox.fit(train, split="train", scored_split="test")
    assert mean.relative["referring"] == pytest.approx((0.25, 0.25, 0.75, 0.75))
    score = mean.predict(target((25.0, 25.0, 75.0, 75.0), index=0))
    assert score.iou == pytest.approx(1.0) and score.image_correct is True
    # a task not fitted falls back to the mean over all
    other = mean.predict(target(task="cross_modal"))
    assert other.box == pytest.approx((100 / 3, 100 / 3, 250 / 3, 250 / 3))
    with pytest.raises(ValueError, match="cannot be fitted on the scored split"):
        MeanBox.fit(train, split="test", scored_split="test")


def test_summarise_by_task_has_all_and_each_task() -> None:
    scores = [score_output(target(task=t, sample_id=t), "Image 2 [10, 10, 30, 30]", fmt=PIXEL)
              for t in ("referring", "multi_view")]
    summary = summarise_by_task(scores)
    assert set(summary) == {"all", "referring", "multi_view"} and summary["all"]["n"] == 2
