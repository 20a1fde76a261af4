"""Box mapping per protocol in real runs (issue 17 item 4): ``default`` maps boxes through the real input transform
(square padding included), ``official`` as the official code does (scaled to the input size, padding ignored).

Padded family: the tiny HuatuoGPT-Vision (input 56 x 56, grid 4 x 4, cells of 14 px). Expected cells are worked
out by hand below from the image size, the padding and the grid; the metrics on them from the run's own stored
maps. Qwen (a pure resize) is unchanged: the same cells and values under both mappings, and no second field.
Resume: a run written before the mapping was recorded (its run.json has none) is refused on a padded family,
naming --overwrite, and still resumes on a Qwen family.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.metrics import grounding_metrics
from vgmed_data.eval.run_folder import RunFolder, SampleRecord
from vgmed_data.eval.runner import EvalConfig, run_eval
from vgmed_data.writer import write_config
from vgmed_data.schema import GroundingSample, Provenance, make_sample_id

BOX = [10.0, 20.0, 50.0, 60.0]  # on a 112 x 84 image


def _hand_cells(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((4, 4), bool)
    mask[rows, cols] = True
    return mask.reshape(-1)


# Padding-aware: 112 x 84 is padded by 14 px top and bottom to 112 x 112, then scaled by 0.5 to 56 x 56:
# x 10..50 -> 5..25 (cols 0-1), y (20..60 + 14) * 0.5 = 17..37 (rows 1-2).
PADDED_CELLS = _hand_cells(slice(1, 3), slice(0, 2))
# Input scale (official): x * 56/112 = 5..25 (cols 0-1), y * 56/84 = 13.3..40 (rows 0-2).
SCALED_CELLS = _hand_cells(slice(0, 3), slice(0, 2))


def _dataset(folder: Path, image: Image.Image) -> Path:
    sample = GroundingSample(
        id=make_sample_id("mapping", "0"), image=image, question="What organ is in the box?",
        question_type="localization", answer="liver", target="liver", boxes=[BOX], box_labels=["liver"],
        provenance=Provenance(modality="CT", body_part="abdomen", source="tiny", source_id="0", license="CC0-1.0",
                              redistributable=True, patient_id="p0"))
    write_config(folder, [sample], config="vgmed")
    return folder


def _run(model: Path, dataset: Path, out: Path, protocol: str, adapter=None) -> SampleRecord:  # noqa: ANN001
    cfg = EvalConfig(model=str(model), dataset=str(dataset), out=out, progress=False, overlays=0,
                     max_new_tokens=2 if protocol == "default" else 16, protocol=protocol)
    run_eval(cfg, adapter=adapter)
    (record,) = RunFolder(out).read_samples()
    return record


def _stored_maps(out: Path, sample_id: str) -> tuple[np.ndarray, np.ndarray]:
    maps = dict(RunFolder(out).attention({sample_id}))
    return (maps[f"{sample_id}__question"].astype(np.float32), maps[f"{sample_id}__general"].astype(np.float32))


def _layer_metrics(q: np.ndarray, g: np.ndarray, cells: np.ndarray) -> dict[str, np.ndarray]:
    return grounding_metrics(q, g, cells)["layer"]


@pytest.fixture(scope="module")
def runs(huatuo, huatuo_dir: Path, wide_image: Image.Image, tmp_path_factory: pytest.TempPathFactory  # noqa: ANN001
         ) -> dict[str, tuple[SampleRecord, Path]]:
    root = tmp_path_factory.mktemp("mapping")
    dataset = _dataset(root / "data", wide_image)
    return {protocol: (_run(huatuo_dir, dataset, root / protocol, protocol, huatuo), root / protocol)
            for protocol in ("default", "official")}


def _close(record_metrics, expected: dict[str, np.ndarray]) -> None:  # noqa: ANN001
    for name in ("ar", "kl", "js"):  # the record's values come from float32 maps, these from the float16 store
        np.testing.assert_allclose(record_metrics[name], expected[name], rtol=5e-3, atol=1e-4)


def test_default_metrics_follow_the_padding(runs) -> None:  # noqa: ANN001
    record, out = runs["default"]
    assert record.box_mapping == "padding_aware" == record.mapping
    assert record.gt_tokens == int(PADDED_CELLS.sum()) == 4
    q, g = _stored_maps(out, record.id)
    _close(record.metrics, _layer_metrics(q, g, PADDED_CELLS))
    _close(record.metrics_input_scale, _layer_metrics(q, g, SCALED_CELLS))
    assert record.metrics_padding_aware is None
    assert record.metrics_by("input_scale") == record.metrics_input_scale
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["box_mapping"] == "padding_aware"


def test_official_metrics_scale_to_the_input_ignoring_the_padding(runs) -> None:  # noqa: ANN001
    record, out = runs["official"]
    assert record.box_mapping == "input_scale"
    assert record.gt_tokens == int(SCALED_CELLS.sum()) == 6
    q, g = _stored_maps(out, record.id)
    _close(record.metrics, _layer_metrics(q, g, SCALED_CELLS))
    _close(record.metrics_padding_aware, _layer_metrics(q, g, PADDED_CELLS))
    assert record.metrics_input_scale is None


def test_the_two_protocols_swap_the_two_fields(runs) -> None:  # noqa: ANN001
    """Both protocols measure the open question on the same prompts and image: same maps, so each run's main
    metrics are the other's extra field."""
    default, official = runs["default"][0], runs["official"][0]
    assert default.metrics == official.metrics_padding_aware
    assert default.metrics_input_scale == official.metrics


