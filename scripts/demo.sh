#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs the main job (`vgmed demo`) on data that needs no download.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/vgmed demo --out "${1:-demo-out}"
