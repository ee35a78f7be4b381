#!/usr/bin/env bash
# Regenerates the shipped model from scratch: venv, training, pruning, export, then the accuracy profile.
#   npm run models:build            # resumes from models/.work checkpoints when present
#   npm run models:build -- --fresh # retrain everything
set -euo pipefail
cd "$(dirname "$0")/.."
bash models/setup-venv.sh
(cd models && ../.venv-models/bin/python -m jmdc_models.pipeline --config full "$@")
# the shipped profile uses the first 2,000 val and 2,000 test images (the whole splits take ~3.5 h on 2 cores)
npm run profile -- --model fmnist-vgg16 --limit 2000 --threads 2 --fresh
