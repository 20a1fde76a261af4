"""End to end: `build sequences` on a miniature Decathlon Task01 folder, MedSG JSON round trip, `eval score`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from vgmed_data.builders.sequences.cli import register
from vgmed_data.builders.sequences.medsg import export_medsg, import_medsg
from vgmed_data.eval.boxes.cli import register_score
from vgmed_data.folder import iter_rows
from vgmed_data.writer import write_config

from tests.sequences.miniature import write_decathlon


def run(register_fn, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register_fn(parser)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("src")
    task01 = write_decathlon(root / "Task01_BrainTumour", cases=4)
    out = root / "out"
    assert run(register, ["--source", f"msd-brain-tumour={task01}", "--out", str(out), "--seed", "1",
                          "--fit-fraction", "0.5"]) == 0
    return out


def test_build_report_counts_per_task_and_source(built: Path) -> None:
    report = json.loads((built / "build_report_sequences.json").read_text())
    assert report["settings"]["seed"] == 1 and report["settings"]["size"] == 336
    rows = list(iter_rows(built, config="sequences"))
    assert report["samples"] == len(rows)
    for task, entry in report["per_task"].items():
        assert entry["made"] == sum(r["task"] == task for r in rows)
        assert set(entry["per_source"]) <= {"msd-brain-tumour"}
    assert report["per_task"]["cross_modal"]["made"] > 0  # FLAIR vs t1gd of the same slice
    assert {r["split"] for r in rows} == set(report["splits"])


def test_medsg_round_trip(built: Path, tmp_path: Path) -> None:
    exported = export_medsg(built, tmp_path / "medsg")
    items = json.loads(exported.path.read_text())
    rows = {r["id"]: r for r in iter_rows(built, config="sequences")}
    keys = {"registered_difference": "Registered_Diff", "non_registered_difference": "Non_Registered_Diff",
            "visual_concept": "concept", "visual_patch": "patch", "cross_modal": "crossmodal"}
    assert exported.items == len(items) == len(rows) - sum(exported.not_exported.values())
    for item in items:
        row = rows[item["id"]]
        assert item["task"] == keys.get(row["task"], row["task"])
        assert item["answer"] == row["answer_box"] and item["answer_image"] == row["answer_image_index"] + 1
        if row["reference_box"] is not None:
            x1, y1, x2, y2 = (int(v) for v in row["reference_box"])
            assert f"<|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>" in item["question"]
    back = list(import_medsg(exported.path))
    assert len(back) == len(items)
    for sample in back:
        row = rows[sample.id]
        assert (sample.task, sample.answer_image_index, list(sample.answer_box)) == \
               (row["task"], row["answer_image_index"], row["answer_box"])
        assert [i.image for i in sample.images] == [c["bytes"] for c in row["images"]]
        assert sample.reference_box == row["reference_box"]
    # and theirs -> ours -> theirs gives the same JSON
    write_config(tmp_path / "again", back, config="sequences")
    again = json.loads(export_medsg(tmp_path / "again", tmp_path / "medsg2").path.read_text())
    key = lambda items: sorted((i["id"], i["task"], i["question"], i["answer"], i["answer_image"]) for i in items)  # noqa: E731
    assert key(again) == key(items)


def test_score_cli_reports_model_beside_baselines(built: Path, tmp_path: Path, capsys) -> None:
    rows = list(iter_rows(built, config="sequences", split="test"))
    predictions = tmp_path / "p.jsonl"
    with open(predictions, "w") as handle:
        for i, row in enumerate(rows):
            output = row["answer"] if i % 2 == 0 else "I am not sure."
            handle.write(json.dumps({"id": row["id"], "output": output}) + "\n")
    assert run(register_score, ["--dataset", str(built), "--predictions", str(predictions), "--format",
                                "pixel_xyxy", "--out", str(tmp_path / "scores")]) == 0
    printed = capsys.readouterr().out
    assert "full_image" in printed and "mean_box" in printed
    summary = json.loads((tmp_path / "scores" / "summary.json").read_text())["summary"]
    assert summary["model"]["all"]["n"] == len(rows)
    answered = (len(rows) + 1) // 2
    assert summary["model"]["all"]["acc@0.7"] == pytest.approx(answered / len(rows), abs=1e-6)
    assert summary["model"]["all"]["image_acc"] == pytest.approx(answered / len(rows), abs=1e-6)
    assert set(summary) == {"model", "full_image", "mean_box"}
    lines = (tmp_path / "scores" / "scores.jsonl").read_text().splitlines()
    assert len(lines) == len(rows)


def test_score_refuses_unknown_ids(built: Path, tmp_path: Path) -> None:
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(json.dumps({"id": "nope", "output": "[1, 2, 3, 4]"}) + "\n")
    with pytest.raises(ValueError, match="not in split"):
        run(register_score, ["--dataset", str(built), "--predictions", str(predictions), "--format", "pixel_xyxy"])


def test_medsg_is_a_format_of_vgmed_import_and_export(built: Path, tmp_path: Path) -> None:
    """`vgmed export medsg` / `vgmed import medsg` (the format catalogue) write what the `build sequences`
    options of the same name write."""
    from vgmed_data.cli import main

    assert main(["export", "medsg", str(built), "--out", str(tmp_path / "new")]) == 0
    assert run(register, ["--out", str(built), "--export-medsg", str(tmp_path / "old")]) == 0
    for name in ("medsg.json", *(f"images/{p.name}" for p in (tmp_path / "old" / "images").iterdir())):
        assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "old" / name).read_bytes(), name
    medsg = tmp_path / "new" / "medsg.json"
    assert main(["import", "medsg", str(medsg), "--out", str(tmp_path / "imported")]) == 0
    assert run(register, ["--from-medsg", str(medsg), "--out", str(tmp_path / "imported-old")]) == 0
    rows = list(iter_rows(tmp_path / "imported", config="sequences"))
    assert len(rows) == len(json.loads(medsg.read_text())) > 0
    assert rows == list(iter_rows(tmp_path / "imported-old", config="sequences"))
