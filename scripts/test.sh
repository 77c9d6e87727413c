#!/usr/bin/env bash
# README command 2: install (once) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
KOGNER_WITH_BROWSER=1 bash scripts/setup_env.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
