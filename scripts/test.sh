#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, real model and browser included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
# Two workers, one test module each at a time (module fixtures stay in one process):
# the suite waits on servers, browsers and child processes as much as it computes.
exec python -m pytest -q -n 2 --dist loadfile "$@"
