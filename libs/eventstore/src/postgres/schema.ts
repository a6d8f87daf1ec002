import type { ClientBase } from 'pg';
import { backfillChain } from './backfill-chain';
import { chainedAppendGroupSql } from './chained-append-group';

/** Lowercase SQL identifier; short enough that `<schema>_events` still fits PostgreSQL's 63-byte channel names. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema))
    throw new Error(
      `invalid event store schema name "${schema}": expected a lowercase SQL identifier (letters, digits, ` +
        `"_"; at most 48 characters)`,
    );
}

/** Names derived from the schema; the schema is validated, so interpolating them into SQL is safe. */
export interface SchemaNames {
  schema: string;
  events: string;
  commands: string;
  relayCheckpoints: string;
  /** Applies a group of appends in one transaction (see the function's comment). */
  appendGroupFn: string;
  /** LISTEN/NOTIFY channel that carries the head position after each append. */
  channel: string;
  /** Advisory lock keys (strings hashed by PostgreSQL's hashtext). */
  appendLockKey: string;
  migrateLockKey: string;
}

export function schemaNames(schema: string): SchemaNames {
  assertSchemaName(schema);
  return {
    schema,
    events: `"${schema}".events`,
    commands: `"${schema}".commands`,
    relayCheckpoints: `"${schema}".relay_checkpoints`,
    appendGroupFn: `"${schema}".append_group`,
    channel: `${schema}_events`,
    appendLockKey: `aevo-eventstore-append:${schema}`,
    migrateLockKey: `aevo-eventstore-migrate:${schema}`,
  };
}

/** SQLSTATE raised by the append-only triggers. */
export const SQLSTATE_APPEND_ONLY = 'AEV01';

interface Migration {
  version: number;
  description: string;
  sql: (n: SchemaNames) => string;
  /** Runs after the SQL, in the same transaction (work PostgreSQL cannot do alone). */
  after?: (client: ClientBase, n: SchemaNames) => Promise<void>;
}

/**
 * Ordered, each idempotent on its own (IF NOT EXISTS / OR REPLACE), and recorded in schema_migrations so that a
 * later migration runs once. All run in one transaction under an advisory lock: concurrent starters queue up
 * instead of racing on the catalog.
 */
