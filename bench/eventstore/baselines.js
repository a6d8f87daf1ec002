'use strict';
/**
 * What bench/eventstore/run.js measures against: raw JetStream publishes and raw INSERTs of the same events (the
 * baselines), and the store's append + the relay process until JetStream holds everything (the measured path).
 * `cfg` names the run's database, schema, streams and subject prefixes.
 */
const path = require('node:path');
const { spawn } = require('node:child_process');
const { jetstream, StorageType } = require('@nats-io/jetstream');
const { now, sleep, runWriters } = require('./workload');

module.exports = function benchPaths(cfg) {
  const { ROOT, PG_URL, NATS_URL, SCHEMA, STREAM, PREFIX, RAW_STREAM, RAW_PREFIX, es } = cfg;

  async function rawJetStream(nc, jsm, payloads) {
    await jsm.streams.add({
      name: RAW_STREAM,
      subjects: [`${RAW_PREFIX}.evt.>`],
      storage: StorageType.File,
      deny_delete: true,
      deny_purge: true,
      max_age: 0,
      duplicate_window: 10 * 60 * 1e9,
    });
    const js = jetstream(nc);
    const t0 = now();
    // The same pipelining the relay uses: batches of 1000, up to 4 batches' acks outstanding, msg id + headers.
    const inFlight = [];
    for (let b = 0; b < payloads.length; b += 1000) {
      const acks = payloads.slice(b, b + 1000).map((p) =>
        js.publish(`${RAW_PREFIX}.evt.${p.e.campaignId}.${p.e.type}`, p.json, {
          msgID: p.e.id,
          headers: es.relayHeaders(p.e),
        }),
      );
      inFlight.push(Promise.all(acks));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const ms = now() - t0;
    await jsm.streams.delete(RAW_STREAM);
    return ms;
  }

  async function rawInsert(perWriter) {
    const pool = new (require('pg').Pool)({ connectionString: PG_URL, max: perWriter.length + 1 });
    await pool.query(`CREATE TABLE "${SCHEMA}".raw_events (position bigserial PRIMARY KEY, stream_id text NOT NULL,
      stream_version bigint NOT NULL, event_id uuid NOT NULL UNIQUE, type text NOT NULL,
      schema_version integer NOT NULL, campaign_id text NOT NULL, causation_id text, correlation_id text,
      source text NOT NULL, data jsonb NOT NULL,
      metadata jsonb NOT NULL DEFAULT '{}', time text NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())`);
    const versions = new Map();
    const t0 = now();
    await runWriters(perWriter, async (c) => {
      const v = versions.get(c.streamId) ?? 0;
      versions.set(c.streamId, v + c.events.length);
      await pool.query(
        `INSERT INTO "${SCHEMA}".raw_events (stream_id, stream_version, event_id, type, schema_version, campaign_id,
                causation_id, correlation_id, source, data, time)
         SELECT $1, $2::bigint + e.ord, (e.ev->>'id')::uuid, e.ev->>'type', (e.ev->>'schemaVersion')::int,
                e.ev->>'campaignId', e.ev->>'causationId', e.ev->>'correlationId', e.ev->>'source', e.ev->'data',
                e.ev->>'time'
           FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(ev, ord)`,
        [c.streamId, v, JSON.stringify(c.events)],
      );
    });
    const ms = now() - t0;
    await pool.query(`DROP TABLE "${SCHEMA}".raw_events`);
    await pool.end();
    return ms;
  }

  function spawnRelay(stream = STREAM, prefix = PREFIX, schema = SCHEMA) {
    const proc = spawn(process.execPath, [path.join(ROOT, 'libs/eventstore/dist/relay-main.js')], {
      env: {
        ...process.env,
        AEVO_DATABASE_URL: PG_URL,
        AEVO_DB_SCHEMA: schema,
        AEVO_NATS_URL: NATS_URL,
        AEVO_SUBJECT_PREFIX: prefix,
        AEVO_STREAM: stream,
        AEVO_RELAY_POLL_MS: '200',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    proc.stdout.on('data', (d) => out.push(String(d)));
    proc.stderr.on('data', (d) => out.push(String(d)));
    const exited = new Promise((r) => proc.on('exit', r));
    return { proc, out, exited };
  }

  async function appendAndRelay(
    store,
    jsm,
    perWriter,
    expectedTotal,
    target = { stream: STREAM, prefix: PREFIX, schema: SCHEMA },
  ) {
    const relay = spawnRelay(target.stream, target.prefix, target.schema);
    const deadline = Date.now() + 60_000;
    while (!relay.out.join('').includes('resuming from JetStream')) {
      if (Date.now() > deadline || relay.proc.exitCode !== null)
        throw new Error(`relay did not start:\n${relay.out.join('')}`);
      await sleep(20);
    }
    const t0 = now();
    let appendMs = 0;
    const versions = new Map();
    const writing = runWriters(perWriter, async (c) => {
      const v = versions.get(c.streamId) ?? 0;
      versions.set(c.streamId, v + c.events.length);
      await store.append(c.streamId, v, c.events);
    }).then(() => {
      appendMs = now() - t0;
    });
    let failed = null;
    writing.catch((err) => (failed = err));
    for (;;) {
      if (failed) {
        relay.proc.kill('SIGKILL');
        throw failed;
      }
      const info = await jsm.streams.info(target.stream);
      if (info.state.messages >= expectedTotal) break;
      // Coarse on purpose: stream info requests compete with the measured work for the same CPUs.
      await sleep(25);
    }
    const ms = now() - t0;
    await writing;
    relay.proc.kill('SIGTERM');
    await relay.exited;
    return { ms, appendMs };
  }

  return { rawJetStream, rawInsert, spawnRelay, appendAndRelay };
};
