#!/usr/bin/env bash
# Idempotent set-up of the reference substrate (called by CI and tools/test-all.sh).
# 1. Debian's python3 with torch, yaml and pytest (never the pyenv python3 first on PATH).
# 2. The frozen dev split and base checkpoint: both are committed; they are rebuilt deterministically
#    only when missing (the base is then re-trained from its seed, which takes a few minutes).
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3

if ! "$PY" -c 'import torch, yaml, pytest' >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y python3-torch libopenblas0-pthread python3-yaml python3-pytest
fi

if [ ! -f data/dev.csv ]; then
  "$PY" -m harness.make_dev
fi

if [ ! -f base/checkpoint.pt ]; then
  echo "base checkpoint missing: building it (deterministic, seeded; a few minutes on 2 cores)"
  "$PY" -m model.make_base
fi
"$PY" -m model.make_base --check ||
  echo "note: base/checkpoint.pt differs from the sha256 recorded in base/checkpoint.json" \
    "(rebuilt on another machine?)"