def test_records_round_trip_and_old_records_read_as_input_scale(runs) -> None:  # noqa: ANN001
    record = runs["default"][0]
    data = record.to_json()
    assert SampleRecord.from_json(data).to_json() == data
    old = {k: v for k, v in data.items() if k not in ("box_mapping", "metrics_input_scale")}
    legacy = SampleRecord.from_json(old)
    assert legacy.box_mapping is None and legacy.mapping == "input_scale"
    assert legacy.to_json() == old  # a record written before the field reads back unchanged


def test_qwen_is_unchanged(tiny_qwen_dir: Path, wide_image: Image.Image, tmp_path: Path) -> None:
    """A pure resize: both mappings give the same cells, so one field holds both and the two protocols' metrics
    agree exactly where their maps do. Cells: the tiny Qwen2-VL grid of this image, computed from its transform."""
    from vgmed_data.eval.metrics import boxes_to_token_mask

    dataset = _dataset(tmp_path / "data", wide_image)
    record = _run(tiny_qwen_dir, dataset, tmp_path / "default", "default")
    assert record.box_mapping == "padding_aware"
    assert record.metrics_input_scale is None and record.metrics_padding_aware is None
    assert all(step["kind"] == "resize" for step in record.input_transform["steps"])  # type: ignore[index]
    rows, cols = record.grid  # type: ignore[misc]
    cells = boxes_to_token_mask([BOX], image_size=wide_image.size, grid=(rows, cols)).reshape(-1)
    assert record.gt_tokens == int(cells.sum())
    q, g = _stored_maps(tmp_path / "default", record.id)
    _close(record.metrics, _layer_metrics(q, g, cells))


@pytest.fixture(scope="module")
def tiny_qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vgmed_data.eval.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint("qwen2_vl", tmp_path_factory.mktemp("qwen") / "tiny")


def _make_legacy(cfg: EvalConfig) -> None:
    """Rewrite a run's run.json as a run from before the mapping was recorded: no box_mapping, and the
    fingerprint of the settings without it (what EvalConfig.settings held then)."""
    path = Path(cfg.out) / "run.json"
    data = json.loads(path.read_text())
    del data["box_mapping"]
    data["fingerprint"] = cfg.unmapped_fingerprint()
    assert data["fingerprint"] != cfg.fingerprint()  # the mapping is part of the settings
    path.write_text(json.dumps(data))


def test_an_old_default_run_on_a_padded_model_is_refused(huatuo, huatuo_dir: Path, wide_image: Image.Image,  # noqa: ANN001
                                                         tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "data", wide_image)
    cfg = EvalConfig(model=str(huatuo_dir), dataset=str(dataset), out=tmp_path / "run", progress=False,
                     overlays=0, max_new_tokens=2)
    run_eval(cfg, adapter=huatuo)
    _make_legacy(cfg)
    with pytest.raises(InvalidInputError, match="box mapping") as caught:
        run_eval(cfg, adapter=huatuo)
    assert "--overwrite" in str(caught.value)
    (record,) = RunFolder(tmp_path / "run").read_samples()
    assert record.box_mapping == "padding_aware"  # nothing was rewritten
    run_eval(replace(cfg, overwrite=True), adapter=huatuo)  # the fix the message names
    assert json.loads((tmp_path / "run" / "run.json").read_text())["box_mapping"] == "padding_aware"


def test_an_old_default_run_on_qwen_still_resumes(tiny_qwen_dir: Path, wide_image: Image.Image,
                                                 tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "data", wide_image)
    cfg = EvalConfig(model=str(tiny_qwen_dir), dataset=str(dataset), out=tmp_path / "run", progress=False,
                     overlays=0, max_new_tokens=2)
    run_eval(cfg)
    _make_legacy(cfg)
    run_eval(cfg)  # same cells under both mappings: accepted
    other = EvalConfig(model=str(tiny_qwen_dir), dataset=str(dataset), out=tmp_path / "run", progress=False,
                       overlays=0, max_new_tokens=3)
    with pytest.raises(InvalidInputError, match="other settings"):
        run_eval(other)  # any other difference is still refused
