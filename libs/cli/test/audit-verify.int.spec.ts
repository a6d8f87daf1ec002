import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createEvent, ManifestSubmitted } from '@aevo/contracts';
import {
  chainLink,
  eventContentHash,
  metadataHash,
  PostgresEventStore,
  relayHeaders,
  relayPayload,
} from '@aevo/eventstore';
import { sampleCampaignLog } from '@aevo/projections';
import { createTestDb, createTestNatsNames, type TestDb } from '@aevo/testkit';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { Client } from 'pg';
import { flipOneByte, seeded } from '../../eventstore/test/tamper';
import { runCli } from '../src';
import { evaluationFacts, type Manifest } from './evaluation-facts';

jest.setTimeout(180_000);

describe('aevo audit replay --verify: chain, claims, JetStream copy', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  let raw: Client;
  const env = () => ({ AEVO_DATABASE_URL: db.url, AEVO_DB_SCHEMA: db.schema });
  const run = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(args, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { ...env(), ...extraEnv },
      openStore: (e) =>
        PostgresEventStore.open({
          connectionString: e.AEVO_DATABASE_URL as string,
          schema: e.AEVO_DB_SCHEMA,
          poolSize: 2,
        }),
    });
    return { code, out, err };
  };

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    raw = new Client({ connectionString: db.url });
    await raw.connect();
    const log = [
      ...sampleCampaignLog({ campaignId: 'alpha', seed: 1, rounds: 2 }),
      ...sampleCampaignLog({ campaignId: 'beta', seed: 2, rounds: 1 }),
    ];
    for (const e of log) {
      // alpha's manifests cite evaluation facts; beta's log has none (checked as skipped).
      if (e.type === 'ManifestSubmitted' && e.campaignId === 'alpha')
        for (const f of evaluationFacts(e)) await store.append(f.streamId, 'any', [f]);
      await store.append(e.streamId, 'any', [e]);
    }
  });
  afterAll(async () => {
    await store?.close();
    await raw?.end();
    await db?.drop();
  });

  it('passes on an untouched log, saying which claims it could not check', async () => {
    const { code, out, err } = await run(['audit', 'replay', '--verify']);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const head = await store.headPosition();
    expect(out).toContain(`verified: hash chain over positions 1..${head}`);
    expect(out.find((l) => l.includes('claim(s) of manifests'))).toMatch(/^verified: [1-9]\d* claim\(s\)/);
    expect(
      out.some((l) =>
        new RegExp(
          String.raw`^skipped: beta: the scores of [1-9]\d* manifest\(s\) \(positions [\d, ]+\): ` +
            'the campaign has no evaluation facts',
        ).test(l),
      ),
    ).toBe(true);
    expect(out[0]).toMatch(/^replayed \d+ event\(s\)/);
  });

  it(
    'a single flipped byte in one stored event of any type (each ' + 'type in turn) fails it and names that position',
    async () => {
      const events = await store.readAll();
      const types = [...new Set(events.map((e) => e.type))].sort();
      // AEVO_FLIP_SEED replays a failing draw (the seed is in every failure's context).
      const seed = Number(process.env.AEVO_FLIP_SEED ?? Date.now() % 1_000_000);
      const rnd = seeded(seed);
      // Every event type in the log once (the event, column and byte drawn at random), the attacker's examples first.
      const draws = [
        'CheckpointEvaluated',
        'CheckpointSelected',
        ...types.filter((t) => t !== 'CheckpointEvaluated' && t !== 'CheckpointSelected'),
      ];
      for (const type of draws) {
        const ofType = events.filter((e) => e.type === type);
        const position = ofType[Math.floor(rnd() * ofType.length)].position;
        const { column, undo } = await flipOneByte(raw, db.schema, position, rnd);
        try {
          const { code, err } = await run(['audit', 'replay', '--verify']);
          const context = `seed ${seed}: ${type} at ${position}, ${column}`;
          expect({ context, code, first: err.find((l) => l.startsWith('hash chain broken')) }).toEqual({
            context,
            code: 1,
            first: expect.stringContaining(`first at position ${position},`),
          });
          expect(err.filter((l) => l.startsWith('MISMATCH chain:'))).toEqual([
            expect.stringMatching(new RegExp(`^MISMATCH chain: position ${position} `)),
          ]);
        } finally {
          await undo();
        }
      }
      expect((await run(['audit', 'replay', '--verify'])).code).toBe(0);
    },
  );

  it('an edited score in a CheckpointEvaluated fails both the chain and the manifest claim that cites it', async () => {
    const ev = (await store.readAll({ types: ['CheckpointEvaluated'] }))[0];
    const table = `"${db.schema}".events`;
    await raw.query(`ALTER TABLE ${table} DISABLE TRIGGER events_append_only`);
    await raw.query(`UPDATE ${table} SET data = jsonb_set(data, '{dev,overall}', '0.999') WHERE position = $1`, [
      ev.position,
    ]);
    try {
      const { code, err } = await run(['audit', 'replay', '--verify']);
      expect(code).toBe(1);
      expect(err).toContainEqual(
        expect.stringMatching(new RegExp(`^MISMATCH chain: position ${ev.position} \\(CheckpointEvaluated`)),
      );
      expect(err).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^MISMATCH alpha: ManifestSubmitted at position \\d+ .* claims checkpoint .*; ` +
              `CheckpointEvaluated at position ${ev.position} says step \\d+ dev.overall 0.999`,
          ),
        ),
      );
    } finally {
      await raw.query(`UPDATE ${table} SET data = $2::jsonb WHERE position = $1`, [
        ev.position,
        JSON.stringify(ev.data),
      ]);
      await raw.query(`ALTER TABLE ${table} ENABLE TRIGGER events_append_only`);
    }
  });

  it('a manifest edited out of its schema is a finding, not a crash (seed 398595 once renamed a key)', async () => {
    const m = (await store.readAll({ types: ['ManifestSubmitted'], campaignId: 'alpha' }))[0];
    const table = `"${db.schema}".events`;
    await raw.query(`ALTER TABLE ${table} DISABLE TRIGGER events_append_only`);
    await raw.query(
      `UPDATE ${table} SET data = jsonb_set(data #- '{manifest,checkpoints}', '{manifest,checkpointr}', ` +
        `data #> '{manifest,checkpoints}') WHERE position = $1`,
      [m.position],
    );
    try {
      const { code, err } = await run(['audit', 'replay', '--verify']);
      expect(code).toBe(1);
      expect(err).toContainEqual(expect.stringMatching(new RegExp(`^MISMATCH chain: position ${m.position} `)));
      expect(err).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^MISMATCH alpha: ManifestSubmitted at position ${m.position} does not match its schema \\(manifest`,
          ),
        ),
      );
    } finally {
      await raw.query(`UPDATE ${table} SET data = $2::jsonb WHERE position = $1`, [m.position, JSON.stringify(m.data)]);
      await raw.query(`ALTER TABLE ${table} ENABLE TRIGGER events_append_only`);
    }
  });

  it('compares the JetStream copy: a stream lacking one event fails, naming its position', async () => {
    const names = createTestNatsNames();
    const nc = await connect({ servers: names.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({
        name: names.stream,
        subjects: [`${names.subjectPrefix}.evt.>`],
        storage: StorageType.File,
        deny_delete: true,
        deny_purge: true,
      });
      const js = jetstream(nc);
      const events = await store.readAll();
      const skip = events[Math.floor(Math.random() * events.length)].position;
      for (const e of events)
        if (e.position !== skip)
          await js.publish(`${names.subjectPrefix}.evt.${e.campaignId}.${e.type}`, relayPayload(e), {
            msgID: e.id,
            headers: relayHeaders(e),
          });
      const natsEnv = { AEVO_NATS_URL: names.url, AEVO_STREAM: names.stream };
      const lacking = await run(['audit', 'replay', '--verify', '--jetstream'], natsEnv);
      expect(lacking.code).toBe(1);
      expect(lacking.err).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^MISMATCH jetstream: position ${skip} \\(.*\\) is missing from JetStream stream ${names.stream}$`,
          ),
        ),
      );
      expect(lacking.err).toContainEqual(
        `MISMATCH jetstream: count: JetStream holds ${events.length - 1} of the store's ${events.length} ` +
          `events at positions 1..${events.length}`,
      );
      // The one missing event published late (out of order, as no relay would): ids and hashes then agree.
      const missing = events.find((e) => e.position === skip)!;
      await js.publish(`${names.subjectPrefix}.evt.${missing.campaignId}.${missing.type}`, relayPayload(missing), {
        msgID: missing.id,
        headers: relayHeaders(missing),
      });
      const whole = await run(['audit', 'replay', '--verify', '--jetstream', names.stream], {
        AEVO_NATS_URL: names.url,
      });
      expect(whole.err).toEqual([]);
      expect(whole.out).toContain(
        `verified: JetStream stream ${names.stream} holds positions 1..${events.length} with the store's ` +
          `ids and content hashes`,
      );
    } finally {
      await (await jetstreamManager(nc)).streams.delete(names.stream).catch(() => undefined);
      await nc.close();
    }
  });

  it(
    'an anchor kept outside the database catches a rewrite whose ' + 'chain was recomputed (the chain alone cannot)',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-anchors-'));
      const file = path.join(dir, 'anchors.jsonl');
      const table = `"${db.schema}".events`;
      const head = await store.headPosition();
      const anchored = await run(['audit', 'anchor', '--file', file]);
      expect(anchored.code).toBe(0);
      expect(JSON.parse(anchored.out[0])).toMatchObject({
        position: head,
        chainHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(fs.readFileSync(file, 'utf8').trim()).toBe(anchored.out[0]);
      const clean = await run(['audit', 'replay', '--verify', '--anchors', file]);
      expect({ code: clean.code, err: clean.err }).toEqual({ code: 0, err: [] });
      expect(clean.out).toContain(`verified: 1 chain anchor(s) in ${file}`);

      // A DBA rewrites one event's time and recomputes every hash after it, as the chain's own rules say.
      const target = 3;
      const saved = (
        await raw.query<{ position: string; time: string; content_hash: string; chain_hash: string }>(
          `SELECT position, time, content_hash, chain_hash FROM ${table} WHERE position >= $1 ORDER BY position`,
          [target],
        )
      ).rows;
      await raw.query(`ALTER TABLE ${table} DISABLE TRIGGER events_append_only`);
      try {
        await raw.query(`UPDATE ${table} SET time = '2020-01-01T00:00:00.000Z' WHERE position = $1`, [target]);
        let previous = (
          await raw.query<{ chain_hash: string }>(`SELECT chain_hash FROM ${table} WHERE position = $1`, [target - 1])
        ).rows[0].chain_hash;
        const rows = (
          await raw.query<{ position: string; metadata: unknown }>(
            `SELECT position, metadata FROM ${table} WHERE position >= $1 ORDER BY position`,
            [target],
          )
        ).rows;
        const events = await store.readAll({ fromPosition: target - 1 });
        for (const [i, e] of events.entries()) {
          const content = eventContentHash(e);
          previous = chainLink(previous, e.position, e.streamVersion, content, metadataHash(rows[i].metadata));
          await raw.query(`UPDATE ${table} SET content_hash = $2, chain_hash = $3 WHERE position = $1`, [
            e.position,
            content,
            previous,
          ]);
        }
        const chainOnly = await run(['audit', 'replay', '--verify']);
        expect(chainOnly.err.filter((l) => l.startsWith('MISMATCH chain'))).toEqual([]);
        const withAnchor = await run(['audit', 'replay', '--verify', '--anchors', file]);
        expect(withAnchor.code).toBe(1);
        expect(withAnchor.err).toContainEqual(
          expect.stringMatching(
            new RegExp(
              `^MISMATCH anchor: position ${head}: chain hash [0-9a-f]{12} ≠ [0-9a-f]{12} anchored at .*: ` +
                `the log up to it was rewritten`,
            ),
          ),
        );
      } finally {
        for (const r of saved)
          await raw.query(`UPDATE ${table} SET time = $2, content_hash = $3, chain_hash = $4 WHERE position = $1`, [
            r.position,
            r.time,
            r.content_hash,
            r.chain_hash,
          ]);
        await raw.query(`ALTER TABLE ${table} ENABLE TRIGGER events_append_only`);
      }
      expect((await run(['audit', 'replay', '--verify', '--anchors', file])).code).toBe(0);
      // A bad anchors file is a usage error naming the line.
      fs.writeFileSync(file, '{"position": 0, "chainHash": "x"}\n');
      const bad = await run(['audit', 'replay', '--verify', '--anchors', file]);
      expect(bad.code).toBe(2);
      expect(bad.err.join('\n')).toMatch(/line 1: expected \{"position"/);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  );

  it(
    'a manifest whose claimed dev score differs from the ' + 'CheckpointEvaluated it cites fails, naming both',
    async () => {
      const fact = (await store.readAll({ types: ['CheckpointEvaluated'] }))[0];
      const f = fact.data as {
        candidateId: string;
        round: number;
        checkpoint: string;
        step: number;
        seed: number;
        dev: { overall: number; domains: Record<string, number> };
      };
      const manifestEvent = (await store.readAll({ types: ['ManifestSubmitted'], campaignId: 'alpha' })).find(
        (e) => (e.data as Manifest).candidateId === f.candidateId,
      )!;
      const m = structuredClone((manifestEvent.data as Manifest & { manifest: Record<string, unknown> }).manifest);
      const inflated = { overall: Math.min(1, f.dev.overall + 0.25), domains: f.dev.domains };
      m.checkpoints = [{ checkpoint: f.checkpoint, step: f.step, seed: f.seed, dev: inflated }];
      m.chosenCheckpoint = { ...(m.chosenCheckpoint as object), checkpoint: f.checkpoint, seed: f.seed, dev: inflated };
      const forged = createEvent(
        ManifestSubmitted,
        { candidateId: f.candidateId, round: f.round, manifest: m as never },
        { campaignId: 'alpha', streamId: manifestEvent.streamId, source: 'worker' },
      );
      const [position] = (await store.append(forged.streamId, 'any', [forged])).positions;
      const { code, err } = await run(['audit', 'replay', '--verify']);
      expect(code).toBe(1);
      expect(err.filter((l) => l.startsWith('MISMATCH chain'))).toEqual([]);
      const claimLines = err.filter((l) => l.startsWith(`MISMATCH alpha: ManifestSubmitted at position ${position} `));
      expect(claimLines).toHaveLength(2); // the checkpoint and the chosen checkpoint
      for (const l of claimLines) {
        expect(l).toContain(`dev.overall ${inflated.overall}`);
        expect(l).toContain(
          `CheckpointEvaluated at position ${fact.position} says step ${f.step} dev.overall ${f.dev.overall}`,
        );
      }
      expect(err[err.length - 1]).toMatch(/^verification failed: /);
    },
  );
});
