"""`vgmed export lmms-eval`: the files it writes (fast; lmms-eval itself runs in test_lmms_eval_export.py and
test_lmms_eval_cli.py): serialised YAML with exactly the expected keys, per-task settings that another export
into the same folder cannot change, names checked, mode 0644, and the frame table."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from tests.exports.data import write_dataset
from vgmed_data.cli import main
from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.harness.lmms_eval_export import export_lmms_eval
from vgmed_data.eval.harness.lmms_frames import FRAMES, get_frame

TASK_KEYS = {"task", "dataset_path", "dataset_kwargs", "test_split", "output_type", "doc_to_visual", "doc_to_text",
             "doc_to_messages", "doc_to_target", "process_results", "generation_kwargs", "metric_list", "metadata"}


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))


def _load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("lmms") / "ds")


def test_files_keys_and_modes(folder: Path, tmp_path: Path) -> None:
    written = export_lmms_eval(folder, out=tmp_path, name="t", box_format="qwen2_5_vl")
    assert sorted(p.name for p in written) == ["t.yaml", "t_sequences.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.py", "t.yaml", "t_sequences.json",
                                                          "t_sequences.py", "t_sequences.yaml"]
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert (tmp_path / "t.py").read_text() == (tmp_path / "t_sequences.py").read_text()  # nothing task-specific
    for task in ("t", "t_sequences"):
        config = _load(tmp_path / f"{task}.yaml")
        assert set(config) == TASK_KEYS
        assert config["task"] == task
        for key in ("doc_to_visual", "doc_to_text", "doc_to_messages", "process_results"):
            assert config[key] == ("function", f"{task}.{key}")
    sequences = _load(tmp_path / "t_sequences.yaml")
    metrics = [m["metric"] for m in sequences["metric_list"]]
    assert metrics[:6] == ["miou", "acc@0.3", "acc@0.5", "acc@0.7", "image_acc", "image_and_iou50"]
    assert {"full_image_miou", "mean_box_miou", "mean_box_image_and_iou50"} <= set(metrics)
    stated = sequences["metadata"]["vgmed"]
    assert stated["frame"] == "qwen2_5_vl" and stated["box_format"] == "qwen2_5_vl"
    assert stated["scale"].startswith("fraction")
    assert [(r["min_pixels"], r["max_pixels"]) for r in stated["frame_resizes"]] == \
        [(4 * 28 * 28, 16384 * 28 * 28), (256 * 28 * 28, 1605632)]
    settings = json.loads((tmp_path / "t_sequences.json").read_text())
    assert settings["frame"]["resizes"] == stated["frame_resizes"] and settings["mean_box"]["fitted_on"] == "train"


def test_a_second_export_into_the_folder_leaves_the_first_task_alone(folder: Path, tmp_path: Path) -> None:
    export_lmms_eval(folder, out=tmp_path, name="first", box_format="qwen2_5_vl")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    export_lmms_eval(folder, out=tmp_path, name="second", box_format="pixel_xyxy")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("first")} == before


def test_a_module_it_did_not_write_is_not_overwritten(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "utils.py").write_text("# another harness's module\n")
    with pytest.raises(InvalidInputError, match="utils.py exists and was not written"):
        export_lmms_eval(folder, out=tmp_path, name="utils")
    assert (tmp_path / "utils.py").read_text() == "# another harness's module\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["utils.py"]


@pytest.mark.parametrize("name", ["Bad", "x:{{y}}", "a\ntask: hijacked", "1abc", "a" * 65, "../up", ""])
def test_task_names_outside_the_pattern_are_refused(folder: Path, tmp_path: Path, name: str, capsys) -> None:
    assert main(["export", "lmms-eval", str(folder), "--out", str(tmp_path / "out"), "--name", name]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "[a-z][a-z0-9_]{0,63}" in error
    assert not (tmp_path / "out").exists()


def test_shard_names_carrying_yaml_are_refused(folder: Path, tmp_path: Path, capsys) -> None:
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(folder, copy)
    shard = next((copy / "data" / "vgmed").glob("test-*.parquet"))
    shutil.copyfile(shard, shard.parent / "test\ntask: hijacked_task\n-00000-of-00001.parquet")
    assert main(["export", "lmms-eval", str(copy), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "hijacked_task" in error and "rename it" in error
    assert not (tmp_path / "out").exists()


def test_a_folder_name_becomes_a_valid_task_name(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "My Data: {{x}}")
    written = export_lmms_eval(folder, out=tmp_path / "out")
    assert sorted(p.stem for p in written) == ["vgmed_my_data_x", "vgmed_my_data_x_sequences"]


def _smart(width: int, height: int, factor: int, low: int, high: int) -> tuple[int, int]:
    """qwen_vl_utils 0.0.14 smart_resize, transcribed (no rounding subtleties for these sizes)."""
    import math

    h, w = max(factor, round(height / factor) * factor), max(factor, round(width / factor) * factor)
    if h * w > high:
        beta = math.sqrt(height * width / high)
        return math.floor(width / beta / factor) * factor, math.floor(height / beta / factor) * factor
    if h * w < low:
        beta = math.sqrt(low / (height * width))
        return math.ceil(width * beta / factor) * factor, math.ceil(height * beta / factor) * factor
    return w, h


@pytest.mark.parametrize("size", [(80, 60), (336, 336), (1024, 768), (3000, 2000)])
def test_frames_follow_the_lmms_eval_models(size: tuple[int, int]) -> None:
    first = _smart(*size, 28, 4 * 28 * 28, 16384 * 28 * 28)
    assert get_frame("qwen2_5_vl", box_format="qwen2_5_vl").transform(size).dst_size == \
        _smart(*first, 28, 256 * 28 * 28, 1605632)
    assert get_frame(None, box_format="qwen2_vl").transform(size).dst_size == _smart(*size, 28, 3136, 602112)
    assert get_frame("qwen3_vl", box_format="qwen3_vl").transform(size).dst_size == \
        _smart(*size, 32, 4 * 32 * 32, 16384 * 32 * 32)
    assert get_frame(None, box_format="pixel_xyxy").transform(size).dst_size == size
    budget = get_frame("qwen2_5_vl", box_format="qwen2_5_vl", min_pixels=3136, max_pixels=50176)
    assert budget.transform(size).dst_size == _smart(*first, 28, 3136, 50176)


def test_a_budget_the_model_ignores_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="does not pass min_pixels/max_pixels"):
        get_frame("qwen3_vl", box_format="qwen3_vl", max_pixels=50176)
    assert set(FRAMES) == {"stored", "qwen2_vl", "qwen2_5_vl", "qwen3_vl"}


def test_the_lmms_eval_frame_changes_qwen2_5_vl_scores(tmp_path: Path) -> None:
    """A perfect answer in lmms-eval's qwen2_5_vl frame (80x60 -> 84x56 -> 560x392) scores IoU 1 in the exported
    task and far less in `vgmed eval run`'s own frame (84x56), which the export used to assume."""
    from vgmed_data.eval.harness.lmms_task_utils import bind
    from vgmed_data.folder import iter_rows

    folder = write_dataset(tmp_path / "ds")
    export_lmms_eval(folder, out=tmp_path / "out", name="t", box_format="qwen2_5_vl")
    task = bind(tmp_path / "out" / "t_sequences.json")
    row = next(r for r in iter_rows(folder, config="sequences", split="test") if tuple(r["image_sizes"][0]) == (80, 60)
               and r["answer_image_index"] == 0)
    x1, y1, x2, y2 = row["answer_box"]
    sx, sy = 560 / 80, 392 / 60
    answer = json.dumps({"image": 1, "bbox_2d": [x1 * sx, y1 * sy, x2 * sx, y2 * sy]})
    assert task.process_results(row, [answer])["miou"] == pytest.approx(1.0)
    export_lmms_eval(folder, out=tmp_path / "old", name="t", box_format="qwen2_5_vl", lmms_model="qwen2_vl",
                     min_pixels=56 * 56, max_pixels=256 * 28 * 28)
    assert bind(tmp_path / "old" / "t_sequences.json").process_results(row, [answer])["miou"] < 0.2
