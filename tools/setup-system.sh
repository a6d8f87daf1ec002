#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, when missing (idempotent; a fresh machine has none).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi
if [ -x substrate/wonderland/setup.sh ]; then bash substrate/wonderland/setup.sh; fi
