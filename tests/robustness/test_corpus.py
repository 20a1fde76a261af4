"""The standing bad-input corpus (tests/robustness/corpus.py) through every file-reading command.

For each case: no traceback (and no internal error), exit 1 (validate's list) or 2 (one-line error), a message
that names the input, every input byte unchanged, and no output or staging folder left behind. The cases run
in two worker processes (tests/robustness/runner.py), each case in its own folder; the assertions are per case.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.robustness.corpus import CASES, FIRST_ID, SHARD, Case, _pydicom_dir

WORKERS = 2
REPO = Path(__file__).resolve().parents[2]


def tree_state(root: Path) -> dict[str, str]:
    """relative path -> sha256 (files), "dir" (folders), "link:<target>" (links), "special:<mode>" (named pipes:
    never opened): any change shows."""
    state: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            state[relative] = f"link:{os.readlink(path)}"
        elif path.is_dir():
            state[relative] = "dir"
        elif not stat.S_ISREG(path.lstat().st_mode):
            state[relative] = f"special:{stat.S_IFMT(path.lstat().st_mode)}"
        else:
            state[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def _bases(root: Path) -> Path:
    """The demo dataset, its annotations-only copy, a one-line release JSONL with its image, a prediction, a
    one-row ``sequences`` folder (imported from a MedSG-Bench item)."""
    from vgmed_data.demo import demo_samples
    from vgmed_data.writer import write_config
    from vgmed_data.pointers import strip_images

    base = root / "base"
    write_config(base / "folder", demo_samples(), config="vgmed")
    strip_images(base / "folder", base / "stripped")
    (base / "images").mkdir()
    Image.fromarray(np.full((100, 120), 90, np.uint8)).save(base / "images" / "a.png")
    line = {"image": "a.png", "question": "Where is the lesion?", "bbox": [[10, 10, 40, 40]]}
    (base / "in.jsonl").write_text(json.dumps(line) + "\n")
    first = pq.read_table(base / SHARD.replace("folder/", "folder/", 1), columns=["id"]).column("id")[0].as_py()
    (base / "preds.jsonl").write_text(json.dumps({"id": first, "output": "[27, 6, 84, 82]"}) + "\n")
    (base / "first_id").write_text(first)
    from vgmed_data.builders.sequences.medsg import import_medsg

    item = {"task": "Registered_Diff", "images": ["a.png", "a.png"], "question": "Which image changed?",
            "answer": [10, 10, 40, 40], "answer_image": 2}
    (base / "medsg-base.json").write_text(json.dumps([item]))
    write_config(base / "seq", import_medsg(base / "medsg-base.json", images_root=base / "images"),
                 config="sequences")
    (base / "medsg-base.json").unlink()
    return base


def _tiny_model(root: Path) -> Path:
    """A tiny random-weight LLaVA checkpoint for the ``eval run`` cases (outside the per-case copies)."""
    out = root / "tiny-llava"
    subprocess.run([sys.executable, "-m", "vgmed_data.cli", "eval", "tiny", "llava", "--out", str(out)], check=True,
                   capture_output=True, timeout=600, cwd=REPO)
    return out


def _places(case_dir: Path, first_id: str) -> dict[str, str]:
    import nibabel

    nifti = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    return {"folder": str(case_dir / "folder"), "stripped": str(case_dir / "stripped"),
            "images": str(case_dir / "images"), "jsonl": str(case_dir / "in.jsonl"),
            "preds": str(case_dir / "preds.jsonl"), "out": str(case_dir / "out"),
            "file": str(case_dir / "input.bin"), "dir": str(case_dir), "pydicom": _pydicom_dir(),
            "nifti": str(nifti), "first_id": first_id, "seq": str(case_dir / "seq"),
            "tiny": str(case_dir.parent.parent / "tiny-llava")}


def _prepare(case: Case, base: Path, root: Path, first_id: str) -> dict[str, Any]:
    case_dir = root / case.name.replace("/", "__")
    shutil.copytree(base, case_dir, symlinks=True)
    if case.make is not None:
        case.make(case_dir)
    (case_dir / "first_id").unlink()
    places = _places(case_dir, first_id)
    argv = [token.format(**places) for token in case.command.split(" ")]
    return {"name": case.name, "argv": argv, "cwd": str(case_dir), "limit_s": 60,
            "dir": case_dir, "state": tree_state(case_dir)}


def _run_batch(batch: list[dict[str, Any]], folder: Path, index: int) -> list[dict[str, Any]]:
    spec, results = folder / f"batch{index}.json", folder / f"results{index}.json"
    spec.write_text(json.dumps([{k: v for k, v in item.items() if k in ("name", "argv", "cwd", "limit_s")}
                                for item in batch]))
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "PYTHONPATH": str(REPO)}
    process = subprocess.run([sys.executable, "-m", "tests.robustness.runner", str(spec), str(results)],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=60 * len(batch) + 120)
    done = json.loads(results.read_text()) if results.exists() else []
    if len(done) < len(batch):
        running = batch[len(done)]["name"]
        done += [{"name": item["name"], "exit": "worker died", "stdout": "", "stderr": process.stderr[-3000:],
                  "escaped": f"worker died while running {running}", "seconds": 0} for item in batch[len(done):]]
    return done


@pytest.fixture(scope="session")
def corpus_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("corpus")
    base = _bases(root)
    _tiny_model(root)
    first_id = (base / "first_id").read_text()
    prepared = [_prepare(case, base, root / "cases", first_id) for case in CASES]
    batches = [prepared[i::WORKERS] for i in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda item: _run_batch(item[1], root, item[0]), enumerate(batches)))
    by_name = {result["name"]: result for batch in outcomes for result in batch}
    for item in prepared:
        by_name[item["name"]].update(dir=item["dir"], state=item["state"], first_id=first_id)
    return by_name


def test_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, corpus_results: dict[str, dict[str, Any]]) -> None:
    result = corpus_results[case.name]
    output = result["stdout"] + result["stderr"]
    assert result["escaped"] is None, result["escaped"]
    assert "Traceback" not in output and "internal error" not in output, output
    assert result["exit"] == case.exit, output
    says = case.says.replace(FIRST_ID, result["first_id"])
    if case.exit == 2:
        lines = [line for line in result["stderr"].splitlines() if line.strip()]
        assert len(lines) == 1, result["stderr"]
        assert lines[0].startswith("vgmed"), lines[0]
        assert says in lines[0], lines[0]
    else:
        assert says in result["stdout"], result["stdout"]
        assert not result["stderr"].strip(), result["stderr"]
    after = tree_state(result["dir"])
    changed = sorted(k for k in set(after) | set(result["state"]) if after.get(k) != result["state"].get(k))
    assert not changed, f"inputs changed or output left behind: {changed[:10]}"
