#!/usr/bin/env node
/**
 * What it costs a consumer to prove that each message is a stored event (libs/messaging/src/stored-event-proof.ts):
 * the same relayed events read from JetStream by consumers that decode and "handle" them (a no-op handler), once
 * without the proof and once with it, alternating by round; printed as events/s and the ratio proven / unproven,
 * with 1 and 16 messages handled at once (JetStreamServer's per-consumer concurrency), and with 3 consumers of
 * one process reading the same events (as the orchestrator's several durables do; they share the proof's cache).
 *
 *   node bench/eventstore/proof.js [--events 5000] [--rounds 3]
 */
const path = require('node:path');
const os = require('node:os');
const { randomBytes } = require('node:crypto');
const { Client } = require('pg');
const { connect } = require('@nats-io/transport-node');
const { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } = require('@nats-io/jetstream');
const { createEvent, CampaignPaused, WorkerFailed } = require('@aevo/contracts');
const es = require(path.join(__dirname, '../../libs/eventstore/dist'));
const { StoredEventProof, decodeEventMessage } = require(path.join(__dirname, '../../libs/messaging/dist'));

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = arg('events', 5000);
const ROUNDS = arg('rounds', 3);
const PG_URL = process.env.AEVO_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env.AEVO_NATS_URL || 'nats://127.0.0.1:4222';
const id = randomBytes(4).toString('hex');
const SCHEMA = `aevo_bench_proof_${id}`;
const STREAM = `AEVO_BENCH_PROOF_${id.toUpperCase()}`;
const PREFIX = `b${id}proof.aevo`;
const now = () => Number(process.hrtime.bigint()) / 1e6;
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function makeEvent(i, campaignId) {
  const ctx = { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' };
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

/** Reads every event of the stream through `consumers` ordered consumers, `concurrency` messages at a time each. */
async function readAll(js, consumers, concurrency, proof) {
  const t0 = now();
  await Promise.all(
    Array.from({ length: consumers }, async () => {
      const c = await js.consumers.get(STREAM, { deliver_policy: DeliverPolicy.All });
      const messages = await c.consume({ max_messages: Math.max(concurrency * 2, 64) });
      let done = 0;
      let running = 0;
      const waiters = [];
      const handle = async (m, proving) => {
        if (proving) {
          const verdict = await proving;
          if (!verdict.stored) throw new Error(`not proven: ${verdict.reason}`);
        }
        const decoded = decodeEventMessage(PREFIX, m.subject, m.data, m.headers);
        if (!decoded.ok) throw new Error(decoded.error.message);
      };
      for await (const m of messages) {
        // As JetStreamServer does: the proof starts on receipt, before the message waits for a free slot.
        const proving = proof?.verify(m.subject, m.data);
        while (running >= concurrency) await new Promise((r) => waiters.push(r));
        running++;
        void handle(m, proving).finally(() => {
          running--;
          done++;
          waiters.shift()?.();
          if (done === N) void messages.close();
        });
        if (done + running >= N && concurrency === 1) await new Promise((r) => setImmediate(r));
      }
      while (running > 0) await sleep(1);
    }),
  );
  return now() - t0;
}

async function main() {
  const admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  const store = await es.PostgresEventStore.open({ connectionString: PG_URL, schema: SCHEMA });
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  let relay;
  try {
    console.log(
      `stored-event proof: ${fmt(N)} events, ${ROUNDS} rounds (best of), loadavg ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    for (let i = 0; i < N; i += 100) {
      const campaignId = `c${i % 8}`;
      const batch = Array.from({ length: Math.min(100, N - i) }, (_, k) => makeEvent(i + k, campaignId));
      await store.append(
        `campaign-${campaignId}-${i}`,
        'no-stream',
        batch.map((e) => ({ ...e, streamId: `campaign-${campaignId}-${i}` })),
      );
    }
    relay = await es.OutboxRelay.start({
      databaseUrl: PG_URL,
      schema: SCHEMA,
      natsUrl: NATS_URL,
      subjectPrefix: PREFIX,
      stream: STREAM,
      pollIntervalMs: 100,
      log: () => undefined,
    });
    for (;;) {
      const info = await jsm.streams.info(STREAM).catch(() => null);
      if (info && info.state.messages >= N) break;
      await sleep(50);
    }
    const lookup = (ids) => store.lookupStoredEvents(ids);
    const rows = [];
    for (const [consumers, concurrency] of [
      [1, 1],
      [1, 16],
      [3, 1],
    ]) {
      const best = { unproven: Infinity, proven: Infinity };
      let counters;
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? ['unproven', 'proven'] : ['proven', 'unproven'];
        for (const mode of order) {
          const proof = mode === 'proven' ? new StoredEventProof(lookup, { subjectPrefix: PREFIX }) : null;
          const ms = await readAll(js, consumers, concurrency, proof);
          best[mode] = Math.min(best[mode], ms);
          if (proof) counters = proof.counters;
        }
      }
      const total = N * consumers;
      rows.push({
        consumers,
        concurrency,
        unproven: (total / best.unproven) * 1000,
        proven: (total / best.proven) * 1000,
        extraUs: ((best.proven - best.unproven) * 1000) / total,
        counters,
      });
    }
    console.log(
      '\nconsumers  in flight  unproven ev/s  proven ev/s  ratio  extra µs/event  store reads/event  cache hits',
    );
    for (const r of rows)
      console.log(
        `${String(r.consumers).padStart(9)}  ${String(r.concurrency).padStart(9)}  ` +
          `${fmt(r.unproven).padStart(13)}  ${fmt(r.proven).padStart(11)}  ` +
          `${(r.proven / r.unproven).toFixed(2).padStart(5)}  ${r.extraUs.toFixed(0).padStart(14)}  ` +
          `${(r.counters.lookups / (r.counters.proven + r.counters.dropped)).toFixed(2).padStart(17)}  ` +
          `${String(r.counters.cacheHits).padStart(10)}`,
      );
  } finally {
    await relay?.stop();
    await store.close();
    await jsm.streams.delete(STREAM).catch(() => undefined);
    await nc.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await admin.end();
  }
  console.log(
    `\nloadavg at end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
