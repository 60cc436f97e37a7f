#!/usr/bin/env bash
# Fresh machine to chat page: set up, build the seed index (converting the bundled
# model on first use), then serve http://127.0.0.1:7860 (see docs/page.md for flags).
set -euo pipefail
cd "$(dirname "$0")/.."
RAG_SKIP_APT=1 bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
rag model >/dev/null  # convert the bundled model and export it to ONNX (once; torch is needed only here)
rag index --corpus seeds --out index
exec python app.py "$@"
