#!/usr/bin/env bash
# Create .venv and install the project and its test tools. Safe to run again.
# torch is installed first, pinned to the CPU build (any other spec pulls CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0
python -m pip install -q -c requirements.lock -e ".[app,eval,ingest,llm,mcp,milvus,test]"
# The browser tests need Debian's Chromium and a CJK font, the telemetry test strace
# (root only; skipped otherwise).
if [ "${RAG_SKIP_APT:-0}" != 1 ] && { [ ! -x /usr/bin/chromium ] || ! command -v strace >/dev/null \
     || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk strace >/dev/null
  else
    echo "note: install chromium and fonts-noto-cjk (apt) to run the browser tests" >&2
  fi
fi
