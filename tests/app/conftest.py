"""Fixtures for the results / leaderboard tests: real tiny-model runs (the headless chromium, ``browser``, is in
tests/fixtures/chromium.py, shared with the Label Studio page tests).

``eval_runs`` builds a tiny dataset (the demo's CT and MR samples, all in the test split), two tiny random-weight
checkpoints of different families, and runs the real evaluator on both (once per session, ~30 s on 2 cores).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("qwen2_vl", "llava")


@dataclasses.dataclass(frozen=True)
class EvalRuns:
    dataset: Path
    runs: dict[str, Path]  # family -> run folder


@pytest.fixture(scope="session")
def eval_runs(tmp_path_factory: pytest.TempPathFactory) -> EvalRuns:
    from vgmed_data.eval.runner import EvalConfig, run_eval
    from vgmed_data.eval.tiny import build_tiny_checkpoint
    from vgmed_data.eval.vgrefine.options import VGRefineOptions
    from vgmed_data.demo import demo_samples
    from vgmed_data.writer import write_config

    root = tmp_path_factory.mktemp("eval-runs")
    samples = [dataclasses.replace(s, provenance=dataclasses.replace(s.provenance, split="test"))
               for s in demo_samples()]
    dataset = root / "dataset"
    write_config(dataset, samples, config="vgmed")
    runs = {}
    for family in FAMILIES:
        checkpoint = build_tiny_checkpoint(family, root / f"tiny-{family}")
        out = root / f"run-{family}"
        # The Qwen2-VL run also answers with VGRefine (a fixed head list valid for the 3-layer tiny model), so the
        # published results hold real VGRefine rows for the method filter, the deltas and the viewer.
        refine = VGRefineOptions(heads=((1, 0), (1, 1), (1, 2), (1, 3)), masked_layers=(2,)) if family == "qwen2_vl" else None
        run_eval(EvalConfig(model=str(checkpoint), dataset=str(dataset), out=out, overlays=0, progress=False,
                            methods=("baseline", "vgrefine") if refine else ("baseline",), vgrefine=refine))
        runs[family] = out
    return EvalRuns(dataset=dataset, runs=runs)
