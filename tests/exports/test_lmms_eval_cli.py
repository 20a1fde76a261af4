"""lmms-eval 0.7.3's own command line runs the exported tasks (in the environment scripts/lmms_eval_env.sh builds).

* ``from_log`` replays controlled answers (right, shifted, wrong image, no image named, unparseable) through
  every exported configuration: three sequences tasks scored in three lmms-eval frames, exported into ONE
  folder, and the vgmed task. Its per-document metrics (the samples file) and aggregates (the results file:
  lmms-eval exits 0 even when evaluation fails) equal ``vgmed eval score`` / ``vgmed eval run``'s scoring of
  the same answers; the right answers, written in each model's frame by this test's own transcription of the
  resizes, score IoU ~1.
* A tiny random LLaVA through ``llava_hf`` (its chat class: ``doc_to_messages``) with ``--limit``, on the CPU.
  (lmms-eval's Qwen models need torchvision, which cannot be installed beside the CPU torch 2.13.0: see
  docs/evaluation.md.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.exports.data import write_dataset
from tests.exports.lmms_env import lmms_python, run_lmms_cli
from vgmed_data.cli import main
from vgmed_data.eval.adapters.base import question_prompt
from vgmed_data.eval.answers import score_answer
from vgmed_data.eval.boxes.report import score_predictions
from vgmed_data.eval.tiny import build_tiny_checkpoint
from tests.smart_resize import smart_resize
from vgmed_data.folder import iter_rows
from vgmed_data.geometry import Transform

pytestmark = pytest.mark.slow


# ---- the frames lmms-eval 0.7.3 gives the model (its defaults; smart_resize transcribed in tests/smart_resize.py)
def _qwen2_5_vl_chat(size: tuple[int, int]) -> list[tuple[int, int]]:
    first = smart_resize(*size, factor=28, low=4 * 28 * 28, high=16384 * 28 * 28)   # process_vision_info defaults
    return [first, smart_resize(*first, factor=28, low=256 * 28 * 28, high=1605632)]  # the processor, model budget


def _qwen2_vl(size: tuple[int, int]) -> list[tuple[int, int]]:
    return [smart_resize(*size, factor=28, low=3136, high=602112)]


# task suffix -> (--box-format, --lmms-model, the frame's resize chain)
CONFIGS = {"px": ("pixel_xyxy", "stored", lambda size: []),
           "q25": ("qwen2_5_vl", "qwen2_5_vl", _qwen2_5_vl_chat),
           "q2": ("qwen2_vl", "qwen2_vl", _qwen2_vl)}


def _answer(fmt: str, *, box: list[float], size: tuple[int, int], frame: tuple[int, int], image: int | None) -> str:
    if fmt == "qwen2_5_vl":  # absolute pixels of the model input
        sx, sy = frame[0] / size[0], frame[1] / size[1]
        numbers = [round(box[0] * sx, 2), round(box[1] * sy, 2), round(box[2] * sx, 2), round(box[3] * sy, 2)]
        return json.dumps({"bbox_2d": numbers} if image is None else {"image": image, "bbox_2d": numbers})
    if fmt == "qwen2_vl":  # 0-1000 of the input
        a, b, c, d = (round(v * 1000 / s, 1) for v, s in zip(box, (size[0], size[1], size[0], size[1])))
        text = f"<|box_start|>({a},{b}),({c},{d})<|box_end|>"
    else:
        text = "[" + ", ".join(f"{v:g}" for v in box) + "]"
    return text if image is None else f"Image {image} {text}"


def _sequence_answers(rows: list[dict[str, Any]], fmt: str, chain) -> dict[str, str]:  # noqa: ANN001
    answers = {}
    for i, row in enumerate(rows):
        box = list(row["answer_box"])
        index = int(row["answer_image_index"])
        count = len(row["image_sizes"])
        case = i % 5
        if case == 1:
            box = [box[0] + 4, box[1] + 2, box[2] + 4, box[3] + 2]  # shifted
        if case == 2 and count > 1:
            index = (index + 1) % count  # wrong image (frame of the image it names)
        size = tuple(row["image_sizes"][index])
        frame = (chain(size) or [size])[-1]
        named = None if case == 4 else index + 1
        answers[row["id"]] = "I cannot tell." if case == 3 else _answer(fmt, box=box, size=size, frame=frame,
                                                                         image=named)
    return answers


def _transforms(sizes: list[list[int]], chain) -> list[dict[str, Any]]:  # noqa: ANN001
    result = []
    for size in sizes:
        transform = Transform.identity((int(size[0]), int(size[1])))
        for width, height in chain(tuple(size)):
            if (width, height) != transform.dst_size:
                transform = transform.resize(width, height)
        result.append(transform.to_dict())
    return result


def _from_log_file(folder: Path, task: str, rows: list[dict[str, Any]], answers: dict[str, str]) -> None:
    """A log as lmms-eval's from_log model reads it (lmms_eval/models/simple/from_log.py lines 49-82, 106-108)."""
    log = {"args": {"model": "replay", "model_args": "", "limit": None}, "model_configs": {"task": task},
           "time": "0101_0000", "logs": [{"doc_id": k, "resps": [[answers[row["id"]]]]} for k, row in enumerate(rows)]}
    (folder / f"{task}.json").write_text(json.dumps(log))


