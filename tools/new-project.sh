#!/usr/bin/env bash
# Scaffolds a workspace project: tools/new-project.sh libs|services <name> [dep ...]
# Creates package.json (build/test/lint scripts inferred by Nx), tsconfig, jest config and src/index.ts.
set -euo pipefail
kind=$1; name=$2; shift 2
dir="$(cd "$(dirname "$0")/.." && pwd)/$kind/$name"
mkdir -p "$dir/src"
deps=""
for d in "$@"; do deps="$deps\"@aevo/$d\": \"*\","; done
deps="${deps%,}"
main=index
[ "$kind" = services ] && main=main
cat > "$dir/package.json" <<JSON
{
  "name": "@aevo/$name",
  "version": "0.1.0",
  "private": true,
  "main": "dist/$main.js",
  "types": "dist/$main.d.ts",
  "scripts": {
    "build": "tsc -p tsconfig.build.json",
    "test": "jest",
    "lint": "eslint src"
  },
  "dependencies": { $deps }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "noEmit": true },
  "include": ["src/**/*.ts", "test/**/*.ts"]
}
JSON
cat > "$dir/tsconfig.build.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "outDir": "dist", "rootDir": "src", "types": ["node"], "paths": {} },
  "include": ["src/**/*.ts"],
  "exclude": ["src/**/*.spec.ts", "src/**/*.test.ts"]
}
JSON
cat > "$dir/jest.config.js" <<JS
module.exports = { ...require('../../jest.preset.js'), displayName: '$name', rootDir: __dirname };
JS
[ -f "$dir/src/$main.ts" ] || echo "export {};" > "$dir/src/$main.ts"
echo "scaffolded $kind/$name"
