import type { PoolClient } from 'pg';
import type { StoredEvent } from '../port';
import type { PostgresEventStore } from '../postgres/postgres-event-store';
import type { RelayLogger } from './relay-common';

/** What the relay needs of a stored event: header fields and the serialised body. */
export type OutboxRow = Pick<
  StoredEvent,
  'position' | 'streamVersion' | 'id' | 'type' | 'streamId' | 'campaignId' | 'source' | 'time'
> & {
  payload: string;
  /** W3C trace context recorded with the append (metadata), copied onto the message headers. */
  traceparent: string | null;
  tracestate: string | null;
};

/**
 * Reads the next events with their message body already serialised by PostgreSQL (json_build_object keeps the
 * key order of relayPayload), so the relay neither parses nor re-serialises `data`.
 */
export async function readOutbox(store: PostgresEventStore, after: number, limit: number): Promise<OutboxRow[]> {
  const res = await store.pool.query<{
    position: string;
    stream_version: string;
    event_id: string;
    type: string;
    stream_id: string;
    campaign_id: string;
    source: string;
    time: string;
    payload: string;
    traceparent: string | null;
    tracestate: string | null;
  }>(
    `SELECT position, stream_version, event_id, type, stream_id, campaign_id, source, time,
            metadata->>'traceparent' AS traceparent, metadata->>'tracestate' AS tracestate,
            json_build_object('id', event_id, 'type', type, 'schemaVersion', schema_version, 'streamId', stream_id,
              'campaignId', campaign_id, 'causationId', causation_id, 'correlationId', correlation_id, 'time', time,
              'source', source, 'data', data, 'position', position, 'streamVersion', stream_version)::text AS payload
       FROM ${store.names.events} WHERE position > $1 ORDER BY position LIMIT $2`,
    [after, limit],
  );
  return res.rows.map((r) => ({
    position: Number(r.position),
    streamVersion: Number(r.stream_version),
    id: r.event_id,
    type: r.type,
    streamId: r.stream_id,
    campaignId: r.campaign_id,
    source: r.source as StoredEvent['source'],
    time: r.time,
    payload: r.payload,
    traceparent: r.traceparent,
    tracestate: r.tracestate,
  }));
}

/** Monitoring only (resume never trusts it): written at most once a second, without waiting for the WAL flush. */
export async function saveRelayCheckpoint(
  store: PostgresEventStore,
  stream: string,
  position: number,
  log: RelayLogger,
): Promise<void> {
  let client: PoolClient | null = null;
  try {
    client = await store.pool.connect();
    await client.query('BEGIN');
    await client.query('SET LOCAL synchronous_commit = off');
    await client.query(
      `INSERT INTO ${store.names.relayCheckpoints} (name, position, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
      [stream, position],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client?.query('ROLLBACK').catch(() => undefined);
    log('warn', 'could not save the monitoring checkpoint', { error: String(err) });
  } finally {
    client?.release();
  }
}
