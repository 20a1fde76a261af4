"""Snapshot files: compared, never written by a normal test run.

A missing snapshot fails its test; ``VGMED_UPDATE_SNAPSHOTS=1`` (after a reviewed change) writes the current
value instead and the test then compares against what it wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

UPDATE_FLAG = "VGMED_UPDATE_SNAPSHOTS"


def check_snapshot(path: Path, current: Any) -> None:
    """Assert that ``current`` equals the JSON snapshot at ``path``."""
    if os.environ.get(UPDATE_FLAG) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    elif not path.exists():
        pytest.fail(f"snapshot {path} is missing; review the value and write it with {UPDATE_FLAG}=1")
    assert current == json.loads(path.read_text())
