"""A results dataset on disk: one Parquet file per run and configuration, plus the card.

Layout (the same on the Hub)::

    README.md                              YAML: configs runs / samples with glob data_files
    data/runs/run-<run_id>.parquet         RUN_FEATURES rows (one per method)
    data/samples/run-<run_id>.parquet      SAMPLE_FEATURES rows (optional)

Files are named by run id, so adding a run never rewrites another run's file, and the card does not depend on
which runs are present (two publishers write the same card bytes).
"""

from __future__ import annotations

import os
from pathlib import Path

from vgmed_data.eval.results.collect import RunResults
from vgmed_data.eval.results.schema import FORMAT_VERSION, RUN_FEATURES, RUNS, SAMPLE_FEATURES, SAMPLES, SPLIT


def shard_path(config: str, run_id: str) -> str:
    return f"data/{config}/run-{run_id}.parquet"


def results_card(*, title: str = "VGMED evaluation results") -> str:
    """The results dataset card. Constant for a format version: it lists no runs (the data files do)."""
    return f"""---
pretty_name: {title}
tags:
- vgmed
- visual-grounding
- evaluation-results
- leaderboard
configs:
- config_name: {RUNS}
  default: true
  data_files:
  - split: {SPLIT}
    path: data/{RUNS}/*.parquet
- config_name: {SAMPLES}
  data_files:
  - split: {SPLIT}
    path: data/{SAMPLES}/*.parquet
---

# {title}

Evaluation results written by `vgmed eval publish` (vgmed-data results format version {FORMAT_VERSION}).

* `{RUNS}`: one row per model x model revision x dataset x dataset revision x configuration x split x method x
  method parameters, with answer accuracy, the VGMED grounding metrics (Attention Ratio, KL, JS; per layer and at
  the best layer by Attention Ratio), a breakdown by modality and question type (`all` = every value), the
  toolkit version, hardware, date and the command that produced it.
* `{SAMPLES}`: per-sample details for the viewer: image, ground-truth boxes (pixel xyxy), the normalised
  attention map at the best layer for the baseline and VGRefine's triage map, blocked tokens, both answers and
  the per-sample metrics.

Each run is stored in its own files (`data/<config>/run-<run_id>.parquet`), so runs are appended without
rewriting earlier ones.

```python
from datasets import load_dataset

runs = load_dataset("ORG/NAME", "{RUNS}", split="{SPLIT}")
samples = load_dataset("ORG/NAME", "{SAMPLES}", split="{SPLIT}")
```

Images in `{SAMPLES}` come from the evaluated dataset and carry its licence; publish `--no-samples` when that
licence does not allow redistribution.
"""


def write_run_files(results: RunResults, folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Write one run's Parquet files into ``folder`` (created if needed); returns path in repo -> local path."""
    from datasets import Dataset

    root = Path(folder)
    written: dict[str, Path] = {}
    for config, rows, features in ((RUNS, results.runs, RUN_FEATURES), (SAMPLES, results.samples, SAMPLE_FEATURES)):
        if not rows:
            continue
        relative = shard_path(config, results.run_id)
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_list(rows, features=features).to_parquet(str(target))
        written[relative] = target
    card = root / "README.md"
    card.write_text(results_card())
    written["README.md"] = card
    return written
