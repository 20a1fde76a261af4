"""The results format: typed ``datasets.Features`` for the two configurations of a results dataset.

* ``runs`` (one row per run x method): the identity of what was evaluated (model and revision, dataset and
  revision, configuration, split, method and its parameters), the summary metrics (grounding per layer and at
  the best layer, answer accuracy, box scores and their trivial baselines where present; with several methods
  the paired-bootstrap comparison with the baseline), a breakdown by
  modality x question type (with ``"all"`` as the wildcard, so a filter is an exact lookup), and how it was
  produced (toolkit version, hardware, date, command).
* ``samples`` (optional; one row per run x sample): what the sample viewer shows: the image and its
  ground-truth boxes, the normalised attention map at the run's best layer for the baseline and for VGRefine,
  where that map lies on the stored image, the blocked tokens, the question, both answers and the per-sample
  metrics.

A results dataset is a folder (or Hub dataset) ``data/runs/run-<run_id>.parquet`` +
``data/samples/run-<run_id>.parquet`` + ``README.md`` whose YAML declares the two configurations with glob
patterns, so every publish adds its own files and never rewrites another run's (see :mod:`vgmed_data.eval.results.publish`).
The Parquet schema carries these features, so ``load_dataset(repo, "runs")`` returns them exactly.
"""

from __future__ import annotations

from datasets import Features, Image, List, Value

from vgmed_data.eval.metrics import HEAD_METRICS

# 2: runs gained protocol and box_mapping; 3: runs gained the methods comparison columns (accuracy_ci95 ...).
# Older datasets are upgraded: eval.results.migrate.
FORMAT_VERSION = 3
RUNS = "runs"
SAMPLES = "samples"
RESULT_CONFIGS = (RUNS, SAMPLES)
SPLIT = "train"  # results datasets have one split; the evaluated split is a column
ALL = "all"  # the wildcard value of a breakdown's modality / question_type
METRICS = HEAD_METRICS  # the attention metrics of each run row, in this order

SLICE_FEATURES = {
    "modality": Value("string"),
    "question_type": Value("string"),
    "n": Value("int32"),
    "answered": Value("int32"),
    "grounded": Value("int32"),
    "accuracy": Value("float64"),
    "ar": Value("float64"),
    "kl": Value("float64"),
    "js": Value("float64"),
}

RUN_FEATURES = Features({
    "row_id": Value("string"),  # run_id + method + parameters: the row's key
    "run_id": Value("string"),  # shared by the methods of one run and by its samples rows
    "format_version": Value("int32"),
    "model": Value("string"),
    "model_revision": Value("string"),
    "model_family": Value("string"),
    "random_weights": Value("bool"),
    "dataset": Value("string"),
    "dataset_revision": Value("string"),
    "config": Value("string"),
    "split": Value("string"),
    "method": Value("string"),
    "method_params": Value("string"),  # JSON, sorted keys ("{}" for the baseline)
    "query": Value("string"),
    "attention_prompt": Value("string"),  # which prompt the grounding metrics of closed questions came from
    "protocol": Value("string"),  # "default" or "official" (eval.protocol; runs from before it: "default")
    "box_mapping": Value("string"),  # the metrics' box mapping: "padding_aware"/"input_scale" (older: input_scale)
    "layers": List(Value("int32")),
    "n_samples": Value("int32"),
    "n_answered": Value("int32"),
    "n_grounded": Value("int32"),
    "accuracy": Value("float64"),
    "ar_per_layer": List(Value("float64")),
    "kl_per_layer": List(Value("float64")),
    "js_per_layer": List(Value("float64")),
    "best_layer": Value("int32"),  # by mean Attention Ratio (higher is better); null without grounding
    "ar_best": Value("float64"),
    "kl_best": Value("float64"),
    "js_best": Value("float64"),
    "box_miou": Value("float64"),
    "box_acc50": Value("float64"),
    "box_full_image_miou": Value("float64"),
    "box_mean_box_miou": Value("float64"),
    "breakdown": List(SLICE_FEATURES),
    # methods side by side (eval.methods.compare; null in a run with one method): percent, paired bootstrap
    "accuracy_ci95": List(Value("float64"), length=2),
    "difference_vs_baseline": Value("float64"),  # percentage points, paired (null on the baseline row)
    "difference_ci95": List(Value("float64"), length=2),
    "answers_changed": Value("int32"),  # answers that differ from the baseline's
    "n_compared": Value("int32"),  # samples answered by every method of the run (what the comparison uses)
    "bootstrap_resamples": Value("int32"),
    "bootstrap_seed": Value("int32"),
    "toolkit_version": Value("string"),
    "hardware": Value("string"),
    "date": Value("timestamp[ms, tz=UTC]"),  # Parquet has no seconds unit
    "command": Value("string"),
})

SAMPLE_FEATURES = Features({
    "run_id": Value("string"),
    "id": Value("string"),
    "index": Value("int32"),
    "modality": Value("string"),
    "question_type": Value("string"),
    "question": Value("string"),
    "answer": Value("string"),
    "options": List(Value("string")),
    "image": Image(),
    "width": Value("int32"),
    "height": Value("int32"),
    "boxes": List(List(Value("float32"), length=4)),  # internal xyxy on the stored image
    "grid": List(Value("int32"), length=2),  # (rows, cols) of the image-token grid
    "map_frame": List(Value("float32"), length=4),  # where the token grid lies on the stored image (xyxy)
    "best_layer": Value("int32"),
    "baseline_prediction": Value("string"),
    "baseline_correct": Value("bool"),
    "baseline_map": List(Value("float32")),  # normalised map (question / general), head mean, best layer
    "vgrefine_prediction": Value("string"),
    "vgrefine_correct": Value("bool"),
    "vgrefine_map": List(Value("float32")),  # VGRefine's triage map S (empty when the run had no VGRefine)
    "blocked_tokens": List(Value("int32")),  # flat indices row * cols + col
    "ar": Value("float64"),
    "kl": Value("float64"),
    "js": Value("float64"),
    "ar_per_layer": List(Value("float64")),
    "status": Value("string"),
})
