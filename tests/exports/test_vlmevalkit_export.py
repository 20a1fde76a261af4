"""`vgmed export vlmevalkit`: the TSV read back the way VLMEvalKit reads it (``pd.read_csv(f, sep='\\t')``,
vlmeval/smp/file.py), with the columns its docs require (docs/en/Development.md) and the ones that make
``build_dataset`` treat it as a CustomMCQDataset (``question``, ``A``, ``B``, ``image``)."""

from __future__ import annotations

import base64
import io
import string
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tests.exports.data import write_dataset
from vgmed_data.cli import main
from vgmed_data.errors import InvalidInputError
from vgmed_data.folder import iter_rows


def test_tsv_in_vlmevalkit_mcq_layout(tmp_path: Path, capsys) -> None:
    folder = write_dataset(tmp_path / "ds")
    out = tmp_path / "LMUData" / "VGMED_test.tsv"
    assert main(["export", "vlmevalkit", str(folder), "--out", str(out)]) == 0
    assert "not exported: 4 row(s): open question" in capsys.readouterr().err
    data = pd.read_csv(out, sep="\t")  # VLMEvalKit's load() for .tsv
    assert list(data.columns) == ["index", "image", "question", "A", "B", "C", "D", "answer", "category", "vgmed_id"]
    closed = {r["id"]: r for r in iter_rows(folder, config="vgmed", split="test") if r["options"]}
    assert len(data) == len(closed) == 4
    assert data["index"].tolist() == list(range(4)) and data["index"].is_unique
    for line in data.to_dict("records"):
        row = closed[line["vgmed_id"]]
        assert line["question"] == row["question"]
        options = [line[c] for c in "ABCD" if isinstance(line[c], str)]
        assert options == row["options"]
        assert line[line["answer"]] == row["answer"] and line["answer"] in string.ascii_uppercase[:len(options)]
        with Image.open(io.BytesIO(base64.b64decode(line["image"]))) as image:  # decode_base64_to_image
            assert image.size == (row["width"], row["height"])
            assert image.tobytes() == Image.open(io.BytesIO(row["image"]["bytes"])).tobytes()


def test_a_folder_without_closed_questions_is_refused(tmp_path: Path) -> None:
    from vgmed_data.eval.harness.vlmevalkit_export import export_vlmevalkit
    from vgmed_data.writer import write_config
    from tests.exports.data import grounding

    write_config(tmp_path / "ds", [grounding(2, "test"), grounding(3, "test")], config="vgmed")
    with pytest.raises(InvalidInputError, match="no closed question"):
        export_vlmevalkit(tmp_path / "ds", out=tmp_path / "x.tsv")


def test_hostile_text_round_trips_and_names_are_checked(tmp_path: Path, capsys) -> None:
    import dataclasses
    import stat

    from tests.exports.data import grounding
    from vgmed_data.writer import write_config

    text = 'Is it "A"?\tyes\nor {{ no }}: [x]'
    samples = [dataclasses.replace(grounding(i, "test"), question=text) for i in (0, 1)]
    write_config(tmp_path / "ds", samples, config="vgmed")
    out = tmp_path / "VGMED_x.tsv"
    assert main(["export", "vlmevalkit", str(tmp_path / "ds"), "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    data = pd.read_csv(out, sep="\t")
    assert list(data.columns)[:3] == ["index", "image", "question"] and data["question"].tolist() == [text, text]
    for name in ("VGMED x.tsv", "-x.tsv", "a\tb.tsv"):
        assert main(["export", "vlmevalkit", str(tmp_path / "ds"), "--out", str(tmp_path / name)]) == 2
        assert "--data <name>" in capsys.readouterr().err
        assert not (tmp_path / name).exists()
