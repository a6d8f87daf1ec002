import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { headers } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { StoredEvent } from '@aevo/eventstore';
import { accepts, OwnNats, OwnPostgres } from './harness/own-infra';
import { consumedTypes, Supervisor, killProcessesMentioning } from './harness/supervisor';
import { caseSeed, chooseTrigger, roundWindows, waitForTrigger, type LoggedEvent } from './harness/trigger';
import { checkStream, compareRuns, jsonDiff, type RunRecord } from './harness/verdict';

/** The chaos harness's own pieces, on its private PostgreSQL and nats-server (quick; no campaign). */

jest.setTimeout(120_000);

const ev = (position: number, type: string, source: string, data: Record<string, unknown> = {}): LoggedEvent => ({
  position,
  type,
  source,
  data,
});

/** A two-round log: round 1 = positions 2..8, round 2 = 9..14. */
const LOG: LoggedEvent[] = [
  ev(1, 'CampaignStarted', 'orchestrator'),
  ev(2, 'RoundStarted', 'orchestrator', { round: 1 }),
  ev(3, 'CandidateForked', 'substrate', { round: 1 }),
  ev(4, 'JobRequested', 'worker'),
  ev(5, 'JobSucceeded', 'dispatch'),
  ev(6, 'ManifestSubmitted', 'worker', { round: 1 }),
  ev(7, 'RoundEvidenceRecorded', 'collector', { round: 1 }),
  ev(8, 'RoundClosed', 'orchestrator', { round: 1 }),
  ev(9, 'RoundStarted', 'orchestrator', { round: 2 }),
  ev(10, 'CandidateForked', 'substrate', { round: 2 }),
  ev(11, 'JobRequested', 'worker'),
  ev(12, 'JobSucceeded', 'dispatch'),
  ev(13, 'RoundEvidenceRecorded', 'collector', { round: 2 }),
  ev(14, 'RoundClosed', 'orchestrator', { round: 2 }),
  ev(15, 'CampaignCompleted', 'orchestrator'),
];

describe('trigger points', () => {
  it(
    'finds each round between its RoundStarted and RoundClosed; the last ' +
      'one ends at its evidence (then the campaign ends)',
    () => {
      expect([...roundWindows(LOG)]).toEqual([
        [1, { from: 2, to: 8, until: 'RoundClosed' }],
        [2, { from: 9, to: 13, until: 'RoundEvidenceRecorded' }],
      ]);
      // A round still open has no end yet and is never chosen.
      expect(roundWindows(LOG.slice(0, 10)).get(2)).toEqual({
        from: 9,
        to: Number.POSITIVE_INFINITY,
        until: 'RoundClosed',
      });
      expect(roundWindows(LOG.slice(0, 10)).get(1)).toEqual({ from: 2, to: 7, until: 'RoundEvidenceRecorded' });
    },
  );

  it('picks a point strictly inside a round, the same one for the same seed, as the n-th event of its type', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      const p = chooseTrigger(LOG, { seed });
      expect(chooseTrigger(LOG, { seed })).toEqual(p);
      const w = roundWindows(LOG).get(p.round)!;
      expect(p.until).toBe(w.until);
      expect(p.baselinePosition).toBeGreaterThan(w.from);
      expect(p.baselinePosition).toBeLessThan(w.to);
      const sameType = LOG.filter((e) => e.type === p.type && e.position <= p.baselinePosition);
      expect(sameType).toHaveLength(p.occurrence);
      expect(p.delayMs).toBeGreaterThanOrEqual(0);
      expect(p.delayMs).toBeLessThan(1500);
      seen.add(`${p.round}:${p.baselinePosition}`);
    }
    // Different seeds reach different points of both rounds.
    expect(seen.size).toBeGreaterThan(5);
  });

  it("prefers the killed service's own work: events it emits or consumes", () => {
    for (let seed = 0; seed < 100; seed++) {
      const p = chooseTrigger(LOG, { seed, service: 'dispatch', consumes: ['JobRequested'] });
      expect(['JobRequested', 'JobSucceeded']).toContain(p.type);
    }
    // A service with nothing inside any round falls back to any event of the round.
    const p = chooseTrigger(LOG, { seed: 3, service: 'api', consumes: [] });
    expect(LOG.some((e) => e.type === p.type)).toBe(true);
  });

  it(
    'keeps the delay under 80 % of the time the undisturbed run had ' + 'left in the window after the trigger event',
    () => {
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      const timed = LOG.map((e) => ({ ...e, time: new Date(t0 + e.position * 10).toISOString() }));
      for (let seed = 0; seed < 100; seed++) {
        const p = chooseTrigger(timed, { seed });
        const endsAt = p.round === 1 ? 80 : 130;
        expect(p.delayMs).toBeLessThanOrEqual(Math.floor(0.8 * (endsAt - p.baselinePosition * 10)));
      }
    },
  );

  it('derives a distinct, stable seed per case', () => {
    expect(caseSeed(1, 'kill-9-worker')).toBe(caseSeed(1, 'kill-9-worker'));
    expect(caseSeed(1, 'kill-9-worker')).not.toBe(caseSeed(1, 'kill-9-dispatch'));
    expect(caseSeed(1, 'kill-9-worker')).not.toBe(caseSeed(2, 'kill-9-worker'));
  });

  it('refuses a log without a closed round', () => {
    expect(() => chooseTrigger(LOG.slice(0, 5), { seed: 1 })).toThrow('no closed round');
  });

  it("reads the consumed types from a service's start-up line", () => {
    const line =
      '[Nest] 1 - LOG [JetStreamServer(evaluation)] listening: 2 event consumer(s) [EvaluationRequested, ' +
      'JobSucceeded], 0 command(s) [] on nats-server 2.9.10';
    expect(consumedTypes(`noise\n${line}\n`)).toEqual(['EvaluationRequested', 'JobSucceeded']);
    expect(consumedTypes('no such line')).toEqual([]);
  });
});

