"""Choosing VGRefine's heads and masked layer(s) from grounding metrics on a dataset the user picks.

As in the paper: run the evaluator (question and general passes, every layer) over a grounding dataset, then
rank heads by their mean KL(gt || normalised head map) over the samples (lower = attention closer to the
ground-truth region) and take the top K. The head map is the official head script's (measure_attention_head.py):
each head of the question prompt over the SAME head of the general prompt (``metrics.layer_and_head_maps``).
Choose the masked layer(s) by the per-layer metrics (default: lowest
mean KL; ``ar``: highest mean Attention Ratio). The paper ranked heads on natural images so that no medical
test data leaks into the method; any folder in our schema works (pass a natural-image or a held-out split).

The evaluator's outputs are the input here (``samples.jsonl`` per-layer metrics, ``attention/*.npz``
``<id>__head_metrics`` = ``[ar, kl, js] x [layers, heads]``), so selection reuses its capture, metrics,
resume and multi-GPU sharding unchanged.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np

from vgmed_data.eval.metrics import HEAD_METRICS, LOWER_IS_BETTER
from vgmed_data.eval.run_folder import RunFolder, SampleRecord
from vgmed_data.errors import InvalidInputError



def _grounded_records(folder: RunFolder) -> list[SampleRecord]:
    return [r for r in folder.read_samples() if r.grounded]


def _head_metrics(folder: RunFolder, ids: set[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, array in folder.attention(ids):
        sample_id, _, kind = key.partition("__")
        if kind == "head_metrics":
            out[sample_id] = array.astype(np.float64)
    return out


def _order(values: np.ndarray, metric: str) -> np.ndarray:
    """Indices best first (NaN last), stable."""
    key = values if metric in LOWER_IS_BETTER else -values
    return np.argsort(np.where(np.isnan(key), np.inf, key), kind="stable")


def select_from_run(run_dir: str | os.PathLike[str], *, k: int = 20, layer_metric: str = "kl",
                    masked_layers: int = 1) -> dict[str, Any]:
    """Top-``k`` heads (by mean head KL) and ``masked_layers`` layer(s) (by ``layer_metric``) from a run."""
    if layer_metric not in HEAD_METRICS:
        raise InvalidInputError(f"unknown layer metric {layer_metric!r}", fix=f"use one of {HEAD_METRICS}")
    folder = RunFolder(run_dir)
    root = folder.root
    records = _grounded_records(folder)
    if not records:
        raise InvalidInputError("no sample with grounding metrics in this run", path=root,
                                fix="select on a dataset whose samples have boxes")
    layers = list(records[0].layers or ())
    per_layer = {m: np.nanmean([r.metrics[m] for r in records if r.metrics is not None], axis=0)
                 for m in HEAD_METRICS}
    heads_by_sample = _head_metrics(folder, {r.id for r in records})
    if not heads_by_sample:
        raise InvalidInputError("no per-head metrics in the run's attention files", path=root)
    stacked = np.stack(list(heads_by_sample.values()))  # [samples, 3, L, H]
    per_head = {m: np.nanmean(stacked[:, i], axis=0) for i, m in enumerate(HEAD_METRICS)}
    num_heads = per_head["kl"].shape[1]
    if not 0 < k <= per_head["kl"].size:
        raise InvalidInputError(f"k = {k} heads out of {per_head['kl'].size}", fix="choose 1 <= k <= layers*heads")
    flat = _order(per_head["kl"].reshape(-1), "kl")[:k]
    heads = [[int(layers[i // num_heads]), int(i % num_heads)] for i in flat]
    layer_rank = _order(per_layer[layer_metric], layer_metric)[:masked_layers]
    return {
        "heads": heads,
        "masked_layers": sorted(int(layers[i]) for i in layer_rank),
        "chosen_by": {"heads": "lowest mean head KL(gt || question[l, h] / general[l, h])",
                      "masked_layers": f"{'lowest' if layer_metric in LOWER_IS_BETTER else 'highest'} mean "
                                       f"layer {layer_metric}"},
        "head_figures": [{"layer": h[0], "head": h[1], **{m: round(float(per_head[m][layers.index(h[0]), h[1]]), 6)
                                                          for m in HEAD_METRICS}} for h in heads],
        "layer_figures": [{"layer": int(layer), **{m: round(float(per_layer[m][i]), 6) for m in HEAD_METRICS}}
                          for i, layer in enumerate(layers)],
        "samples": len(heads_by_sample),
    }


def select_heads(cfg: Any, *, k: int = 20, layer_metric: str = "kl", masked_layers: int = 1) -> dict[str, Any]:
    """Run the evaluator with ``cfg`` (an :class:`vgmed_data.eval.runner.EvalConfig`; every layer) and select from it."""
    from vgmed_data.eval.runner import run_eval

    cfg = replace(cfg, layers=None, overlays=0)
    run_eval(cfg)
    chosen = select_from_run(cfg.out, k=k, layer_metric=layer_metric, masked_layers=masked_layers)
    return {"model": cfg.model, "dataset": cfg.dataset, "config": cfg.config, "split": cfg.split,
            "protocol": cfg.protocol, **chosen}
