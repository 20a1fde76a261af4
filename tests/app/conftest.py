"""Fixtures for the results / leaderboard tests: real tiny-model runs, and a real headless chromium.

``eval_runs`` builds a tiny dataset (the demo's CT and MR samples, all in the test split), two tiny random-weight
checkpoints of different families, and runs the real evaluator on both (once per session, ~30 s on 2 cores).
``browser`` installs Debian's chromium + chromium-driver when missing (scripts/install_chromium.sh) and drives
it with Selenium through /usr/bin/chromedriver (no browser download; closed-network flags; fresh profile).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1360,1500", "--force-device-scale-factor=1")
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
    from vgmed_data.folder import write_config

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


def _ensure_chromium() -> None:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    result = subprocess.run(["bash", str(ROOT / "scripts" / "install_chromium.sh")], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"could not install Debian chromium + chromium-driver: {result.stderr[-2000:]}")


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _ensure_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
