#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, when missing (idempotent; a fresh machine has none).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
# Every job runs in a bubblewrap sandbox (libs/executors/src/isolation); prlimit and setpriv come with util-linux.
[ -x /usr/bin/bwrap ] || need+=(bubblewrap)
command -v prlimit >/dev/null && command -v setpriv >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi
if [ -x substrate/wonderland/setup.sh ]; then bash substrate/wonderland/setup.sh; fi
