#!/usr/bin/env bash
# Create (or refresh) a virtual environment with the project installed.
# usage: scripts/setup_venv.sh VENV EXTRAS      e.g. scripts/setup_venv.sh .venv local,metrics
# torch comes first from torch==2.13.0 (a CPU wheel where available); constraints.txt keeps
# every later resolver step from swapping it for a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
extras="${2:-all}"
stamp="$venv/.metasynth-installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)-${extras//,/_}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
if [ ! -f "$stamp" ]; then
  echo "setting up $venv with extras [$extras] (first time: ~10 minutes, llama-cpp-python compiles)" >&2
  "$venv/bin/pip" install --quiet -c constraints.txt torch==2.13.0
  "$venv/bin/pip" install --quiet -c constraints.txt -e ".[$extras]"
  touch "$stamp"
else
  # A cached venv may point at another clone: re-link the editable install (no downloads).
  "$venv/bin/pip" install --quiet --no-deps --no-build-isolation -e .
fi
