#!/usr/bin/env bash
# Regenerates the shipped model from scratch: venv, training, pruning, export, then the accuracy profile.
#   npm run models:build            # resumes from models/.work checkpoints when present
#   npm run models:build -- --fresh # retrain everything
set -euo pipefail
cd "$(dirname "$0")/.."
bash models/setup-venv.sh
(cd models && ../.venv-models/bin/python -m jmdc_models.pipeline --config full "$@")
# the shipped profile: the grid on the first 1,000 val and 1,000 test images (the whole splits would take hours
# on 2 cores), then --confirm re-measures the rows the planner can pick on all 5,000 val and 10,000 test images
# (after retraining only the learned bottlenecks, the same line with --bottlenecks-only in place of --fresh keeps
# the plain rows of profile.json, which records the blocksHash they were made with, and redoes the bottleneck rows)
npm run profile -- --model fmnist-vgg16 --limit 1000 --threads 2 --fresh --confirm \
  --keeps 1,0.5,0.25 --bits 8,6,4,2 --tensor-bits 4,2,1