const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'events, commands, relay checkpoints, append-only triggers, append_group',
    sql: (n) => `
CREATE TABLE IF NOT EXISTS ${n.events} (
  position        bigint      NOT NULL,
  stream_id       text        NOT NULL,
  stream_version  bigint      NOT NULL,
  event_id        uuid        NOT NULL,
  type            text        NOT NULL,
  schema_version  integer     NOT NULL,
  campaign_id     text        NOT NULL,
  causation_id    text,
  correlation_id  text,
  source          text        NOT NULL,
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  -- the envelope's time, verbatim (so a read returns exactly what was appended)
  time            text        NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_pkey PRIMARY KEY (position),
  CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
  CONSTRAINT events_event_id_key UNIQUE (event_id),
  CONSTRAINT events_position_check CHECK (position > 0),
  CONSTRAINT events_stream_version_check CHECK (stream_version > 0)
);
CREATE INDEX IF NOT EXISTS events_campaign_position_idx ON ${n.events} (campaign_id, position);
CREATE INDEX IF NOT EXISTS events_type_position_idx ON ${n.events} (type, position);

CREATE TABLE IF NOT EXISTS ${n.commands} (
  command_id  text        NOT NULL PRIMARY KEY,
  stream_id   text        NOT NULL,
  result      jsonb       NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ${n.relayCheckpoints} (
  name       text        NOT NULL PRIMARY KEY,
  position   bigint      NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION "${n.schema}".reject_event_mutation() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'the event log is append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = '${SQLSTATE_APPEND_ONLY}';
END
$fn$;
DROP TRIGGER IF EXISTS events_append_only ON ${n.events};
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON ${n.events}
  FOR EACH ROW EXECUTE FUNCTION "${n.schema}".reject_event_mutation();
DROP TRIGGER IF EXISTS events_append_only_truncate ON ${n.events};
CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON ${n.events}
  FOR EACH STATEMENT EXECUTE FUNCTION "${n.schema}".reject_event_mutation();

-- Appends, one call per transaction. Why a global lock: readers (subscriptions, the outbox relay) page with
-- "position > last seen". If two transactions could hold positions at once, the later position might commit
-- first, a reader would move past the earlier one and never see it. pg_advisory_xact_lock makes appending
-- transactions take turns; each computes max+1 after the previous commit is visible (a VOLATILE plpgsql function
-- takes a fresh snapshot per statement) and the lock is released only after its own commit is visible. So
-- positions are gap-free and become visible in position order.
--
-- Group commit: the caller may send several appends in one call (p_appends). They are applied in turn, each
-- exactly as if appended alone (a later item sees the earlier ones' events and commands), and one commit (one
-- WAL flush) serves them all. An item that must be refused is answered with an error object and leaves no
-- trace; the others still commit.
-- Items: {stream, expected, commandId, commandResult, events, metadata}. Answers, in order:
-- {"ok": <append result>} | {"error": "concurrency", "actual": n} | {"error": "duplicate_event_id", "eventId": id}.
CREATE OR REPLACE FUNCTION ${n.appendGroupFn}(p_appends jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_item     jsonb;
  v_stream   text;
  v_expected bigint;
  v_command  text;
  v_events   jsonb;
  v_previous jsonb;
  v_version  bigint;
  v_head     bigint;
  v_count    integer;
  v_dup      text;
  v_result   jsonb;
  v_answers  jsonb := '[]'::jsonb;
  v_notify   boolean := false;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('${n.appendLockKey}'));
  SELECT coalesce(max(position), 0) INTO v_head FROM ${n.events};
  FOR v_item IN SELECT value FROM jsonb_array_elements(p_appends) LOOP
    v_stream := v_item->>'stream';
    v_expected := (v_item->>'expected')::bigint;
    v_command := v_item->>'commandId';
    v_events := v_item->'events';
    v_count := jsonb_array_length(v_events);
    IF v_command IS NOT NULL THEN
      SELECT result INTO v_previous FROM ${n.commands} WHERE command_id = v_command;
      IF FOUND THEN
        v_answers := v_answers
          || jsonb_build_array(jsonb_build_object('ok', v_previous || '{"duplicate": true}'::jsonb));
        CONTINUE;
      END IF;
    END IF;
    SELECT coalesce(max(stream_version), 0) INTO v_version FROM ${n.events} WHERE stream_id = v_stream;
    IF v_expected >= 0 AND v_version <> v_expected THEN
      v_answers := v_answers || jsonb_build_array(jsonb_build_object('error', 'concurrency', 'actual', v_version));
      CONTINUE;
    END IF;
    -- Checked here rather than caught, so that a refused item needs no subtransaction.
    SELECT x.id INTO v_dup FROM jsonb_array_elements_text(jsonb_path_query_array(v_events, '$[*].id')) AS x(id)
      WHERE EXISTS (SELECT 1 FROM ${n.events} WHERE event_id = x.id::uuid) LIMIT 1;
    IF v_dup IS NOT NULL THEN
      v_answers := v_answers || jsonb_build_array(jsonb_build_object('error', 'duplicate_event_id', 'eventId', v_dup));
      CONTINUE;
    END IF;
    INSERT INTO ${n.events} (position, stream_id, stream_version, event_id, type, schema_version, campaign_id,
                             causation_id, correlation_id, source, data, metadata, time)
    SELECT v_head + e.ord, v_stream, v_version + e.ord, (e.ev->>'id')::uuid, e.ev->>'type',
           (e.ev->>'schemaVersion')::integer, e.ev->>'campaignId', e.ev->>'causationId', e.ev->>'correlationId',
           e.ev->>'source', coalesce(e.ev->'data', 'null'::jsonb), coalesce(v_item->'metadata', '{}'::jsonb),
           e.ev->>'time'
      FROM jsonb_array_elements(v_events) WITH ORDINALITY AS e(ev, ord);
    v_result := jsonb_build_object(
      'streamId', v_stream,
      'nextExpectedVersion', v_version + v_count,
      'positions', (SELECT coalesce(jsonb_agg(v_head + g ORDER BY g), '[]'::jsonb)
                      FROM generate_series(1, v_count) AS g),
      'duplicate', false)
      || CASE WHEN v_item ? 'commandResult' THEN jsonb_build_object('commandResult', v_item->'commandResult')
              ELSE '{}'::jsonb END;
    IF v_command IS NOT NULL THEN
      INSERT INTO ${n.commands} (command_id, stream_id, result) VALUES (v_command, v_stream, v_result);
    END IF;
    v_head := v_head + v_count;
    v_notify := v_notify OR v_count > 0;
    v_answers := v_answers || jsonb_build_array(jsonb_build_object('ok', v_result));
  END LOOP;
  IF v_notify THEN
    PERFORM pg_notify('${n.channel}', v_head::text);
  END IF;
  RETURN v_answers;
END
$fn$;
`,
  },
  {
    version: 2,
    description: 'hash chain: content_hash and chain_hash per event, chained append_group, chain_origin',
    sql: (n) => `
ALTER TABLE ${n.events} ADD COLUMN IF NOT EXISTS content_hash text;
ALTER TABLE ${n.events} ADD COLUMN IF NOT EXISTS chain_hash text;
-- One row when the migration found events already stored: positions 1..retroactive_through were chained by the
-- migration, not when they were appended (an audit says so).
CREATE TABLE IF NOT EXISTS "${n.schema}".chain_origin (
  id                  integer     NOT NULL PRIMARY KEY CHECK (id = 1),
  retroactive_through bigint      NOT NULL,
  chained_at          timestamptz NOT NULL DEFAULT now()
);
${chainedAppendGroupSql(n, false)}`,
    after: backfillChain,
  },
  {
    version: 3,
    description: 'append_group names the appended event types in its NOTIFY (readers skip what they do not wait for)',
    sql: (n) => chainedAppendGroupSql(n, true),
  },
];

