#!/usr/bin/env bash
# Create (or refresh) a virtual environment with the project installed.
# usage: scripts/setup_venv.sh VENV EXTRAS      e.g. scripts/setup_venv.sh .venv local,metrics
#
# torch comes first from torch==2.13.0 (a CPU wheel where available); constraints.txt keeps
# every later resolver step from swapping it for a CUDA build.
# llama-cpp-python compiles from source (C/C++ compiler + cmake, ~5 minutes on 2 cores). Its
# wheel is built once into a wheelhouse that every venv shares (demo, tests, CI). The flags:
# - any x86-64 CPU with AVX2, and none of llama.cpp's AMX kernels, which crashed (SIGSEGV in
#   ggml_backend_amx_mul_mat) on machines that report AMX;
# - no OpenMP: the embedded engine decodes on a worker thread, where OpenMP ran 3.7x slower;
# - no llamafile sgemm: its kernels are picked by batch shape, so a reply changed with what
#   else shared its batch; without them each row is computed the same way (~13% slower prefill).
# Set CMAKE_ARGS to choose other flags; the wheelhouse is keyed by them.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
extras="${2:-all}"
quiet=(--quiet --disable-pip-version-check)
stamp="$venv/.metasynth-installed-$(cat pyproject.toml constraints.txt scripts/setup_venv.sh | sha256sum | cut -c1-16)-${extras//,/_}"

llama_version=$(sed -n 's/^llama-cpp-python==//p' constraints.txt)
if [ -z "${CMAKE_ARGS:-}" ] && [ "$(uname -m)" = x86_64 ]; then
  export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_OPENMP=OFF -DGGML_LLAMAFILE=OFF"
fi
wheelhouse="${METASYNTH_WHEELHOUSE:-$HOME/.cache/metasynth-hf/wheels}/llama-cpp-python-$llama_version-$(echo "${CMAKE_ARGS:-}" | sha256sum | cut -c1-12)"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install "${quiet[@]}" --upgrade pip
fi
if [ -f "$stamp" ]; then
  # A cached venv may point at another clone: re-link the editable install (no downloads).
  "$venv/bin/pip" install "${quiet[@]}" --no-deps --no-build-isolation -e . 2>/dev/null
  exit 0
fi
started=$(date +%s)
if [[ ",$extras," =~ ,(all|local|metrics|server), ]] && ! ls "$wheelhouse"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $llama_version once into $wheelhouse (C++ build: ~5 minutes on 2 cores)" >&2
  mkdir -p "$wheelhouse"
  "$venv/bin/pip" wheel "${quiet[@]}" --no-deps --no-cache-dir -w "$wheelhouse.tmp" "llama-cpp-python==$llama_version"
  mv "$wheelhouse.tmp"/llama_cpp_python-*.whl "$wheelhouse"/ && rm -rf "$wheelhouse.tmp"
fi
echo "setting up $venv with extras [$extras]" >&2
"$venv/bin/pip" install "${quiet[@]}" -c constraints.txt torch==2.13.0
# The editable-install banner of setuptools goes to the log, not the screen.
"$venv/bin/pip" install "${quiet[@]}" --find-links "$wheelhouse" -c constraints.txt -e ".[$extras]" \
  >"$venv/pip-install.log" 2>&1 || { tail -30 "$venv/pip-install.log" >&2; exit 1; }
touch "$stamp"
echo "set up $venv in $(( $(date +%s) - started )) s" >&2