function record(over: Partial<RunRecord> = {}): RunRecord {
  return {
    hashes: { rounds: 'a'.repeat(64), 'event-counts': 'b'.repeat(64) },
    replayHash: 'x',
    snapshots: { rounds: { r1: { best: 0.5, seeds: [1, 2] } }, 'event-counts': {} },
    counts: { CandidateForked: 4, RoundClosed: 2 },
    allCounts: {},
    events: 10,
    duplicateIds: [],
    stream: { messages: 10, missing: [], extra: [], orderMismatch: null },
    ...over,
  };
}

describe('run comparison', () => {
  it('finds nothing between identical runs', () => {
    expect(compareRuns(record(), record())).toEqual([]);
  });

  it('names the projection and the paths that differ', () => {
    const run = record({
      hashes: { ...record().hashes, rounds: 'c'.repeat(64) },
      snapshots: { ...record().snapshots, rounds: { r1: { best: 0.6, seeds: [1, 3] } } },
    });
    const problems = compareRuns(record(), run);
    expect(problems[0]).toMatch(/^projection rounds: hash c{12} ≠ undisturbed a{12}$/);
    expect(problems).toContain('  $.r1.best: 0.5 ≠ 0.6 (undisturbed ≠ this run)');
    expect(problems).toContain('  $.r1.seeds.1: 2 ≠ 3 (undisturbed ≠ this run)');
  });

  it('tells lost from duplicated events of a deterministic kind', () => {
    expect(compareRuns(record(), record({ counts: { CandidateForked: 3, RoundClosed: 2 } }))).toEqual([
      'CandidateForked: 3 event(s), undisturbed run had 4 (lost)',
    ]);
    expect(compareRuns(record(), record({ counts: { CandidateForked: 4, RoundClosed: 3 } }))).toEqual([
      'RoundClosed: 3 event(s), undisturbed run had 2 (duplicated)',
    ]);
  });

  it('reports duplicate ids and a stream that does not hold exactly the store', () => {
    const problems = compareRuns(
      record(),
      record({
        duplicateIds: ['id-1'],
        stream: { messages: 9, missing: ['id-7'], extra: ['id-9 published 2 times'], orderMismatch: 'index 3: …' },
      }),
    );
    expect(problems).toEqual([
      'event ids stored more than once: id-1',
      'JetStream holds 9 message(s), the store 10 event(s)',
      'store events missing from JetStream: 1 (id-7)',
      'JetStream messages not matching the store once: id-9 published 2 times',
      'JetStream order differs from the store: index 3: …',
    ]);
  });

  it('diffs arrays, nested objects and missing keys', () => {
    expect(jsonDiff({ a: [1, 2], b: { c: 1 } }, { a: [1], b: { c: 1, d: 2 } })).toEqual([
      '$.a.1: 2 ≠ undefined',
      '$.b.d: undefined ≠ 2',
    ]);
  });
});

