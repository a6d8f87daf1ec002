import { createHmac } from 'node:crypto';
import { readTable, writeCsv } from './csv';

/**
 * The per-campaign seed of the hidden split: HMAC-SHA256(secret, campaignId), first 48 bits. The secret never
 * leaves the leaderboard process, so a sandbox cannot regenerate the split even if it knows the generator.
 */
export function deriveSecretSeed(secret: string, campaignId: string): number {
  if (secret.length < 16) throw new Error('leaderboard secret: expected at least 16 characters');
  return parseInt(createHmac('sha256', secret).update(`aevo-leaderboard:${campaignId}`).digest('hex').slice(0, 12), 16);
}

export interface HiddenRow {
  id: string;
  prompt: string;
  answer: string;
  domain: string;
}

/** Parses a generated public.csv/private.csv (id,prompt,answer,domain) and checks ids are unique. */
export function parseHiddenSplit(text: string, what: string): HiddenRow[] {
  const rows = readTable(text, ['id', 'prompt', 'answer', 'domain'], what).map((r) => ({
    id: r.id,
    prompt: r.prompt,
    answer: r.answer,
    domain: r.domain,
  }));
  if (rows.length === 0) throw new Error(`${what}: no rows`);
  const seen = new Set<string>();
  for (const r of rows) {
    if (!r.id) throw new Error(`${what}: a row has an empty id`);
    if (seen.has(r.id)) throw new Error(`${what}: duplicate id ${r.id}`);
    seen.add(r.id);
  }
  return rows;
}

/** The only file a predict job sees: ids and prompts of both halves, sorted by id so the halves do not show. */
export function promptsOnlyCsv(publicRows: HiddenRow[], privateRows: HiddenRow[]): string {
  const all = [...publicRows, ...privateRows];
  const ids = new Set<string>();
  for (const r of all) {
    if (ids.has(r.id)) throw new Error(`hidden split: id ${r.id} is in both halves`);
    ids.add(r.id);
  }
  const rows = all.map((r) => [r.id, r.prompt]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return writeCsv(['id', 'prompt'], rows);
}

/**
 * Checks predictions (id,answer) cover every prompt exactly once and splits them into the public and private
 * halves, each to be scored against its own answers. Errors name the first offending id.
 */
export function splitPredictions(
  text: string,
  publicIds: string[],
  privateIds: string[],
): { publicCsv: string; privateCsv: string } {
  const rows = readTable(text, ['id', 'answer'], 'predictions');
  const half = new Map<string, 'public' | 'private'>();
  for (const id of publicIds) half.set(id, 'public');
  for (const id of privateIds) half.set(id, 'private');
  const seen = new Set<string>();
  const pub: string[][] = [];
  const priv: string[][] = [];
  for (const r of rows) {
    const h = half.get(r.id);
    if (!h) throw new Error(`predictions: id ${JSON.stringify(r.id)} is not one of the prompts`);
    if (seen.has(r.id)) throw new Error(`predictions: id ${r.id} appears twice`);
    seen.add(r.id);
    (h === 'public' ? pub : priv).push([r.id, r.answer]);
  }
  const missing = [...half.keys()].filter((id) => !seen.has(id));
  if (missing.length) throw new Error(`predictions: ${missing.length} prompt(s) unanswered, first ${missing[0]}`);
  return { publicCsv: writeCsv(['id', 'answer'], pub), privateCsv: writeCsv(['id', 'answer'], priv) };
}
