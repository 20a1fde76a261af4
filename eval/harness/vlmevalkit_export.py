"""``vgmed export vlmevalkit FOLDER --out FILE.tsv``: the closed questions as a VLMEvalKit custom MCQ TSV.

VLMEvalKit's documented layout (``docs/en/Development.md``, "Prepare your benchmark tsv file", commit 23757c4):
one TSV per benchmark with ``index`` (an integer unique per line), ``image`` (the image's base64), ``question``,
the options as columns ``A``, ``B``, ... and ``answer``; ``category`` is optional. Its loader is
``pd.read_csv(f, sep='\\t')`` (``vlmeval/smp/file.py``, ``load``), and a TSV under an unknown name placed in
``$LMUData/<name>.tsv`` with a ``question`` column, ``A`` and ``B`` columns and an ``image`` column is evaluated
as a ``CustomMCQDataset`` (``vlmeval/dataset/__init__.py``, ``build_dataset``), which scores the option letter.

So only closed questions (with options) are written; ``answer`` is the letter of the option equal to the
stored answer (normalised as :func:`vgmed_data.eval.answers.normalise`). Open questions are counted, not
written (VLMEvalKit's ``CustomVQADataset`` has no evaluation). Two extra columns carry our ids: ``vgmed_id``
and ``category`` (the question's target).
"""

from __future__ import annotations

import base64
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from vgmed_data.errors import InvalidInputError, SchemaError
from vgmed_data.eval.answers import normalise
from vgmed_data.folder import iter_rows
from vgmed_data.imaging.decode import decode_bytes
from vgmed_data.staging import staged_file


# The TSV's name is the dataset name VLMEvalKit's command line takes (``--data <name>``).
DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


@dataclass
class VlmEvalKitExport:
    path: Path
    rows: int = 0
    not_exported: dict[str, int] = field(default_factory=dict)  # reason -> count


def answer_letter(options: list[str], answer: str, *, record: str) -> str:
    matches = [i for i, option in enumerate(options) if normalise(option) == normalise(answer)]
    if len(matches) != 1:
        raise SchemaError(f"answer {answer!r} matches {len(matches)} of the options {options}", record=record,
                          fix="make the answer equal to exactly one option")
    return string.ascii_uppercase[matches[0]]


def export_vlmevalkit(folder: str | Path, *, out: str | Path, split: str | None = "test") -> VlmEvalKitExport:
    """Write the ``vgmed`` closed questions of ``split`` (all splits when None) as a VLMEvalKit MCQ TSV."""
    import pandas as pd

    target = Path(out)
    if target.suffix != ".tsv" or not DATASET_NAME.fullmatch(target.stem):
        raise InvalidInputError("the output must be <dataset name>.tsv", path=target,
                                fix=f"name it <dataset name>.tsv with a name matching {DATASET_NAME.pattern}; "
                                    "VLMEvalKit finds it as $LMUData/<name>.tsv and runs it as --data <name>")
    report = VlmEvalKitExport(path=target)
    records: list[dict[str, object]] = []
    for row in iter_rows(folder, config="vgmed", split=split):
        options = list(row.get("options") or [])
        if len(options) < 2:
            report.not_exported["open question"] = report.not_exported.get("open question", 0) + 1
            continue
        if len(options) > len(string.ascii_uppercase):
            raise SchemaError(f"{len(options)} options cannot be lettered", record=row["id"])
        if not row["image"] or not row["image"].get("bytes"):
            report.not_exported["no image"] = report.not_exported.get("no image", 0) + 1
            continue
        decode_bytes(row["image"]["bytes"], record=row["id"]).close()  # a TSV of undecodable images scores nothing
        record = {"index": len(records), "image": base64.b64encode(row["image"]["bytes"]).decode("ascii"),
                  "question": row["question"]}
        record.update(dict(zip(string.ascii_uppercase, options)))
        record["answer"] = answer_letter(options, row["answer"], record=row["id"])
        record["category"] = row["target"]
        record["vgmed_id"] = row["id"]
        records.append(record)
    if not records:
        raise InvalidInputError("no closed question to export", path=folder,
                                fix="VLMEvalKit's custom datasets score multiple-choice questions; build with "
                                    "closed questions, or pass --split")
    letters = [c for c in string.ascii_uppercase if any(c in r for r in records)]
    columns = ["index", "image", "question", *letters, "answer", "category", "vgmed_id"]
    with staged_file(target, what="TSV") as staged:  # pandas quotes tabs, newlines and quotes in the text
        pd.DataFrame.from_records(records, columns=columns).to_csv(staged, sep="\t", index=False)
        os.chmod(staged, 0o644)
    report.rows = len(records)
    return report