describe('own infrastructure', () => {
  let pg: OwnPostgres;
  let nats: OwnNats;

  beforeAll(async () => {
    pg = await OwnPostgres.create();
    nats = await OwnNats.create();
    await pg.start();
    await nats.start();
  });

  afterAll(async () => {
    await nats?.destroy();
    await pg?.destroy();
  });

  it('never manages the shared servers', async () => {
    await expect(OwnPostgres.create(5432)).rejects.toThrow('shared infrastructure');
    await expect(OwnNats.create(4222)).rejects.toThrow('shared infrastructure');
  });

  it('restarts PostgreSQL crash-like on the same port and keeps committed data', async () => {
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    await c.query('CREATE TABLE kept (v int)');
    await c.query('INSERT INTO kept VALUES (42)');
    await c.end();
    const broken = new Client({ connectionString: pg.url });
    broken.on('error', () => undefined);
    await broken.connect();
    await pg.restart(200, 'immediate');
    // The connection opened before the restart is gone; a new one sees the data.
    await expect(broken.query('SELECT 1')).rejects.toThrow();
    const after = new Client({ connectionString: pg.url });
    await after.connect();
    expect((await after.query('SELECT v FROM kept')).rows).toEqual([{ v: 42 }]);
    await after.end();
  });

  it(
    'restarts nats-server on the same port and keeps the JetStream stream; the ' +
      'stream check sees gaps, extras, duplicates and order',
    async () => {
      const nc = await connect({ servers: nats.url, ...nats.harnessAuth });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'HARNESS', subjects: ['harness.>'] });
      const js = jetstream(nc);
      const publish = async (id: string) => {
        const h = headers();
        h.set('ce-id', id);
        await js.publish('harness.evt', JSON.stringify({ id }), { headers: h });
      };
      for (const id of ['e1', 'e2', 'e3']) await publish(id);
      await nc.close();

      await nats.restart(200);
      expect(await accepts(nats.port)).toBe(true);

      const log = (ids: string[]) => ids.map((id, i) => ({ id, type: 'T', position: i + 1 }) as unknown as StoredEvent);
      expect(await checkStream(nats.url, 'HARNESS', log(['e1', 'e2', 'e3']), nats.harnessAuth)).toEqual({
        messages: 3,
        missing: [],
        extra: [],
        orderMismatch: null,
      });
      const off = await checkStream(nats.url, 'HARNESS', log(['e1', 'e3', 'e4']), nats.harnessAuth);
      expect(off.missing).toEqual(['e4']);
      expect(off.extra).toEqual(['e2']);
      expect(off.orderMismatch).toMatch(/^index 1: store has e3/);

      const again = await connect({ servers: nats.url, ...nats.harnessAuth });
      const js2 = jetstream(again);
      const h = headers();
      h.set('ce-id', 'e3');
      await js2.publish('harness.evt', JSON.stringify({ id: 'e3' }), { headers: h });
      await again.close();
      expect((await checkStream(nats.url, 'HARNESS', log(['e1', 'e2', 'e3']), nats.harnessAuth)).extra).toEqual([
        'e3 published 2 times',
      ]);
    },
  );

  it('waits for the n-th event of a type in a live log, across a PostgreSQL restart', async () => {
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    await c.query('CREATE SCHEMA trig; CREATE TABLE trig.events (type text, data jsonb)');
    await c.end();
    const point = {
      round: 1,
      type: 'JobStarted',
      occurrence: 2,
      baselinePosition: 0,
      delayMs: 50,
      until: 'RoundClosed',
    };
    const waiting = waitForTrigger({ url: pg.url, schema: 'trig' }, point, { timeoutMs: 60_000, pollMs: 50 });
    await pg.restart(300, 'immediate');
    const w = new Client({ connectionString: pg.url });
    await w.connect();
    await w.query(`INSERT INTO trig.events VALUES ('JobStarted', '{}'), ('JobQueued', '{}')`);
    await new Promise((r) => setTimeout(r, 300));
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    await w.query(`INSERT INTO trig.events VALUES ('JobStarted', '{}')`);
    await expect(waiting).resolves.toMatchObject({ count: 2, cutShort: false });
    // A long delay ends as soon as the trigger's round closes.
    const long = waitForTrigger(
      { url: pg.url, schema: 'trig' },
      { ...point, delayMs: 60_000 },
      { timeoutMs: 60_000, pollMs: 50 },
    );
    await new Promise((r) => setTimeout(r, 300));
    await w.query(`INSERT INTO trig.events VALUES ('RoundClosed', '{"round": 2}')`);
    await new Promise((r) => setTimeout(r, 300));
    await w.query(`INSERT INTO trig.events VALUES ('RoundClosed', '{"round": 1}')`);
    await w.end();
    await expect(long).resolves.toMatchObject({ count: 2, cutShort: true });
    await expect(
      waitForTrigger({ url: pg.url, schema: 'trig' }, { ...point, occurrence: 9 }, { timeoutMs: 500 }),
    ).rejects.toThrow('not reached within 500 ms');
  });
});

