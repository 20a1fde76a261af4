#!/usr/bin/env bash
# Builds a runnable lmms-eval 0.7.3 environment with vgmed-data in it, on the CPU torch 2.13.0.
#   scripts/lmms_eval_env.sh VENV [VGMED_DATA_SOURCE]     (source: a checkout or a wheel; default: this checkout)
# Why each step (docs/evaluation.md, "Running the tasks in lmms-eval"):
# - torch==2.13.0 first and as a constraint: lmms-eval declares torchvision, whose PyPI builds replace a CPU
#   torch with a CUDA build (GB) or fail to import beside it; nothing below may change torch.
# - lmms-eval itself with --no-deps: it declares ~50 packages (torchvision, wandb, openai, spacy...); the CLI,
#   the task manager, the from_log and llava_hf models import only the list below (decord: llava_hf and the
#   simple Qwen models import it at module level; av below 16, lmms-eval's own pin, because gemma3 and other
#   models import lmms_eval.models.model_utils.load_video, which imports av at module level).
# - filelock below 4: filelock 4.x breaks lmms-eval's evaluator ("No module named 'filelock._api'").
# Qwen models in lmms-eval additionally need torchvision (qwen_vl_utils imports it; transformers' Qwen-VL
# processors need a torchvision video processor): not installable beside this torch, so not here.
set -euo pipefail
VENV=${1:?usage: lmms_eval_env.sh VENV [VGMED_DATA_SOURCE]}
SOURCE=${2:-$(cd "$(dirname "$0")/.." && pwd)}
PYTHON=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
CONSTRAINTS=$(mktemp)
trap 'rm -f "$CONSTRAINTS"' EXIT
printf 'torch==2.13.0\nfilelock<4\n' > "$CONSTRAINTS"
install() { "$VENV/bin/python" -m pip install -q "$@"; }
install --upgrade pip
install torch==2.13.0
install -c "$CONSTRAINTS" transformers accelerate datasets evaluate sacrebleu loguru tenacity pytz pyyaml jinja2 \
  pillow pydantic pytablewriter decord "av<16" "setuptools>=68"
install --no-deps lmms-eval==0.7.3
install -c "$CONSTRAINTS" "$SOURCE"
"$VENV/bin/python" -c "import torch, lmms_eval, vgmed_data; assert torch.__version__.startswith('2.13.0')"
echo "lmms-eval 0.7.3 environment ready: $VENV/bin/python -m lmms_eval eval ..."
