#!/usr/bin/env bash
# Build the llama-cpp-python wheel once (portable CPU build) and cache it under $AMPERE_HOME/wheels.
# Progress goes to stderr; the last line on stdout is the wheel's path (the Makefile installs it).
set -euo pipefail

LLAMACPP_VERSION="${LLAMACPP_VERSION:-0.3.36}"
AMPERE_HOME="${AMPERE_HOME:-$HOME/.cache/ampere}"
WHEEL_DIR="$AMPERE_HOME/wheels"
PYTHON="${PYTHON:-$AMPERE_HOME/venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"

find_wheel() {
  ls -1 "$WHEEL_DIR"/llama_cpp_python-"$LLAMACPP_VERSION"-*.whl 2>/dev/null | head -n 1
}

mkdir -p "$WHEEL_DIR"
wheel="$(find_wheel || true)"
if [ -z "$wheel" ]; then
  echo "building llama-cpp-python $LLAMACPP_VERSION from source (several minutes) ..." >&2
  # Portable CPU build: no -march=native, no GPU backends, no OpenMP pinning surprises.
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF}"
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
  export FORCE_CMAKE=1
  "$PYTHON" -m pip wheel "llama-cpp-python==$LLAMACPP_VERSION" --no-deps --no-binary llama-cpp-python \
    -w "$WHEEL_DIR" >&2
  wheel="$(find_wheel || true)"
  [ -n "$wheel" ] || { echo "error: the build finished but no wheel is in $WHEEL_DIR" >&2; exit 1; }
else
  echo "cached: $wheel" >&2
fi
echo "$wheel"
