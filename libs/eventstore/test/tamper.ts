import { seededRandom } from '@aevo/contracts';
import type { Client } from 'pg';

/** Every column of the row that a DBA could edit, as text, and how to write it back. */
const COLUMNS: Array<[string, string]> = [
  ['stream_id', 'text'],
  ['stream_version', 'bigint'],
  ['event_id', 'uuid'],
  ['type', 'text'],
  ['schema_version', 'integer'],
  ['campaign_id', 'text'],
  ['causation_id', 'text'],
  ['source', 'text'],
  ['data', 'jsonb'],
  ['metadata', 'jsonb'],
  ['time', 'text'],
  ['content_hash', 'text'],
  ['chain_hash', 'text'],
];

/**
 * Flips one bit of one byte of one column of the row at `position`, with the append-only trigger lifted as a DBA
 * would; retries other bytes while the result is not a valid value for the column. Returns an undo.
 */
export async function flipOneByte(
  raw: Client,
  schema: string,
  position: number,
  rnd: () => number,
): Promise<{ column: string; undo: () => Promise<void> }> {
  const table = `"${schema}".events`;
  for (let attempt = 0; attempt < 500; attempt++) {
    const [column, type] = COLUMNS[Math.floor(rnd() * COLUMNS.length)];
    const { rows } = await raw.query<{ v: string | null }>(
      `SELECT ${column}::text AS v FROM ${table} WHERE position = $1`,
      [position],
    );
    const before = rows[0]?.v;
    if (before === null || before === undefined) continue;
    const bytes = Buffer.from(before, 'utf8');
    const at = Math.floor(rnd() * bytes.length);
    bytes[at] ^= 1 << Math.floor(rnd() * 7);
    const after = bytes.toString('utf8');
    if (after === before || after.includes('\uFFFD')) continue;
    await raw.query(`ALTER TABLE ${table} DISABLE TRIGGER events_append_only`);
    try {
      const res = await raw.query(
        `UPDATE ${table} SET ${column} = $1::${type} WHERE position = $2 AND ${column}::text IS DISTINCT ` +
          `FROM $1::${type}::text`,
        [after, position],
      );
      if (res.rowCount !== 1) continue;
    } catch {
      continue; // not a valid value (or a unique key taken): try another byte
    } finally {
      await raw.query(`ALTER TABLE ${table} ENABLE TRIGGER events_append_only`);
    }
    return {
      column,
      undo: async () => {
        await raw.query(`ALTER TABLE ${table} DISABLE TRIGGER events_append_only`);
        await raw.query(`UPDATE ${table} SET ${column} = $1::${type} WHERE position = $2`, [before, position]);
        await raw.query(`ALTER TABLE ${table} ENABLE TRIGGER events_append_only`);
      },
    };
  }
  throw new Error(`could not flip a byte at position ${position}`);
}

/** The control plane's seeded generator, so a failing draw can be replayed from the printed seed. */
export const seeded = seededRandom;
