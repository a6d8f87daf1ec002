#!/usr/bin/env bash
# The one test command (npm test): set-up, build, lint, every jest project, substrate tests, end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh clone, or a lockfile changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash tools/ensure-infra.sh
bash tools/setup-system.sh
npx nx run-many -t build lint --parallel=2 --outputStyle=static
node tools/gen-schemas.js --check
npx prettier --check '{libs,services,test,bench,tools}/**/*.{ts,js,mjs,cjs}' '*.{js,mjs}' >/dev/null || {
  npx prettier --list-different '{libs,services,test,bench,tools}/**/*.{ts,js,mjs,cjs}' '*.{js,mjs}'
  echo 'formatting differs from Prettier: npm run format' >&2
  exit 1
}
npx tsc -p tsconfig.typecheck.json   # every project's sources, specs, e2e/chaos suites and benches
npx nx run-many -t test --parallel=2 --outputStyle=static
if [ -d substrate/simulated/test ]; then node --test substrate/simulated/test/; fi
if [ -x substrate/wonderland/test.sh ]; then bash substrate/wonderland/test.sh; fi
# Cross-service suites, one at a time: test/e2e, then test/chaos (its own PostgreSQL and nats-server; ~11-15 min).
if [ -f test/jest.config.js ]; then npx jest -c test/jest.config.js --runInBand; fi
