#!/usr/bin/env bash
# Baseline noise band, recipe variants (dev / public / private LB) and timing of the reference substrate.
#   bench/substrate/measure.sh SECRET_SEED [measure.py flags...]    e.g. bench/substrate/measure.sh 424242 --seeds 5
# Long (several candidates of ~1-2 minutes each): run it under nohup. Writes bench/substrate/results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECRET="${1:?usage: measure.sh SECRET_SEED [flags]}"
shift
mkdir -p bench/substrate/results
exec /usr/bin/python3 bench/substrate/measure.py --secret-seed "$SECRET" \
  --json bench/substrate/results/wonderland.json --markdown bench/substrate/results/wonderland.md "$@"
