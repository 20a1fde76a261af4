"""Default values shared by the annotate commands and their ``--help``.

They live here, away from the modules that use them, so that building the ``vgmed annotate`` parser imports
nothing heavy (no datasets, scipy or label-studio-sdk): ``vgmed annotate --help`` stays fast.
"""

from __future__ import annotations

DEFAULT_BATCH = 250  # tasks per import request (push, adjudicate)
DEFAULT_THRESHOLD = 0.7  # box IoU under which a task goes to adjudication
MASK_AS = ("brush", "polygon", "none")  # how a builder's mask is pre-drawn
