"""`vgmed export lmms-eval`: lmms-eval 0.7.3's own YAML loader reads every exported task with exactly the expected
keys, its task manager (in its own environment) loads the tasks, builds the documents, prompts and chat turns
(images labelled as `vgmed eval run` labels them), and its process_results + aggregation on sample model outputs
give the scores vgmed-data's evaluators give."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.exports.data import write_dataset
from tests.exports.test_lmms_eval_files import TASK_KEYS
from tests.exports.lmms_env import lmms_python, run_in_lmms
from vgmed_data.cli import main
from vgmed_data.eval.adapters.base import question_prompt
from vgmed_data.eval.answers import score_answer
from vgmed_data.eval.boxes.prompts import box_prompt
from vgmed_data.eval.boxes.report import score_predictions
from vgmed_data.folder import iter_rows

pytestmark = pytest.mark.slow

DRIVER = r'''
import json, pathlib, sys
from lmms_eval.tasks import TaskManager, get_task_dict
from lmms_eval.utils import load_yaml_config

include, outputs_file = sys.argv[1], sys.argv[2]
outputs = json.load(open(outputs_file))
found = {"keys": {p.stem: sorted(load_yaml_config(str(p))) for p in sorted(pathlib.Path(include).glob("*.yaml"))}}
manager = TaskManager(include_path=include, include_defaults=False)
found["all"] = sorted(manager.all_tasks)
for name, task in get_task_dict(sorted(manager.all_tasks), manager).items():
    values, docs = {}, {}
    for doc in task.test_docs():
        visuals = task.doc_to_visual(doc)
        messages = task.config.doc_to_messages(doc)  # what chat models call (ConfigurableMessagesTask)
        turn = [part["text"] if part["type"] == "text" else ["image", list(part["url"].size)]
                for part in messages[0]["content"]]
        docs[doc["id"]] = {"text": task.doc_to_text(doc), "visuals": [list(v.size) + [v.mode] for v in visuals],
                           "turn": turn, "role": messages[0]["role"]}
        for metric, value in task.process_results(doc, [outputs[doc["id"]]]).items():
            values.setdefault(metric, []).append(value)
    aggregation = task.aggregation()
    found[name] = {"docs": docs, "scores": {m: aggregation[m](v) for m, v in values.items()}}
print(json.dumps(found))
'''


@pytest.fixture(scope="module")
def python() -> Path:
    return lmms_python()


def test_lmms_eval_loads_builds_and_scores_as_we_do(python: Path, tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "My Data")
    assert main(["export", "lmms-eval", str(folder), "--out", str(tmp_path / "tasks")]) == 0
    assert sorted(p.name for p in (tmp_path / "tasks").iterdir()) == sorted(
        f"{task}.{ext}" for task in ("vgmed_my_data", "vgmed_my_data_sequences") for ext in ("json", "py", "yaml"))

    outputs: dict[str, str] = {}
    vgmed_rows = list(iter_rows(folder, config="vgmed", split="test"))
    for i, row in enumerate(vgmed_rows):  # right, wrong, letter, text replies
        options = list(row["options"] or [])
        outputs[row["id"]] = (row["answer"] if i % 3 == 0 else "B" if options and i % 3 == 1 else "no idea")
    sequence_rows = list(iter_rows(folder, config="sequences", split="test"))
    for i, row in enumerate(sequence_rows):
        x1, y1, x2, y2 = row["answer_box"]
        outputs[row["id"]] = [row["answer"], f"Image 1: [{x1 + 3}, {y1}, {x2 + 3}, {y2}]", "nothing"][i % 3]
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))

    result = run_in_lmms(python, DRIVER, str(tmp_path / "tasks"), str(tmp_path / "outputs.json"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["all"] == ["vgmed_my_data", "vgmed_my_data_sequences"]
    assert found["keys"] == {task: sorted(TASK_KEYS) for task in found["all"]}  # lmms-eval's own loader

    # documents and prompts: every test row, the prompt our runners use, the images as stored
    vgmed = found["vgmed_my_data"]
    assert set(vgmed["docs"]) == {r["id"] for r in vgmed_rows}
    for row in vgmed_rows:
        assert vgmed["docs"][row["id"]]["text"] == question_prompt(row["question"], row["options"] or ())
        assert vgmed["docs"][row["id"]]["visuals"] == [[row["width"], row["height"], "RGB"]]
        assert vgmed["docs"][row["id"]]["turn"] == [["image", [row["width"], row["height"]]],
                                                    question_prompt(row["question"], row["options"] or ())]
    sequences = found["vgmed_my_data_sequences"]
    assert set(sequences["docs"]) == {r["id"] for r in sequence_rows}
    for row in sequence_rows:
        text, _ = box_prompt(question=row["question"], fmt="pixel_xyxy",
                             image_sizes=[tuple(s) for s in row["image_sizes"]], reference_box=row["reference_box"],
                             reference_image_index=row["reference_image_index"])
        doc = sequences["docs"][row["id"]]
        labels = "".join(f"Image {k + 1}:<image {k + 1}>" for k in range(len(row["image_sizes"])))
        assert doc["text"] == (labels + text if len(row["image_sizes"]) > 1 else text)  # simple models
        assert doc["visuals"] == [[w, h, "RGB"] for w, h in row["image_sizes"]]
        # chat models: each image after its label, as `vgmed eval run` builds the turn (Adapter.chat_text)
        images = [["image", [w, h]] for w, h in row["image_sizes"]]
        assert doc["role"] == "user"
        assert doc["turn"] == ([*images, text] if len(images) == 1 else
                               [*(p for k, i in enumerate(images) for p in (f"Image {k + 1}:", i)), text])

    # scores: answers as `vgmed eval run` scores them, boxes as `vgmed eval score` does
    expected = np.mean([score_answer(outputs[r["id"]], answer=r["answer"], options=r["options"] or ())["correct"]
                        for r in vgmed_rows])
    assert 0 < expected < 1
    assert vgmed["scores"] == {"accuracy": pytest.approx(expected)}
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": r["id"], "output": outputs[r["id"]]}) + "\n"
                                   for r in sequence_rows))
    ours = score_predictions(folder, predictions, fmt="pixel_xyxy", config="sequences", split="test")
    model = ours.summary["model"]["all"]
    assert 0 < model["miou"] < 1 and model["image_acc"] is not None
    for metric in ("miou", "acc@0.3", "acc@0.5", "acc@0.7", "image_acc", "image_and_iou50"):
        assert sequences["scores"][metric] == pytest.approx(model[metric], abs=1e-6), metric
    for metric in ("miou", "acc@0.5", "image_and_iou50"):
        for baseline in ("full_image", "mean_box"):
            assert sequences["scores"][f"{baseline}_{metric}"] == \
                pytest.approx(ours.summary[baseline]["all"][metric], abs=1e-6), (baseline, metric)
