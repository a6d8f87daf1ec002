import type { ClientBase } from 'pg';
import { chainLink, eventContentHash, GENESIS_CHAIN_HASH, metadataHash } from '../chain/chain';
import { EVENT_COLUMNS, rowToStoredEvent, type EventRow } from './rows';
import type { SchemaNames } from './schema';

/**
 * Migration 2's data step: chains the rows stored before the chain existed, once, in position order, under the
 * append lock (no append interleaves), and records how far it went in chain_origin. The append-only trigger is
 * lifted for this transaction only; the rows' events are not changed, only their two hash columns filled.
 */
export async function backfillChain(client: ClientBase, n: SchemaNames): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [n.appendLockKey]);
  const head = Number(
    (await client.query<{ p: string }>(`SELECT coalesce(max(position), 0) AS p FROM ${n.events}`)).rows[0].p,
  );
  if (head === 0) return;
  await client.query(`ALTER TABLE ${n.events} DISABLE TRIGGER events_append_only`);
  let previous = GENESIS_CHAIN_HASH;
  for (let from = 0; from < head;) {
    const rows = (
      await client.query<EventRow & { metadata: unknown }>(
        `SELECT ${EVENT_COLUMNS}, metadata FROM ${n.events} WHERE position > $1 ORDER BY position LIMIT 5000`,
        [from],
      )
    ).rows;
    if (rows.length === 0) break;
    const positions: string[] = [];
    const contents: string[] = [];
    const links: string[] = [];
    for (const r of rows) {
      const e = rowToStoredEvent(r);
      const content = eventContentHash(e);
      previous = chainLink(previous, e.position, e.streamVersion, content, metadataHash(r.metadata));
      positions.push(r.position);
      contents.push(content);
      links.push(previous);
    }
    await client.query(
      `UPDATE ${n.events} AS t SET content_hash = u.c, chain_hash = u.l FROM unnest($1::bigint[], ` +
        `$2::text[], $3::text[]) AS u(p, c, l) WHERE t.position = u.p`,
      [positions, contents, links],
    );
    from = Number(rows[rows.length - 1].position);
  }
  await client.query(`ALTER TABLE ${n.events} ENABLE TRIGGER events_append_only`);
  await client.query(
    `INSERT INTO "${n.schema}".chain_origin (id, retroactive_through) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`,
    [head],
  );
}
