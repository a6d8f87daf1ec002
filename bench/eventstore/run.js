#!/usr/bin/env node
/*
 * Event store benchmark. Build first:  npx tsc -p libs/eventstore/tsconfig.build.json  (contracts' dist too)
 * Run:                                 node bench/eventstore/run.js [--events 10000] [--replay 100000] [--writers 4]
 * [--rounds 2]
 *
 * Prints, from one run on this machine (baselines measured in the same run):
 *   - append+relay throughput (events/s from the first append until JetStream has acked all of them), as a ratio
 *     to raw JetStream publish (same payloads and headers, async acks, same pipelining) and to raw INSERT (same
 *     rows, same batches, same writer concurrency, no store logic); for 1, 10 and 100 events per append, best
 *     of `--rounds` rounds per number (contention from other processes only makes numbers worse);
 *   - replay: 100,000 events read from position 0 and folded into simple projections, against the 5 s target.
 * Uses its own PostgreSQL schema and JetStream streams and drops them at the end.
 */
'use strict';
const path = require('node:path');
const os = require('node:os');
const { randomBytes } = require('node:crypto');
const { Client } = require('pg');
const { connect } = require('@nats-io/transport-node');
const { jetstreamManager } = require('@nats-io/jetstream');
const es = require(path.join(__dirname, '../../libs/eventstore/dist'));

const ROOT = path.resolve(__dirname, '../..');
const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = arg('events', 10_000);
const REPLAY = arg('replay', 100_000);
const WRITERS = arg('writers', 4);
const PG_URL = process.env.AEVO_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env.AEVO_NATS_URL || 'nats://127.0.0.1:4222';
const id = randomBytes(4).toString('hex');
const SCHEMA = `aevo_bench_${id}`;
const STREAM = `AEVO_BENCH_${id.toUpperCase()}`;
const PREFIX = `b${id}.aevo`;
const RAW_STREAM = `AEVO_BENCH_RAW_${id.toUpperCase()}`;
const RAW_PREFIX = `b${id}raw.aevo`;
const DRAIN_STREAM = `AEVO_BENCH_DRAIN_${id.toUpperCase()}`;
const DRAIN_PREFIX = `b${id}drain.aevo`;
// Baseline for the hash chain's cost: a store whose append_group is migration 1's (no chain links under the lock).
const PLAIN_SCHEMA = `aevo_bench_${id}_plain`;
const PLAIN_STREAM = `AEVO_BENCH_PLAIN_${id.toUpperCase()}`;
const PLAIN_PREFIX = `b${id}plain.aevo`;
const { now, sleep, fmt, makeEvent, plan, replay } = require('./workload');
const { rawJetStream, rawInsert, spawnRelay, appendAndRelay } = require('./baselines')({
  ROOT,
  PG_URL,
  NATS_URL,
  SCHEMA,
  STREAM,
  PREFIX,
  RAW_STREAM,
  RAW_PREFIX,
  es,
});

