import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createEvent, RoundClosed, type EventEnvelope } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { defaultRegistry, registerProjection, sampleCampaignLog } from '@aevo/projections';
import { createTestDb, eventually, type TestDb } from '@aevo/testkit';
import { runCli, type CliIo } from '../src';

jest.setTimeout(120_000);

const BIN = path.resolve(__dirname, '../dist/main.js');

describe('aevo CLI against PostgreSQL', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  let log: EventEnvelope[];

  const run = async (args: string[], extra: Partial<CliIo> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(args, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { AEVO_DATABASE_URL: db.url, AEVO_DB_SCHEMA: db.schema },
      openStore: (env) =>
        PostgresEventStore.open({
          connectionString: env.AEVO_DATABASE_URL as string,
          schema: env.AEVO_DB_SCHEMA,
          poolSize: 2,
        }),
      ...extra,
    });
    return { code, out, err };
  };

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    log = [
      ...sampleCampaignLog({ campaignId: 'alpha', seed: 1, rounds: 2 }),
      ...sampleCampaignLog({ campaignId: 'beta', seed: 2, rounds: 1 }),
    ];
    for (const e of log) await store.append(e.streamId, 'any', [e]);
  });

  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('audit replay prints a content hash per projection', async () => {
    const { code, out } = await run(['audit', 'replay']);
    expect(code).toBe(0);
    expect(out[0]).toBe(`replayed ${log.length} event(s) from position 0 to ${log.length}`);
    for (const name of defaultRegistry().names())
      expect(out.some((l) => new RegExp(`^${name}\\s+[0-9a-f]{64}\\s+\\d+ event\\(s\\)`).test(l))).toBe(true);
  });

  it('audit replay --verify replays twice and agrees; --json and --projection narrow the output', async () => {
    const verified = await run(['audit', 'replay', '--verify']);
    expect(verified.code).toBe(0);
    expect(
      verified.out.some((l) =>
        /^verified: two replays of positions 1\.\.\d+ agree on all \d+ projection hashes$/.test(l),
      ),
    ).toBe(true);
    expect(verified.out[verified.out.length - 1]).toMatch(
      /^verified: \d+ hash\(es\) recorded in events .* recomputed and equal$/,
    );

    const json = await run(['audit', 'replay', '--json', '--projection', 'rounds,trajectory']);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.out[0]) as { upTo: number; projections: Array<{ name: string; hash: string }> };
    expect(doc.upTo).toBe(log.length);
    expect(doc.projections.map((p) => p.name)).toEqual(['rounds', 'trajectory']);
    const plain = await run(['audit', 'replay']);
    for (const p of doc.projections)
      expect(plain.out.some((l) => l.startsWith(p.name) && l.includes(p.hash))).toBe(true);
  });

  it('refuses unknown projections and bad options with a usage error', async () => {
    const unknown = await run(['audit', 'replay', '--projection', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.err.join('\n')).toMatch(/unknown projection\(s\): nope/);
    const badLimit = await run(['events', 'tail', '--limit', '0']);
    expect(badLimit.code).toBe(2);
    expect(badLimit.err.join('\n')).toMatch(/--limit: expected a positive integer/);
    expect((await run(['no-such-command'])).code).toBe(2);
  });

  it('events tail prints the last events, filtered by campaign and type', async () => {
    const last = await run(['events', 'tail', '--limit', '3']);
    expect(last.code).toBe(0);
    expect(last.out).toHaveLength(3);
    expect(last.out[2]).toMatch(
      new RegExp(`^\\s*${log.length} \\S+ beta campaign-beta@\\d+ CampaignCompleted \\(orchestrator\\) \\{`),
    );

    const rounds = await run(['events', 'tail', '--campaign', 'alpha', '--type', 'RoundStarted', '--json']);
    const parsed = rounds.out.map(
      (l) => JSON.parse(l) as { type: string; campaignId: string; data: { round: number } },
    );
    expect(parsed.map((e) => [e.campaignId, e.type, e.data.round])).toEqual([
      ['alpha', 'RoundStarted', 1],
      ['alpha', 'RoundStarted', 2],
    ]);

    const from = await run(['events', 'tail', '--from', '2', '--limit', '2', '--json']);
    expect(from.out.map((l) => (JSON.parse(l) as { position: number }).position)).toEqual([3, 4]);
  });

  it('events tail --follow prints new events as they are appended', async () => {
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const out: string[] = [];
    const following = runCli(['events', 'tail', '--type', 'RoundClosed', '--limit', '1', '--follow'], {
      out: (l) => out.push(l),
      err: () => undefined,
      env: { AEVO_DATABASE_URL: db.url, AEVO_DB_SCHEMA: db.schema },
      openStore: (env) =>
        PostgresEventStore.open({
          connectionString: env.AEVO_DATABASE_URL as string,
          schema: env.AEVO_DB_SCHEMA,
          poolSize: 2,
        }),
      stopSignal: () => stopped,
    });
    await eventually(() => out.length === 1, 30_000);
    const fresh = createEvent(
      RoundClosed,
      { round: 99, policyRevision: 0, bestPublicLb: 0.5 },
      { campaignId: 'gamma', streamId: 'campaign-gamma', source: 'orchestrator' },
    );
    await store.append(fresh.streamId, 'any', [fresh]);
    await eventually(() => out.some((l) => l.includes(fresh.campaignId) && l.includes('"round":99')), 30_000);
    stop();
    expect(await following).toBe(0);
    expect(out).toHaveLength(2);
  });

  it('audit replay --verify fails (exit 1) when a projection is not a pure fold', async () => {
    // Deliberately impure: the snapshot depends on a counter outside the fold.
    let calls = 0;
    registerProjection({
      name: 'impure-test',
      description: 'not a fold',
      initial: () => 0,
      apply: (s) => s,
      snapshot: () => ({ calls: ++calls }),
    });
    const { code, err } = await run(['audit', 'replay', '--verify']);
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/MISMATCH impure-test/);
    expect(err.join('\n')).toMatch(/verification failed: 1 projection\(s\) differ/);
  });

  it('runs as the `aevo` binary with AEVO_DATABASE_URL and AEVO_DB_SCHEMA', () => {
    if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npx nx run @aevo/cli:build)`);
    const r = spawnSync(process.execPath, [BIN, 'audit', 'replay', '--verify'], {
      env: { ...process.env, AEVO_DATABASE_URL: db.url, AEVO_DB_SCHEMA: db.schema },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^replayed \d+ event\(s\)/);
    expect(r.stdout).toMatch(/verified: two replays/);
    const bad = spawnSync(process.execPath, [BIN, 'audit', 'replay'], {
      env: { ...process.env, AEVO_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', AEVO_DB_SCHEMA: db.schema },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/^aevo: /);
  });
});
