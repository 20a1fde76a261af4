"""Each task recipe on miniature cases; answers checked against independent numpy computations."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from vgmed_data.builders.sequences.build import generate_samples
from vgmed_data.builders.sequences.common import Settings
from vgmed_data.geometry import Transform
from vgmed_data.schema import SequenceSample

from tests.sequences.miniature import SHAPE, mini_cases

SETTINGS = Settings(seed=3, size=336, fit_fraction=0.0)  # one split, so partners can always be found


@pytest.fixture(scope="module")
def cases():
    return mini_cases()


@pytest.fixture(scope="module")
def built(cases):
    samples, logs = generate_samples(cases, settings=SETTINGS)
    return {task: [s for s in samples if s.task == task] for task in logs}, logs


def pixels(sample: SequenceSample, index: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(sample.images[index].image)).convert("RGB"))


def nonzero_box(mask: np.ndarray) -> list[float]:
    rows, cols = np.nonzero(mask)
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


def displayed(mask3d: np.ndarray, plane: str, index: int) -> np.ndarray:
    axis = {"sagittal": 0, "coronal": 1, "axial": 2}[plane]
    return np.take(mask3d, index, axis=axis).T[::-1, ::-1]


def expected_structure_box(sample: SequenceSample, index: int, mask3d: np.ndarray) -> list[float]:
    image = sample.images[index]
    transform = Transform.from_json(image.transform)
    return nonzero_box(transform.apply_mask(displayed(mask3d, image.plane or "axial", image.slice_index)))


def case_of(cases, sample: SequenceSample, index: int):
    image = sample.images[index]
    return next(c for c in cases if c.source == image.source and c.case_id == image.source_id)


def component_of(case, target: str, sample: SequenceSample) -> np.ndarray:
    from vgmed_data.geometry import label_components

    labels, count = label_components(case.masks[target])
    sizes = np.bincount(labels.ravel())[1:]
    return labels == (int(np.argmax(sizes)) + 1)


def test_every_task_builds(built) -> None:
    by_task, logs = built
    assert set(by_task) == {"registered_difference", "non_registered_difference", "multi_view", "object_tracking",
                            "visual_concept", "visual_patch", "cross_modal", "referring"}
    for task, samples in by_task.items():
        assert samples, (task, logs[task].skipped)
        for sample in samples:
            assert all(Image.open(io.BytesIO(i.image)).size == (336, 336) for i in sample.images)
            assert all(Transform.from_json(i.transform).dst_size == (336, 336) for i in sample.images)


def test_registered_difference_answer_is_the_changed_pixels(built) -> None:
    for sample in built[0]["registered_difference"]:
        a, b = pixels(sample, 0), pixels(sample, 1)
        assert sample.answer_box == nonzero_box(np.any(a != b, axis=-1))
        assert sample.images[sample.answer_image_index].image_origin == "synthetic"
        assert sample.images[1 - sample.answer_image_index].image_origin == "nifti"
    assert {s.answer_image_index for s in built[0]["registered_difference"]} == {0, 1}  # order randomised


def test_non_registered_difference_answer_in_the_named_shifted_image(built) -> None:
    for sample in built[0]["non_registered_difference"]:
        k = sample.answer_image_index
        assert f"Locate the altered region in Image {k + 1}" in sample.question
        shifts = json.loads(sample.to_row()["metadata"])["shifts"]
        (dxe, dye), (dxo, dyo) = shifts[k], shifts[1 - k]
        edited, other = pixels(sample, k)[..., 0].astype(int), pixels(sample, 1 - k)[..., 0].astype(int)
        # move the other image onto the edited image's shift; compare where both hold slice content
        moved = np.full_like(other, -1)
        ddx, ddy = dxe - dxo, dye - dyo
        h, w = other.shape
        moved[max(ddy, 0):h + min(ddy, 0), max(ddx, 0):w + min(ddx, 0)] = \
            other[max(-ddy, 0):h - max(ddy, 0), max(-ddx, 0):w - max(ddx, 0)]
        valid = moved >= 0
        valid[:max(dye, 0), :] = valid[h + min(dye, 0):, :] = False
        valid[:, :max(dxe, 0)] = valid[:, w + min(dxe, 0):] = False
        assert sample.answer_box == nonzero_box(valid & (moved != edited))
        steps = json.loads(sample.images[k].transform)["steps"]
        assert [s["kind"] for s in steps][-2:] == ["pad", "crop"]


def test_multi_view_answer_is_the_structure_in_the_named_view(cases, built) -> None:
    for sample in built[0]["multi_view"]:
        assert [i.plane for i in sample.images] == ["axial", "coronal", "sagittal"]
        case = case_of(cases, sample, 0)
        voxel = json.loads(sample.to_row()["metadata"])["voxel"]
        component = next(m for m in _components(case) if m[tuple(voxel)])
        assert sample.answer_box == expected_structure_box(sample, sample.answer_image_index, component)
        assert sample.reference_box == expected_structure_box(sample, 0, component)
        _assert_red_box(sample, 0)


def _components(case) -> list[np.ndarray]:
    from vgmed_data.geometry import label_components

    found = []
    for target in sorted(case.masks):
        labels, count = label_components(case.masks[target])
        found += [labels == i for i in range(1, count + 1)]
    return found


def _assert_red_box(sample: SequenceSample, index: int) -> None:
    x1, y1, x2, y2 = (int(v) for v in sample.reference_box)
    image = pixels(sample, index)
    width = SETTINGS.box_width
    for x, y in ((x1, y1), (x2 - 1, y2 - 1), (x1 + width - 1, (y1 + y2) // 2)):
        assert tuple(image[y, x]) == (255, 0, 0)
    assert tuple(image[(y1 + y2) // 2, x1 + width]) != (255, 0, 0) or x2 - x1 <= 2 * width
    assert f"[{x1}, {y1}, {x2}, {y2}] (pixel x1, y1, x2, y2)" in sample.question


def test_object_tracking(cases, built) -> None:
    for sample in built[0]["object_tracking"]:
        assert 2 <= len(sample.images) <= 6
        slices = [i.slice_index for i in sample.images]
        assert slices == sorted(slices)
        case = case_of(cases, sample, 0)
        component = next(m for m in _components(case)
                         if expected_structure_box(sample, 0, m) == list(sample.reference_box))
        assert sample.answer_box == expected_structure_box(sample, sample.answer_image_index, component)
        assert f"Image {sample.answer_image_index + 1}." in sample.question
        _assert_red_box(sample, 0)


def test_visual_concept(cases, built) -> None:
    for sample in built[0]["visual_concept"]:
        case = case_of(cases, sample, 1)
        assert sample.answer_image_index == 1
        assert sample.answer_box == expected_structure_box(sample, 1, case.masks[sample.target])
        crop = json.loads(sample.images[0].transform)["steps"][0]
        assert crop["kind"] == "crop"


def test_visual_patch_answer_is_the_crop_rectangle(built) -> None:
    width, height = SHAPE[0], SHAPE[1]  # displayed slice is 48 wide, 40 high
    scale, top = 336 / 48, (48 - 40) // 2  # padded to 48x48 (4 rows on top), resized to 336
    for sample in built[0]["visual_patch"]:
        asked = json.loads(sample.to_row()["metadata"])["asked"]
        crop = json.loads(sample.images[asked + 1].transform)["steps"][0]
        assert crop["kind"] == "crop"
        x0, y0, x1, y1 = crop["values"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert sample.answer_box == pytest.approx([x0 * scale, (y0 + top) * scale, x1 * scale, (y1 + top) * scale])
        assert f"Image {asked + 2} within Image 1" in sample.question


def test_cross_modal_both_variants(cases, built) -> None:
    variants = {json.loads(s.to_row()["metadata"])["variant"] for s in built[0]["cross_modal"]}
    assert variants == {"sequence", "modality"}
    for sample in built[0]["cross_modal"]:
        meta = json.loads(sample.to_row()["metadata"])
        answer_case = case_of(cases, sample, 1)
        if meta["variant"] == "sequence":
            assert sample.answer_box == sample.reference_box  # co-registered sequences
            assert not np.array_equal(pixels(sample, 0)[..., 1], pixels(sample, 1)[..., 1])
        else:
            assert case_of(cases, sample, 0).modality != answer_case.modality
        component = next(m for m in _components(answer_case)
                         if m.any() and expected_structure_box(sample, 1, m) == list(sample.answer_box))
        assert component.any()
        _assert_red_box(sample, 0)


def test_referring(cases, built) -> None:
    for sample in built[0]["referring"]:
        assert 1 <= len(sample.images) <= 3
        k = sample.answer_image_index
        case = case_of(cases, sample, k)
        assert sample.answer_box == expected_structure_box(sample, k, case.masks[sample.target])
        for index, image in enumerate(sample.images):
            if index != k:
                other = case_of(cases, sample, index)
                assert sample.target not in other.masks or not other.masks[sample.target][:, :, image.slice_index].any()
        assert sample.answer.startswith(f"Image {k + 1}: ")


def test_seeded_and_reproducible(cases) -> None:
    first, _ = generate_samples(cases, settings=SETTINGS, tasks=["registered_difference", "visual_patch"])
    again, _ = generate_samples(cases, settings=SETTINGS, tasks=["registered_difference", "visual_patch"])
    other, _ = generate_samples(cases, settings=Settings(seed=4, fit_fraction=0.0),
                                tasks=["registered_difference", "visual_patch"])
    assert [s.to_row() for s in first] == [s.to_row() for s in again]
    assert [s.answer_box for s in first] != [s.answer_box for s in other]


def test_size_is_configurable(cases) -> None:
    samples, _ = generate_samples(cases[:2], settings=Settings(size=128, fit_fraction=0.0), tasks=["multi_view"])
    assert samples and all(Image.open(io.BytesIO(i.image)).size == (128, 128) for s in samples for i in s.images)


def test_unknown_task_lists_names(cases) -> None:
    with pytest.raises(ValueError, match="referring"):
        generate_samples(cases, settings=SETTINGS, tasks=["registered"])