/** The migrations, read-only (bench/eventstore installs version 1's unchained append_group as its baseline). */
export const EVENT_STORE_MIGRATIONS: ReadonlyArray<Readonly<Pick<Migration, 'version' | 'description' | 'sql'>>> =
  MIGRATIONS;

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/**
 * Brings the schema up to date; safe to call from many processes at once. Returns the versions applied now.
 * `upToVersion` stops earlier (tests that need a store as an older release left it).
 */
export async function migrateEventStoreSchema(
  client: ClientBase,
  n: SchemaNames,
  upToVersion = LATEST_SCHEMA_VERSION,
): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [n.migrateLockKey]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${n.schema}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${n.schema}".schema_migrations (version integer PRIMARY KEY, ` +
        `description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ version: number }>(`SELECT version FROM "${n.schema}".schema_migrations`)).rows.map(
        (r) => r.version,
      ),
    );
    const pending = MIGRATIONS.filter((m) => !done.has(m.version) && m.version <= upToVersion);
    // Appends take the append lock before any table lock; a migration that alters the table takes them in the
    // same order, or an append waiting behind its ALTER while holding the append lock would deadlock with it.
    if (pending.length > 0) await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [n.appendLockKey]);
    for (const m of pending) {
      await client.query(m.sql(n));
      if (m.after) await m.after(client, n);
      await client.query(`INSERT INTO "${n.schema}".schema_migrations (version, description) VALUES ($1, $2)`, [
        m.version,
        m.description,
      ]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return applied;
}
