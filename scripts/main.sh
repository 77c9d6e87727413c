#!/usr/bin/env bash
# README command 1: install (once), then run the whole KoGNER pipeline on the embedded KG.
# Arguments are passed to `kogner main` (e.g. --max-steps 1000, --benchmark NCBI=PATH --labels NCBI=Disease:disease).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/kogner main "$@"
