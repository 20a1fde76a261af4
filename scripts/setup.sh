#!/usr/bin/env bash
# Creates .venv (if needed) and installs vgmed-data with every extra and the test tools.
# torch is named as torch==2.13.0 first: any other spec would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[annotation,eval,idc,test]"
echo "setup: .venv ready ($(.venv/bin/python -c 'import vgmed_data, sys; print(sys.version.split()[0])'))"
