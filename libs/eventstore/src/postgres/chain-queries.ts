import type { Pool } from 'pg';
import {
  GENESIS_CHAIN_HASH,
  eventContentHash,
  verifyChainRows,
  type ChainFinding,
  type ChainLinkRow,
  type ChainReport,
} from '../chain/chain';
import type { StoredEventLink } from '../port';
import { EVENT_COLUMNS, rowToStoredEvent, type EventRow } from './rows';
import type { SchemaNames } from './schema';

/** Event ids as PostgreSQL renders a uuid. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Recomputes the hash chain over positions 1..upTo and returns every break, the first one first. Reads pages of
 * `pageSize` rows (default 5000).
 */
export async function verifyStoredChain(
  pool: Pool,
  names: SchemaNames,
  upTo: number,
  pageSize = 5000,
): Promise<ChainReport> {
  const origin = await pool.query<{ retroactive_through: string; chained_at: Date }>(
    `SELECT retroactive_through, chained_at FROM "${names.schema}".chain_origin WHERE id = 1`,
  );
  const findings: ChainFinding[] = [];
  const state = { previous: GENESIS_CHAIN_HASH, nextPosition: 1 };
  let checked = 0;
  for (let from = 0; from < upTo;) {
    const res = await pool.query<
      EventRow & { metadata: unknown; content_hash: string | null; chain_hash: string | null }
    >(
      `SELECT ${EVENT_COLUMNS}, metadata, content_hash, chain_hash FROM ${names.events} WHERE position > ` +
        `$1 AND position <= $2 ORDER BY position LIMIT $3`,
      [from, upTo, pageSize],
    );
    if (res.rows.length === 0) break;
    verifyChainRows(
      res.rows.map((r) => ({
        event: rowToStoredEvent(r),
        metadata: r.metadata,
        contentHash: r.content_hash,
        chainHash: r.chain_hash,
      })),
      state,
      findings,
    );
    checked += res.rows.length;
    from = Number(res.rows[res.rows.length - 1].position);
  }
  if (state.nextPosition <= upTo)
    findings.push({ position: state.nextPosition, reason: `positions ${state.nextPosition}..${upTo} are missing` });
  const o = origin.rows[0];
  return {
    checked,
    upTo,
    retroactiveThrough: o ? Number(o.retroactive_through) : 0,
    chainedAt: o ? o.chained_at.toISOString() : null,
    findings,
  };
}

/** Position, event id and the recorded hashes of positions after `fromPosition`, in order (for comparing copies). */
export async function readStoredChainLinks(
  pool: Pool,
  names: SchemaNames,
  fromPosition: number,
  limit: number,
): Promise<ChainLinkRow[]> {
  const res = await pool.query<{
    position: string;
    event_id: string;
    content_hash: string | null;
    chain_hash: string | null;
  }>(
    `SELECT position, event_id, content_hash, chain_hash FROM ${names.events} WHERE position > $1 ORDER ` +
      `BY position LIMIT $2`,
    [fromPosition, limit],
  );
  return res.rows.map((r) => ({
    position: Number(r.position),
    id: r.event_id,
    contentHash: r.content_hash,
    chainHash: r.chain_hash,
  }));
}

/** One indexed read (events_event_id_key) for the whole batch; ids that cannot be uuids are simply not stored. */
export async function lookupStoredEventLinks(
  pool: Pool,
  names: SchemaNames,
  eventIds: readonly string[],
): Promise<Map<string, StoredEventLink>> {
  const out = new Map<string, StoredEventLink>();
  const ids = [...new Set(eventIds.filter((id) => UUID.test(id)))];
  if (ids.length === 0) return out;
  const res = await pool.query<EventRow & { content_hash: string | null }>(
    `SELECT ${EVENT_COLUMNS}, content_hash FROM ${names.events} WHERE event_id = ANY($1::uuid[])`,
    [ids],
  );
  for (const r of res.rows) {
    const event = rowToStoredEvent(r);
    // Every row has its hash since the chain migration; computing it from the row covers a store mid-migration.
    out.set(event.id, {
      position: event.position,
      streamVersion: event.streamVersion,
      contentHash: r.content_hash ?? eventContentHash(event),
    });
  }
  return out;
}
