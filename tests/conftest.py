"""Shared test setup. Service fixtures (real Label Studio, the Hub-compatible server, chromium) live in
tests/fixtures/ (hub, label_studio, chromium, wheel) and are registered in ``pytest_plugins``; each starts once per test
session and cleans up.

The Hugging Face environment is made hermetic here, at import time, because huggingface_hub and datasets read
their settings when they are first imported: a temporary HF_HOME (no user token or cache), no telemetry, no
Xet. Hub tests point HF_ENDPOINT at the local Hub-compatible server (tests/fixtures/).
"""

from __future__ import annotations

import os
import tempfile

_HF_HOME = tempfile.mkdtemp(prefix="vgmed-test-hf-")
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_DATASETS_CACHE"] = os.path.join(_HF_HOME, "datasets")
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HUGGING_FACE_HUB_TOKEN", None)

pytest_plugins: list[str] = ["tests.fixtures.hub", "tests.fixtures.label_studio", "tests.fixtures.chromium",
                             "tests.fixtures.wheel"]