describe('supervisor', () => {
  let root: string;

  beforeAll(() => {
    // Stand-in services: print the ready line and stay up; "substrate" exits on its own after a moment once.
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-chaos-sup-'));
    for (const name of ['worker', 'substrate']) {
      fs.mkdirSync(path.join(root, 'services', name, 'dist'), { recursive: true });
      const once = path.join(root, `${name}.exited-once`);
      fs.writeFileSync(
        path.join(root, 'services', name, 'dist', 'main.js'),
        `const fs = require('fs');
         // a child that outlives its parent, as executor jobs do; spawned before the ready line, so that a kill -9
         // sent as soon as the service is ready cannot land before the child exists
         if (${name === 'worker'})
           require('child_process')
             .spawn(process.execPath, ['-e', 'setInterval(()=>{},1000)', ${JSON.stringify(root)}], {
               detached: true,
               stdio: 'ignore',
             })
             .unref();
         console.log('listening: 1 event consumer(s) [X], 0 command(s) []');
         if (${name === 'substrate'} && !fs.existsSync(${JSON.stringify(once)})) {
           fs.writeFileSync(${JSON.stringify(once)}, '');
           setTimeout(() => process.exit(3), 300);
         }
         setInterval(() => {}, 1000);`,
      );
    }
  });

  afterAll(async () => {
    await killProcessesMentioning(root);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('starts, kill -9s and restarts a service; restarts one that exits on its own and records it', async () => {
    const sup = new Supervisor({}, path.join(root, 'logs'), ['worker', 'substrate'], root);
    try {
      sup.startAll();
      await sup.waitReady(undefined, 30_000);
      const first = sup.pid('worker')!;
      await sup.kill('worker');
      expect(() => process.kill(first, 0)).toThrow();
      expect(sup.isReady('worker')).toBe(false);
      sup.restart('worker');
      await sup.waitReady(['worker'], 30_000);
      expect(sup.pid('worker')).not.toBe(first);
      // substrate exited with code 3 by itself: restarted, and reported as unexpected (the kill was not).
      const deadline = Date.now() + 30_000;
      while (!sup.news.some((n) => n.service === 'substrate' && n.what === 'restarted') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      await sup.waitReady(['substrate'], 30_000);
      expect(sup.unexpectedExits).toEqual([{ service: 'substrate', code: 3, signal: null }]);
      expect(fs.readFileSync(sup.logPath('worker'), 'utf8')).toMatch(/exited \(SIGKILL\)/);
    } finally {
      await sup.stopAll();
    }
    // Both worker starts left a detached child behind; the sweep finds them by the marker in their command line.
    expect(await killProcessesMentioning(root)).toBe(2);
    expect(await killProcessesMentioning(root)).toBe(0);
  });
});
