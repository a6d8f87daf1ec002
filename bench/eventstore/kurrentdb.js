#!/usr/bin/env node
/*
 * KurrentDB adapter: append+relay throughput AGAINST THE PROTOCOL-LEVEL FAKE, not a KurrentDB server.
 * Build first:  npx nx run eventstore:build
 * Run:          node bench/eventstore/kurrentdb.js [--events 2000] [--writers 4] [--rounds 2]
 *
 * What it measures: events/s from the first append until JetStream has acked all of them, through
 * KurrentDbEventStore (the real @kurrent/kurrentdb-client, gRPC over loopback, the $all index, the hash-chain
 * stream) and the AllStreamRelay, with the fake answering in memory. So it is our adapter's and the client's
 * overhead with a server that costs nothing — a ceiling, not what a real KurrentDB would give. In the same run the
 * same events go through PostgresEventStore + OutboxRelay (a real PostgreSQL, so that side pays for real durable
 * writes); the ratio is printed for orientation only, for that reason. Best of `--rounds` per case.
 * Uses its own namespace, PostgreSQL schema and JetStream streams and drops the latter two at the end.
 */
'use strict';
const path = require('node:path');
const os = require('node:os');
const { randomBytes } = require('node:crypto');
const { Client } = require('pg');
const { connect } = require('@nats-io/transport-node');
const { jetstreamManager } = require('@nats-io/jetstream');
const { createEvent, CampaignPaused, WorkerFailed } = require('@aevo/contracts');
const es = require(path.join(__dirname, '../../libs/eventstore/dist'));
const { KurrentDbProtocolFake } = require(
  path.join(__dirname, '../../libs/eventstore/dist/kurrentdb/testing/protocol-fake'),
);

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = arg('events', 2000);
const WRITERS = arg('writers', 4);
const ROUNDS = arg('rounds', 2);
const PG_URL = process.env.AEVO_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env.AEVO_NATS_URL || 'nats://127.0.0.1:4222';
const id = randomBytes(4).toString('hex');
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (n) => Math.round(n).toLocaleString('en-US');

function makeEvent(i, campaignId, streamId) {
  const ctx = { campaignId, streamId, source: 'orchestrator' };
  return i % 2 === 0
    ? createEvent(CampaignPaused, { reason: `operator pause #${i} while the round settles` }, ctx)
    : createEvent(
        WorkerFailed,
        {
          candidateId: `${campaignId}-r1-c${i % 16}`,
          round: 1 + (i % 5),
          reason: 'train exited with code 3 (DIVERGED)',
          step: i % 300,
        },
        { ...ctx, source: 'worker' },
      );
}

/**
 * WRITERS concurrent writers, each on its own streams, `perAppend` events per append; resolves when `relayed()` reaches
 * the head.
 */
async function appendAndRelay(store, relayed, perAppend, tag) {
  const base = await store.headPosition();
  const t0 = now();
  const perWriter = Math.ceil(N / WRITERS);
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      const campaignId = `b${id}w${w}`;
      const streamId = `campaign-${campaignId}-${tag}`;
      let version = 0;
      for (let i = 0; i < perWriter; i += perAppend) {
        const events = Array.from({ length: Math.min(perAppend, perWriter - i) }, (_, k) =>
          makeEvent(i + k, campaignId, streamId),
        );
        const r = await store.append(streamId, version, events);
        version = r.nextExpectedVersion;
      }
    }),
  );
  const target = base + perWriter * WRITERS;
  while (relayed() < target) await sleep(2);
  return (perWriter * WRITERS) / ((now() - t0) / 1000);
}

async function main() {
  const fake = await KurrentDbProtocolFake.start();
  const kStream = `AEVO_BENCH_KDB_${id.toUpperCase()}`;
  const pStream = `AEVO_BENCH_KDBPG_${id.toUpperCase()}`;
  const schema = `aevo_bench_kdb_${id}`;
  const kStore = await es.openKurrentDbEventStore({ connectionString: fake.connectionString, namespace: `b${id}` });
  const kRelay = await es.AllStreamRelay.start({
    kurrentdbUrl: fake.connectionString,
    namespace: `b${id}`,
    natsUrl: NATS_URL,
    subjectPrefix: `b${id}kdb.aevo`,
    stream: kStream,
    pollIntervalMs: 200,
  });
  const pStore = await es.PostgresEventStore.open({ connectionString: PG_URL, schema, poolSize: WRITERS + 2 });
  const pRelay = await es.OutboxRelay.start({
    databaseUrl: PG_URL,
    schema,
    natsUrl: NATS_URL,
    subjectPrefix: `b${id}pg.aevo`,
    stream: pStream,
    pollIntervalMs: 200,
  });
  while (pRelay.role !== 'leader') await sleep(20);

  console.log(
    `KurrentDB adapter append+relay vs PostgreSQL, ${N} events, ${WRITERS} writers, best of ${ROUNDS} — ` +
      `${os.cpus().length} CPUs, node ${process.version}`,
  );
  console.log(
    'KurrentDB side: our adapter + @kurrent/kurrentdb-client against the in-memory PROTOCOL-LEVEL FAKE ' +
      '(no server cost).',
  );
  console.log('PostgreSQL side: PostgresEventStore + OutboxRelay against the real local PostgreSQL (durable writes).');
  const rows = [];
  try {
    for (const perAppend of [1, 10]) {
      let k = 0;
      let p = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // Alternated so drift on a shared machine hits both sides alike.
        k = Math.max(
          k,
          await appendAndRelay(kStore, () => kRelay.relayedPosition, perAppend, `k${perAppend}r${round}`),
        );
        p = Math.max(
          p,
          await appendAndRelay(pStore, () => pRelay.relayedPosition, perAppend, `p${perAppend}r${round}`),
        );
      }
      rows.push({ perAppend, k, p });
      console.log(
        `  ${String(perAppend).padStart(3)} event(s)/append: kurrentdb(fake) ${fmt(k).padStart(7)} ev/s   ` +
          `postgres ${fmt(p).padStart(7)} ev/s   ratio kurrentdb/postgres ${(k / p).toFixed(2)}`,
      );
    }
  } finally {
    await kRelay.stop();
    await pRelay.stop();
    await kStore.close();
    await pStore.close();
    await fake.stop();
    const nc = await connect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    for (const s of [kStream, pStream]) await jsm.streams.delete(s).catch(() => undefined);
    await nc.close();
    const c = new Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
