#!/usr/bin/env bash
# Installs everything jmdc needs on a fresh Debian machine: the Fashion-MNIST package, the npm
# workspaces (onnxruntime-node without its CUDA download) and the Python venv of the model pipeline.
# Safe to re-run; each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  step "apt: dataset-fashion-mnist"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "dataset-fashion-mnist is missing; run: sudo apt-get install -y dataset-fashion-mnist" >&2
    exit 1
  fi
fi

# CI renders the demo's HTML report in headless Chromium (the test says why it skips without it)
if [ "${CI:-}" = "true" ] && [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
  step "apt: chromium (CI: the demo report render test)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
fi

step "npm ci"
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund

step "python venv for the model pipeline (.venv-models)"
bash models/setup-venv.sh
