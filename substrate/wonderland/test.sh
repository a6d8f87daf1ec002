#!/usr/bin/env bash
# The reference substrate's tests (metric edge cases, generator determinism, a tiny end-to-end run).
set -euo pipefail
cd "$(dirname "$0")"
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests "$@"
