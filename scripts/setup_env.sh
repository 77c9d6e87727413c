#!/usr/bin/env bash
# Create the project's virtual environment (.venv) and install KoGNER into it, once.
# torch==2.13.0 goes in first: on these machines it is a local CPU wheel, while an unpinned torch
# (asked for by a dependency) would pull gigabytes of CUDA packages. Re-running is a no-op until
# setup.cfg or pyproject.toml change.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${KOGNER_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.kogner-installed"
want="$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "[setup] installing torch==2.13.0 (CPU) and kogner[dev] into $VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
  "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
else
  echo "[setup] $VENV is up to date"
fi
# The demo's browser test (tests/test_app.py) drives Debian's Chromium headless; no browser download.
if [ "${KOGNER_WITH_BROWSER:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing Debian's chromium for the demo test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "[setup] chromium is missing and cannot be installed here (needs root and apt-get); tests/test_app.py will fail" >&2
  fi
fi
