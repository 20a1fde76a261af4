#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs the whole test suite.
# The test session itself starts the real servers it needs (Label Studio in its own virtual environment,
# the Hub-compatible test server on 127.0.0.1, headless chromium); see tests/conftest.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
