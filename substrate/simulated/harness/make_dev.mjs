#!/usr/bin/env node
// Regenerate the frozen dev split from its public seed:  node harness/make_dev.mjs [--check]
import { readFileSync } from 'node:fs';
import { DEV_CSV } from '../lib/common.mjs';
import { writeCsv } from '../lib/io.mjs';
import { devRows } from '../lib/world.mjs';

const check = process.argv.includes('--check');
const tmp = `${DEV_CSV}.fresh`;
writeCsv(check ? tmp : DEV_CSV, devRows(), ['id', 'prompt', 'answer']);
if (check) {
  const same = readFileSync(tmp, 'utf8') === readFileSync(DEV_CSV, 'utf8');
  (await import('node:fs')).unlinkSync(tmp);
  process.stdout.write(same ? 'dev split: up to date\n' : 'dev split: STALE\n');
  process.exit(same ? 0 : 1);
}
process.stdout.write(`wrote ${DEV_CSV}\n`);
