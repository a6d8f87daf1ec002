#!/usr/bin/env node
// The hidden leaderboard split (run by the leaderboard service OUTSIDE any sandbox).
//   node harness/hidden_split.mjs (--secret-seed N | --secret-seed-file F) --out DIR
//     [--public-rows 600] [--private-rows 600]
// (the leaderboard passes the file: an argv shows in every user's process list)
// Writes public.csv and private.csv (id,prompt,answer,domain: the answer keys), prompts.csv (id,prompt of
// both halves in id order: what predict runs on) and split.json (counts, mix, sha256; not the seed).
// Its domain mix and equation variants differ from dev (lib/world.mjs HIDDEN_MIX, HIDDEN_VARIANTS).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, requireFlags, sha256File, writeCsv, writeJson } from '../lib/io.mjs';
import {
  DOMAINS,
  HIDDEN_MIX,
  HIDDEN_ROWS_PRIVATE,
  HIDDEN_ROWS_PUBLIC,
  HIDDEN_VARIANTS,
  hiddenRows,
} from '../lib/world.mjs';

const USAGE =
  'usage: hidden_split (--secret-seed N | --secret-seed-file F) --out DIR [--public-rows N] [--private-rows N]';
const flags = parseFlags(
  process.argv.slice(2),
  ['secret-seed', 'secret-seed-file', 'out', 'public-rows', 'private-rows'],
  USAGE,
);
requireFlags(flags, ['out'], USAGE);
if ((flags['secret-seed'] === undefined) === (flags['secret-seed-file'] === undefined)) {
  process.stderr.write(`hidden_split: give exactly one of --secret-seed and --secret-seed-file\n${USAGE}\n`);
  process.exit(2);
}
const seedText =
  flags['secret-seed-file'] !== undefined
    ? readFileSync(flags['secret-seed-file'], 'utf8').trim()
    : flags['secret-seed'];
if (!/^\d+$/.test(seedText)) {
  process.stderr.write(
    `hidden_split: the secret seed must be a non-negative integer, got ` +
      `${
        flags['secret-seed-file'] !== undefined
          ? `the contents of ${flags['secret-seed-file']}`
          : JSON.stringify(seedText)
      }\n`,
  );
  process.exit(2);
}
const split = hiddenRows(
  Number(seedText),
  Number(flags['public-rows'] ?? HIDDEN_ROWS_PUBLIC),
  Number(flags['private-rows'] ?? HIDDEN_ROWS_PRIVATE),
);
const fields = ['id', 'prompt', 'answer', 'domain'];
writeCsv(join(flags.out, 'public.csv'), split.public, fields);
writeCsv(join(flags.out, 'private.csv'), split.private, fields);
const all = [...split.public, ...split.private].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
writeCsv(join(flags.out, 'prompts.csv'), all, ['id', 'prompt']);
const count = (rows) => Object.fromEntries(DOMAINS.map((d) => [d, rows.filter((r) => r.domain === d).length]));
writeJson(join(flags.out, 'split.json'), {
  public: { n: split.public.length, domains: count(split.public) },
  private: { n: split.private.length, domains: count(split.private) },
  mix: HIDDEN_MIX,
  variants: HIDDEN_VARIANTS,
  sha256: Object.fromEntries(
    ['public.csv', 'private.csv', 'prompts.csv'].map((f) => [f, sha256File(join(flags.out, f))]),
  ),
});
process.stdout.write(`hidden split: public=${split.public.length} private=${split.private.length} -> ${flags.out}\n`);
