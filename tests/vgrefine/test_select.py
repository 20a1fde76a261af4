"""``vgmed eval select`` end to end on a tiny dataset: the evaluator run, the ranking, heads.json, then
``VGRefineOptions`` from that file answering a question."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from vgmed_data.eval.vgrefine import vgrefine_fast
from vgmed_data.eval.vgrefine.cli import options_from_args
from vgmed_data.eval.vgrefine.presets import PRESETS, preset
from tests.eval.data import write_tiny_dataset
from vgmed_data.errors import InvalidInputError


@pytest.fixture(scope="module")
def heads_json(tmp_path_factory: pytest.TempPathFactory, tiny_adapter) -> Path:  # noqa: ANN001
    from vgmed_data.cli import main

    root = tmp_path_factory.mktemp("select")
    dataset = write_tiny_dataset(root / "data", 4)
    adapter = tiny_adapter("qwen2_vl")
    model_dir = adapter.model.name_or_path
    out = root / "heads.json"
    code = main(["eval", "select", "--model", str(model_dir), "--dataset", str(dataset), "--out", str(out),
                 "--k", "5", "--split", "test", "--no-progress"])
    assert code == 0
    return out


def test_select_ranks_heads_by_kl_and_layers_by_metric(heads_json: Path) -> None:
    chosen = json.loads(heads_json.read_text())
    assert len(chosen["heads"]) == 5 and chosen["samples"] == 4
    kls = [h["kl"] for h in chosen["head_figures"]]
    assert kls == sorted(kls)
    assert [[h["layer"], h["head"]] for h in chosen["head_figures"]] == chosen["heads"]
    layers = chosen["layer_figures"]
    best = min(layers, key=lambda row: row["kl"])["layer"]
    assert chosen["masked_layers"] == [best]
    # every (layer, head) not chosen has a KL no better than the worst chosen one
    assert all(np.isfinite(k) for k in kls)


def test_heads_json_drives_vgrefine(heads_json: Path, tiny_adapter, image) -> None:  # noqa: ANN001
    import argparse

    args = argparse.Namespace(heads=str(heads_json), masked_layers="1,2", percentile=80.0, threshold=None,
                              no_normalise=False, vgrefine_rows=None)
    options = options_from_args(args)
    assert options.masked_layers == (1, 2) and options.percentile == 80.0 and len(options.heads) == 5
    result = vgrefine_fast(tiny_adapter("qwen2_vl"), image, "Which organ?", options=options, max_new_tokens=2)
    assert result.record()["parameters"]["masked_layers"] == [1, 2]


def test_published_preset_is_the_paper_list() -> None:
    options = preset("huatuogpt-vision-7b")
    assert options.masked_layers == (16,) and len(options.heads) == 20
    assert options.heads[:3] == ((15, 4), (16, 5), (15, 1)) and options.heads[-1] == (17, 26)
    assert options.percentile == 50.0
    assert preset("huatuogpt-vision-7b", percentile=80).percentile == 80
    with pytest.raises(InvalidInputError, match="huatuogpt-vision-7b"):
        preset("nope")
    with pytest.raises(InvalidInputError, match="do not exist"):
        options.check_model(layers=3, heads=4)
    assert set(PRESETS) == {"huatuogpt-vision-7b"}


def test_help_does_not_import_torch() -> None:
    import subprocess

    code = ("import sys; from vgmed_data.cli import main\n"
            "try:\n    main(['eval', 'select', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