def _results(out: Path, run: Any) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The results and samples files: lmms-eval exits 0 even when the evaluation failed (then there are none)."""
    results = sorted(out.rglob("*_results.json"))
    assert len(results) == 1, run.stderr[-3000:]
    samples = {}
    for path in out.rglob("*_samples_*.jsonl"):
        task = path.stem.split("_samples_", 1)[1]
        lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line]  # not splitlines: U+0085
        samples[task] = sorted((json.loads(line) for line in lines), key=lambda s: s["doc_id"])
    return json.loads(results[0].read_text())["results"], samples


@pytest.fixture(scope="module")
def python() -> Path:
    return lmms_python()


def test_from_log_answers_score_in_lmms_eval_as_vgmed_eval_score(python: Path, tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds")
    tasks = tmp_path / "tasks"
    for suffix, (fmt, model, _) in CONFIGS.items():  # one folder, three scorings: none may affect another
        assert main(["export", "lmms-eval", str(folder), "--out", str(tasks), "--name", f"t_{suffix}",
                     "--box-format", fmt, "--lmms-model", model]) == 0
    sequence_rows = list(iter_rows(folder, config="sequences", split="test"))
    vgmed_rows = list(iter_rows(folder, config="vgmed", split="test"))
    logs = tmp_path / "logs"
    logs.mkdir()
    answers: dict[str, dict[str, str]] = {}
    for suffix, (fmt, _, chain) in CONFIGS.items():
        answers[suffix] = _sequence_answers(sequence_rows, fmt, chain)
        _from_log_file(logs, f"t_{suffix}_sequences", sequence_rows, answers[suffix])
    vgmed_answers = {r["id"]: [r["answer"], "B", "no idea", f"The answer is {r['answer']}."][i % 4]
                     for i, r in enumerate(vgmed_rows)}
    _from_log_file(logs, "t_px", vgmed_rows, vgmed_answers)

    names = ["t_px", *(f"t_{s}_sequences" for s in CONFIGS)]
    run = run_lmms_cli(python, "--model", "from_log", "--model_args", f"logs={logs}", "--tasks", ",".join(names),
                       "--include_path", str(tasks), "--output_path", str(tmp_path / "out"), "--log_samples",
                       "--batch_size", "1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    results, samples = _results(tmp_path / "out", run)
    assert sorted(results) == sorted(names), run.stderr[-3000:]

    # vgmed: accuracy per document and overall as `vgmed eval run` scores answers
    expected = [float(score_answer(vgmed_answers[r["id"]], answer=r["answer"], options=r["options"] or ())["correct"])
                for r in vgmed_rows]
    assert [s["accuracy"] for s in samples["t_px"]] == expected and 0 < sum(expected) < len(expected)
    assert [s["input"] for s in samples["t_px"]] == [question_prompt(r["question"], r["options"] or ())
                                                      for r in vgmed_rows]
    assert results["t_px"]["accuracy,none"] == pytest.approx(sum(expected) / len(expected))

    for suffix, (fmt, _, chain) in CONFIGS.items():
        task = f"t_{suffix}_sequences"
        predictions = tmp_path / f"{suffix}.jsonl"
        predictions.write_text("".join(json.dumps({"id": r["id"], "output": answers[suffix][r["id"]],
                                                   "input_transforms": _transforms(r["image_sizes"], chain)}) + "\n"
                                       for r in sequence_rows))
        ours = score_predictions(folder, predictions, fmt=fmt, config="sequences", split="test")
        by_id = {s.id: s for s in ours.samples}
        docs = samples[task]
        assert len(docs) == len(sequence_rows)
        for doc, row in zip(docs, sequence_rows):
            score = by_id[row["id"]]
            assert doc["miou"] == pytest.approx(score.iou, abs=1e-9), (task, row["id"])
            assert doc["image_acc"] == (None if score.image_correct is None else float(score.image_correct))
            if row["id"] in {r["id"] for i, r in enumerate(sequence_rows) if i % 5 == 0}:
                assert doc["miou"] > 0.95, (task, row["id"], answers[suffix][row["id"]])  # right in its frame
        for system, prefix in (("model", ""), ("full_image", "full_image_"), ("mean_box", "mean_box_")):
            summary = ours.summary[system]["all"]
            metrics = ("miou", "acc@0.3", "acc@0.5", "acc@0.7", "image_acc", "image_and_iou50") if not prefix \
                else ("miou", "acc@0.5", "image_and_iou50")
            for metric in metrics:
                assert results[task][f"{prefix}{metric},none"] == pytest.approx(summary[metric], abs=1e-6), \
                    (task, system, metric)
        model = ours.summary["model"]["all"]
        assert 0.3 < model["miou"] < 1 and 0 < model["image_and_iou50"] < 1


def test_tiny_llava_runs_the_vgmed_task_in_lmms_eval(python: Path, tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds")
    assert main(["export", "lmms-eval", str(folder), "--out", str(tmp_path / "tasks"), "--name", "tiny"]) == 0
    checkpoint = build_tiny_checkpoint("llava", tmp_path / "llava")  # its chat template serves llava_hf's chat class
    run = run_lmms_cli(python, "--model", "llava_hf", "--model_args",
                       f"pretrained={checkpoint},device=cpu,device_map=cpu,dtype=float32", "--tasks", "tiny",
                       "--include_path", str(tmp_path / "tasks"), "--limit", "3", "--output_path", str(tmp_path / "out"),
                       "--log_samples", "--batch_size", "1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    results, samples = _results(tmp_path / "out", run)
    assert "tiny" in results, run.stderr[-3000:]
    rows = list(iter_rows(folder, config="vgmed", split="test"))[:3]
    docs = samples["tiny"]
    assert [d["doc_id"] for d in docs] == [0, 1, 2]
    for doc, row in zip(docs, rows):  # the random model's replies, scored as `vgmed eval run` scores them
        reply = doc["filtered_resps"]
        reply = reply[0] if isinstance(reply, list) else reply
        assert doc["accuracy"] == float(score_answer(reply, answer=row["answer"], options=row["options"] or ())["correct"])
        assert doc["input"] == question_prompt(row["question"], row["options"] or ())
    assert results["tiny"]["accuracy,none"] == pytest.approx(sum(d["accuracy"] for d in docs) / 3)