async function main() {
  const load0 = os.loadavg();
  console.log(
    `# bench/eventstore  ${new Date().toISOString()}  node ${process.version}  ${os.cpus().length} CPUs  ` +
      `loadavg ${load0.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${SCHEMA}"`);
  const nc = await connect({ servers: NATS_URL, name: 'bench-eventstore' });
  const jsm = await jetstreamManager(nc);
  const store = await es.PostgresEventStore.open({ connectionString: PG_URL, schema: SCHEMA, poolSize: WRITERS + 2 });
  const plain = await es.PostgresEventStore.open({
    connectionString: PG_URL,
    schema: PLAIN_SCHEMA,
    poolSize: WRITERS + 2,
  });
  // Today's append path minus the chain: migration 1's append_group ignores the content hashes the store sends.
  await admin.query(es.EVENT_STORE_MIGRATIONS.find((m) => m.version === 1).sql(es.schemaNames(PLAIN_SCHEMA)));
  const plainTarget = { stream: PLAIN_STREAM, prefix: PLAIN_PREFIX, schema: PLAIN_SCHEMA };
  let appendedPlain = 0;
  let hashUs = Infinity;
  try {
    console.log(
      `nats-server ${nc.info.version}; ${N} events per throughput run; each writer awaits its append before the next`,
    );
    // Warm-up (JIT, connections, file store) so the first measured baseline is not penalised.
    const warm = plan(2000, WRITERS, 10, 'warm')
      .flat()
      .flatMap((c) => c.events)
      .map((e, i) => {
        const stored = { ...e, position: i + 1, streamVersion: 1 };
        return { e: stored, json: es.relayPayload(stored) };
      });
    await rawJetStream(nc, jsm, warm);
    const rows = [];
    let appended = 0;
    // Small appends are bounded by commit latency per writer (group commit shares a commit between concurrent
    // writers of one process), so the 1-event case is also run with 4x the writers.
    const ROUNDS = arg('rounds', 2);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [writers, batch] of [
        [WRITERS, 1],
        [WRITERS * 4, 1],
        [WRITERS, 10],
        [WRITERS, 100],
      ]) {
        const perWriter = plan(N, writers, batch, `r${round}w${writers}b${batch}`);
        const flat = perWriter.flat().flatMap((c) => c.events);
        const bytes = flat.reduce((s, e) => s + Buffer.byteLength(JSON.stringify(e)), 0) / flat.length;
        // Raw JetStream publishes the same JSON the relay sends (stored event: envelope + position + version).
        const payloads = flat.map((e, i) => {
          const stored = { ...e, position: appended + i + 1, streamVersion: 1 };
          return { e: stored, json: es.relayPayload(stored) };
        });
        const jsMs = await rawJetStream(nc, jsm, payloads);
        const insMs = await rawInsert(perWriter);
        // Chained and unchained in turn (which goes first alternates by round), so both see the same machine load.
        const runPlain = async () => {
          const r = await appendAndRelay(plain, jsm, perWriter, appendedPlain + flat.length, plainTarget);
          appendedPlain += flat.length;
          return r;
        };
        const early = round % 2 === 1 ? await runPlain() : null;
        const { ms, appendMs } = await appendAndRelay(store, jsm, perWriter, appended + flat.length);
        appended += flat.length;
        const unchained = early ?? (await runPlain());
        // The part of the chain computed in Node (outside the lock): canonical JSON + sha256 per event.
        const h0 = now();
        for (const e of flat) es.eventContentHash(e);
        hashUs = Math.min(hashUs, ((now() - h0) * 1000) / flat.length);
        const eps = (n, t) => (n / t) * 1000;
        const row = {
          writers,
          batch,
          bytes,
          js: eps(flat.length, jsMs),
          ins: eps(flat.length, insMs),
          app: eps(flat.length, appendMs),
          e2e: eps(flat.length, ms),
          plain: eps(flat.length, unchained.ms),
        };
        // Best of the rounds, per measurement: other processes on this machine only ever make a number worse.
        const prev = rows.find((r) => r.writers === writers && r.batch === batch);
        if (!prev) rows.push(row);
        else for (const k of ['js', 'ins', 'app', 'e2e', 'plain']) prev[k] = Math.max(prev[k], row[k]);
      }
    }
    console.log('\nappend+relay (end-to-end until all are acked in JetStream) vs baselines, events/s:');
    console.log(
      'writers  events/append  avg bytes  raw JetStream  raw INSERT  append only  append+relay  ratio vs ' +
        'JetStream  ratio vs INSERT',
    );
    for (const r of rows)
      console.log(
        `${String(r.writers).padStart(7)}  ${String(r.batch).padStart(13)}  ` +
          `${String(Math.round(r.bytes)).padStart(9)}  ${fmt(r.js).padStart(13)}  ${fmt(r.ins).padStart(10)}` +
          `  ${fmt(r.app).padStart(11)}  ${fmt(r.e2e).padStart(12)}  ` +
          `${(r.e2e / r.js).toFixed(2).padStart(18)}  ${(r.e2e / r.ins).toFixed(2).padStart(15)}`,
      );
    console.log('target: append+relay >= 0.5 x raw JetStream');
    console.log(
      "\nhash chain cost: append+relay with the chain vs the same store with migration 1's unchained " +
        'append_group (best of the rounds each), events/s:',
    );
    console.log('writers  events/append  unchained  chained  ratio (chained / unchained)');
    for (const r of rows)
      console.log(
        `${String(r.writers).padStart(7)}  ${String(r.batch).padStart(13)}  ${fmt(r.plain).padStart(9)}  ` +
          `${fmt(r.e2e).padStart(7)}  ${(r.e2e / r.plain).toFixed(2).padStart(26)}`,
      );
    console.log(
      `content hashing in Node (canonical JSON + sha256, outside the lock, in both columns): ` +
        `${hashUs.toFixed(1)} µs/event`,
    );
    console.log('target: ratio >= 0.90 (within 10 % of the unchained append path)');
    // The same question with less noise: one writer, chained and unchained appends alternating call by call, median
    // per call (a loaded machine slows both of a pair alike).
    console.log('\npaired appends (1 writer, alternating chained/unchained, median ms per append call):');
    console.log('events/append  calls  unchained  chained  ratio (unchained / chained time)');
    for (const [batch, calls] of [
      [1, 300],
      [10, 150],
      [100, 60],
    ]) {
      const t = { plain: [], chained: [] };
      for (let i = 0; i < calls; i++) {
        const events = Array.from({ length: batch }, (_, k) =>
          makeEvent(i * batch + k, 'camp-pair', `campaign-pair-${batch}`),
        );
        for (const [name, s] of i % 2
          ? [
              ['plain', plain],
              ['chained', store],
            ]
          : [
              ['chained', store],
              ['plain', plain],
            ]) {
          const t0 = now();
          await s.append(`campaign-pair-${batch}`, 'any', events);
          t[name].push(now() - t0);
        }
      }
      const med = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      console.log(
        `${String(batch).padStart(13)}  ${String(calls).padStart(5)}  ` +
          `${med(t.plain).toFixed(2).padStart(9)}  ${med(t.chained).toFixed(2).padStart(7)}  ` +
          `${(med(t.plain) / med(t.chained)).toFixed(2).padStart(32)}`,
      );
    }

    // Replay: fill up to REPLAY events (large appends keep the set-up short), then read all from 0 and fold.
    const have = await store.headPosition();
    const fill = plan(Math.max(0, REPLAY - have), WRITERS, 1000, 'replay', 20);
    for (const calls of fill) for (const c of calls) await store.append(c.streamId, 'any', c.events);
    // The relay alone: drain the whole stored log (a backlog, no writers competing) into a fresh stream.
    const head = await store.headPosition();
    const drain = spawnRelay(DRAIN_STREAM, DRAIN_PREFIX);
    const t0 = now();
    for (;;) {
      const info = await jsm.streams.info(DRAIN_STREAM).catch(() => null);
      if (info && info.state.messages >= head) break;
      if (drain.proc.exitCode !== null) throw new Error(`relay exited:\n${drain.out.join('')}`);
      await sleep(25);
    }
    const drainMs = now() - t0;
    drain.proc.kill('SIGTERM');
    await drain.exited;
    const bestJs = Math.max(...rows.map((x) => x.js));
    const drainEps = (head / drainMs) * 1000;
    console.log(
      `\nrelay alone, draining a backlog of ${fmt(head)} stored events (process start included): ` +
        `${fmt(drainEps)} events/s = ${(drainEps / bestJs).toFixed(2)} x raw JetStream (${fmt(bestJs)}/s)`,
    );

    const r = await replay(store, REPLAY);
    console.log(
      `\nreplay: ${fmt(r.count)} events from position 0 into projections (count per type: ${r.types} ` +
        `types; per-campaign summary: ${r.campaigns} campaigns; per-stream version: ${r.streams} streams)`,
    );
    console.log(
      `  ${(r.ms / 1000).toFixed(2)} s = ${fmt((r.count / r.ms) * 1000)} events/s; ` +
        `${(r.ms / 5000).toFixed(2)} x the 5 s target (< 1 meets it)`,
    );
  } finally {
    await store.close();
    await plain.close();
    await jsm.streams.delete(PLAIN_STREAM).catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS "${PLAIN_SCHEMA}" CASCADE`);
    await jsm.streams.delete(STREAM).catch(() => undefined);
    await jsm.streams.delete(RAW_STREAM).catch(() => undefined);
    await jsm.streams.delete(DRAIN_STREAM).catch(() => undefined);
    await nc.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await admin.end();
  }
  console.log(
    `\nloadavg at end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (other work on this machine competes for the same CPUs)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
