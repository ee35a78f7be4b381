#!/usr/bin/env bash
# Creates .venv-models with torch (CPU), onnx and onnxruntime. Uses the machine's local wheel indexes
# when pip is configured with them (offline machines), the default index otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-models
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import torch, onnx, onnxruntime' 2>/dev/null; then
  echo "$VENV is ready" >&2
  exit 0
fi
python3 -m venv "$VENV"
args=()
index=$(pip config get global.extra-index-url 2>/dev/null || true)
if [ -n "$index" ]; then
  read -r -a urls <<<"$index"
  args+=(--index-url "${urls[0]}")
  for u in "${urls[@]:1}"; do args+=(--extra-index-url "$u"); done
fi
"$VENV/bin/pip" install --progress-bar off "${args[@]}" -r models/requirements.txt
