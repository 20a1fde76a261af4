"""How a run was produced, recorded in ``run.json`` when the run starts: the command line, the hardware, the
library and toolkit versions, the dataset configuration and split, and the date.

``vgmed_data.eval.results.collect`` reads it back when a run is published (a run folder made before this was recorded
falls back to what the publishing machine can say, and marks it so).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from vgmed_data.manifest import toolkit_version


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def describe_hardware(device: str = "cpu") -> str:
    """The device a run uses: the CUDA device name(s) for a ``cuda`` device torch sees, else the CPU."""
    if device.startswith("cuda"):
        try:
            import torch

            if torch.cuda.is_available():
                names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
                return f"{len(names)}x {names[0]}"
        except ImportError:
            pass
    return f"cpu ({platform.machine()}, {os.cpu_count()} cores)"


def run_provenance(*, device: str, config: str, split: str, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``provenance`` object of ``run.json``. ``argv``: the command line (default: this process's)."""
    words = list(argv) if argv is not None else [os.path.basename(sys.argv[0]) or "python", *sys.argv[1:]]
    return {
        "argv": words, "command": shlex.join(words),
        "hardware": describe_hardware(device), "device": device, "platform": platform.platform(),
        "python": platform.python_version(), "torch": package_version("torch"),
        "transformers": package_version("transformers"), "toolkit_version": toolkit_version(),
        "config": config, "split": split,
        "date": dt.datetime.now(tz=dt.UTC).replace(microsecond=0).isoformat(),
    }
