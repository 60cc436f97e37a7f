#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, real model and browser included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
exec python -m pytest -q "$@"
