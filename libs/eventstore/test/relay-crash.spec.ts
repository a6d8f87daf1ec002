import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { CampaignPaused, createEvent, type EventEnvelope } from '@aevo/contracts';
import { createTestDb, createTestNatsNames, eventually, type TestDb, type TestNatsNames } from '@aevo/testkit';
import { PostgresEventStore } from '../src';
import { deleteStream, natsConnect, readStreamMessages, streamCount } from './nats-helpers';

jest.setTimeout(600_000);

const ROOT = path.resolve(__dirname, '../../..');
const RELAY_MAIN = path.join(ROOT, 'libs/eventstore/dist/relay-main.js');
const TOTAL = 10_000;

interface RelayChild {
  proc: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Deterministic batch sizes (1..8) so a failure can be replayed. */
function* batchSizes(seed: number): Generator<number> {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    yield 1 + ((x >>> 0) % 8);
  }
}

describe('outbox relay process under SIGKILL', () => {
  let db: TestDb;
  let names: TestNatsNames;
  let store: PostgresEventStore;
  let nc: NatsConnection;
  const children: RelayChild[] = [];

  const spawnRelay = (): RelayChild => {
    const proc = spawn(process.execPath, [RELAY_MAIN], {
      cwd: ROOT,
      env: {
        ...process.env,
        AEVO_DATABASE_URL: db.url,
        AEVO_DB_SCHEMA: db.schema,
        AEVO_NATS_URL: names.url,
        AEVO_SUBJECT_PREFIX: names.subjectPrefix,
        AEVO_STREAM: names.stream,
        AEVO_RELAY_BATCH_SIZE: '200',
        AEVO_RELAY_POLL_MS: '200',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    proc.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
    proc.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const child = { proc, output, exited };
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    // The relay runs as its own process from the built output, as it would be deployed.
    execFileSync('npx', ['tsc', '-p', 'libs/eventstore/tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'inherit',
      timeout: 300_000,
    });
    db = await createTestDb();
    names = createTestNatsNames();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 6 });
    nc = await natsConnect(names.url);
  }, 360_000);

  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await nc?.close();
    await store?.close();
    if (names) await deleteStream(names.url, names.stream);
    await db?.drop();
  });

  it('ends with exactly 10,000 messages in store order, none duplicated, after two SIGKILLs', async () => {
    let appended = 0;
    let inJetStream = 0;
    let appending = true;
    // Watches JetStream so the kills land while the relay is busy, and holds writers back when far ahead.
    const watcher = (async () => {
      while (appending || inJetStream < TOTAL) {
        inJetStream = await streamCount(nc, names.stream).catch(() => inJetStream);
        await new Promise((r) => setTimeout(r, 25));
        if (!appending && children.every((c) => c.proc.exitCode !== null || c.proc.signalCode !== null)) break;
      }
    })();

    const writers = [1, 2, 3, 4].map(async (w) => {
      const sizes = batchSizes(w * 7919);
      const streams = Array.from({ length: 5 }, (_, i) => ({ id: `campaign-crash-w${w}-s${i}`, version: 0 }));
      let n = 0;
      const share = TOTAL / 4;
      while (n < share) {
        while (appended - inJetStream > 2000) await new Promise((r) => setTimeout(r, 10));
        const s = streams[n % streams.length];
        const k = Math.min(sizes.next().value as number, share - n);
        const campaignId = `camp${w % 2}`;
        const events: EventEnvelope[] = Array.from({ length: k }, (_, i) =>
          createEvent(
            CampaignPaused,
            { reason: `w${w}-${n + i}` },
            { campaignId, streamId: s.id, source: 'orchestrator' },
          ),
        );
        const res = await store.append(s.id, s.version, events);
        s.version = res.nextExpectedVersion;
        n += k;
        appended += k;
      }
    });
    const writing = Promise.all(writers).finally(() => {
      appending = false;
    });

    const first = spawnRelay();
    await eventually(() => inJetStream >= 2000, 180_000, 5);
    first.proc.kill('SIGKILL');
    const appendedAtKills = [appended];
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = spawnRelay();
    await eventually(() => inJetStream >= 6000, 180_000, 5);
    second.proc.kill('SIGKILL');
    appendedAtKills.push(appended);
    expect((await second.exited).signal).toBe('SIGKILL');
    // Both kills happened while events were still being appended.
    for (const a of appendedAtKills) expect(a).toBeLessThan(TOTAL);

    const third = spawnRelay();
    await writing;
    expect(appended).toBe(TOTAL);
    expect(await store.headPosition()).toBe(TOTAL);
    await eventually(async () => (await streamCount(nc, names.stream)) >= TOTAL, 300_000, 100);

    third.proc.kill('SIGTERM');
    const exit = await third.exited;
    await watcher;
    if (exit.code !== 0)
      throw new Error(`relay did not stop cleanly (${JSON.stringify(exit)}):\n${third.output.join('')}`);
    expect(third.output.join('')).toContain('outbox relay stopped');

    const stored = await store.readAll();
    const msgs = await readStreamMessages(nc, names.stream);
    expect(await streamCount(nc, names.stream)).toBe(TOTAL);
    expect(msgs).toHaveLength(TOTAL);
    const positions = msgs.map((m) => Number(m.headers['aevo-position']));
    expect(positions).toEqual(stored.map((e) => e.position));
    expect(msgs.map((m) => m.headers['ce-id'])).toEqual(stored.map((e) => e.id));
    expect(msgs.map((m) => (m.body as { id: string }).id)).toEqual(stored.map((e) => e.id));
    expect(new Set(msgs.map((m) => m.headers['Nats-Msg-Id'])).size).toBe(TOTAL);
    // Each relay started where JetStream stood (the later ones above 0).
    const resumes = children.map(
      (c) => /"msg":"resuming from JetStream","position":(\d+)/.exec(c.output.join(''))?.[1],
    );
    if (process.env.AEVO_TEST_VERBOSE) console.log({ appendedAtKills, resumes });
    expect(resumes[0]).toBe('0');
    expect(Number(resumes[1])).toBeGreaterThanOrEqual(2000);
    expect(Number(resumes[2])).toBeGreaterThanOrEqual(6000);
  });
});
