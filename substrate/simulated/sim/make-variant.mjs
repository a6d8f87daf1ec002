#!/usr/bin/env node
// BENCHMARK-ONLY: make a surface variant of this substrate (the control plane never calls it).
//   node sim/make-variant.mjs --variant late-decoupling|noisy-public --out DIR
// Copies this substrate directory (everything, as it is on disk) into DIR (absent or empty) and writes
// DIR/lib/variant.json naming the variant (a frozen file there: lib/** is frozen).  DIR is a complete
// substrate the control plane can register and fork; lib/variant.mjs holds the variants' definitions.
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ROOT } from '../lib/common.mjs';
import { fail, parseFlags, requireFlags, writeJson } from '../lib/io.mjs';
import { VARIANT_DEFS } from '../lib/variant.mjs';

const USAGE = `usage: make-variant --variant ${Object.keys(VARIANT_DEFS).join('|')} --out DIR`;
const flags = parseFlags(process.argv.slice(2), ['variant', 'out'], USAGE);
requireFlags(flags, ['variant', 'out'], USAGE);
const def = VARIANT_DEFS[flags.variant];
if (!def) fail(`unknown variant ${flags.variant}\n${USAGE}`);
const out = resolve(flags.out);
const rel = relative(ROOT, out);
if (!rel.startsWith('..') && !isAbsolute(rel)) fail(`--out must be outside the substrate directory ${ROOT}`);
if (existsSync(out) && readdirSync(out).length) fail(`${out} exists and is not empty`);
cpSync(ROOT, out, { recursive: true });
writeJson(join(out, 'lib', 'variant.json'), {
  variant: flags.variant,
  description: def.description,
  definition: 'lib/variant.mjs',
});
process.stdout.write(`make-variant: ${flags.variant} -> ${out}\n`);
