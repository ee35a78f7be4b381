#!/usr/bin/env bash
# Regenerates the shipped model from scratch: venv, training, pruning, export, then the accuracy profile.
#   npm run models:build            # resumes from models/.work checkpoints when present
#   npm run models:build -- --fresh # retrain everything
set -euo pipefail
cd "$(dirname "$0")/.."
bash models/setup-venv.sh
(cd models && ../.venv-models/bin/python -m jmdc_models.pipeline --config full "$@")
npx jmdc profile --model fmnist-vgg16
