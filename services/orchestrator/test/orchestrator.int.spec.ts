import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { execFileSync } from 'node:child_process';
import {
  AbortCampaign,
  CampaignStarted,
  canonicalJson,
  CommandEnvelope,
  DEFAULT_CLAUDE_MODEL,
  DomainError,
  JobId,
  MAX_CAMPAIGN_ID_LENGTH,
  PauseCampaign,
  RoundStarted,
  sha256Hex,
  Slug,
  StartCampaign,
  StartRound,
  StreamId,
  type CommandReply,
} from '@aevo/contracts';
import { evaluationIdOf, jobIdOf } from '@aevo/worker-kit';
import { PostgresEventStore } from '@aevo/eventstore';
import { CommandClient, createServiceApp, type ServiceApp } from '@aevo/messaging';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { createTestDb, createTestNatsNames, type TestDb, type TestNatsNames } from '@aevo/testkit';
import { AppModule } from '../src/app.module';
import { CampaignService } from '../src/campaign/campaign.service';
import { DEPLOY_ROOT, MAX_INPUT_FILE_BYTES } from '../src/campaign/campaign-inputs';
import { cancelCommandId, unsealCommandId } from '../src/campaign/campaign-reactions';
import { submissionIdOf } from '../src/domain/campaign';

jest.setTimeout(180_000);

describe('orchestrator replicas against PostgreSQL and nats-server', () => {
  let db: TestDb;
  let names: TestNatsNames;
  let store: PostgresEventStore;
  let substrateDir: string;
  let constitutionsDir: string;
  let outsideDir: string;
  let client: CommandClient;
  const replicas: ServiceApp[] = [];

  const campaignPayload = (campaignId: string) => ({
    campaignId,
    substratePath: substrateDir,
    constitutionPath: 'constitutions/default.yaml',
    rounds: 3,
    workersPerRound: 4,
    axes: ['learning-rate', 'data-mix'],
    anchorSeeds: 2,
    seed: 7,
    budgets: { gpuSeconds: 3600, llmTokens: 0, submissionsPerRound: 2 },
    // These tests start rounds by command; the automatic lifecycle has its own suite.
    roundStart: 'manual' as const,
  });
  const eventsOfType = async (type: string, campaignId?: string) => store.readAll({ types: [type], campaignId });

  beforeAll(async () => {
    db = await createTestDb();
    names = createTestNatsNames();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    substrateDir = writeSubstrateFixture(fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-orch-substrate-')));
    // The fixture substrate is the only one StartCampaign may read (constitutions: the repository's default root).
    process.env.AEVO_SUBSTRATE_ROOTS = substrateDir;
    // A second constitution root holding what an operator should never put there: a FIFO and a huge file.
    constitutionsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-orch-constitutions-'));
    execFileSync('mkfifo', [path.join(constitutionsDir, 'fifo.yaml')]);
    fs.closeSync(fs.openSync(path.join(constitutionsDir, 'huge.yaml'), 'w'));
    fs.truncateSync(path.join(constitutionsDir, 'huge.yaml'), MAX_INPUT_FILE_BYTES + 1);
    process.env.AEVO_CONSTITUTION_ROOTS = [path.join(DEPLOY_ROOT, 'constitutions'), constitutionsDir].join(
      path.delimiter,
    );
    outsideDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-orch-outside-'));
    fs.writeFileSync(path.join(outsideDir, 'secret.yaml'), 'topsecretkey: "hunter2-value"\nname: leaked\n');
    execFileSync('mkfifo', [path.join(outsideDir, 'fifo.yaml')]);
    // Two replicas, each with its own store connection pool, in one queue group.
    for (let i = 0; i < 2; i++) {
      const replica = await createServiceApp(AppModule, {
        service: 'orchestrator',
        natsUrl: names.url,
        subjectPrefix: names.subjectPrefix,
        stream: names.stream,
        databaseUrl: db.url,
        dbSchema: db.schema,
        openStore: (cfg) =>
          PostgresEventStore.open({ connectionString: cfg.databaseUrl, schema: cfg.dbSchema, poolSize: 4 }),
        logger: ['error'],
      });
      await replica.app.listen();
      replicas.push(replica);
    }
    client = await CommandClient.connect({ natsUrl: names.url, subjectPrefix: names.subjectPrefix, timeoutMs: 30_000 });
  });

  afterAll(async () => {
    delete process.env.AEVO_SUBSTRATE_ROOTS;
    delete process.env.AEVO_CONSTITUTION_ROOTS;
    for (const d of [constitutionsDir, outsideDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
    await client?.close();
    for (const r of replicas) await r.app.close();
    await store?.close();
    const nc = await connect({ servers: names.url });
    await (await jetstreamManager(nc)).streams.delete(names.stream).catch(() => undefined);
    await nc.close();
    await db?.drop();
    fs.rmSync(substrateDir, { recursive: true, force: true });
  });

  it('starts a campaign once, pinning the sha256 of the constitution file, and answers a retry as a duplicate', async () => {
    const first = await client.send(StartCampaign, campaignPayload('camp-a'), { commandId: 'cmd-start-camp-a' });
    const bytes = fs.readFileSync(path.join(DEPLOY_ROOT, 'constitutions/default.yaml'));
    expect(first).toEqual({
      ok: true,
      commandId: 'cmd-start-camp-a',
      duplicate: false,
      result: { campaignId: 'camp-a', constitutionSha256: sha256Hex(bytes), policyRevision: 0 },
    });
    const retry = await client.send(StartCampaign, campaignPayload('camp-a'), { commandId: 'cmd-start-camp-a' });
    expect(retry).toEqual({ ...first, duplicate: true });
    const other = await client.send(StartCampaign, campaignPayload('camp-a'));
    expect(!other.ok && other.error.code).toBe('CAMPAIGN_EXISTS');

    const started = await eventsOfType(CampaignStarted.type, 'camp-a');
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      streamId: 'campaign-camp-a',
      source: 'orchestrator',
      causationId: 'cmd-start-camp-a',
    });
    expect((started[0].data as { initialPolicy: { standingRecipe: unknown } }).initialPolicy.standingRecipe).toEqual({
      lr: 0.001,
      steps: 100,
      mix: { gravity: 1, cipher: 1 },
    });
  });

  it('refuses a campaign whose files are missing or invalid, naming each field, and writes nothing', async () => {
    const head = await store.headPosition();
    const reply = await client.send(StartCampaign, {
      ...campaignPayload('camp-bad'),
      constitutionPath: 'constitutions/nope.yaml',
      substratePath: '/nonexistent/substrate',
    });
    expect(reply.ok).toBe(false);
    if (reply.ok) return;
    expect(reply.error.code).toBe('INVALID_CAMPAIGN_INPUTS');
    expect(reply.error.issues.map((i) => i.path)).toEqual(['payload.constitutionPath', 'payload.substratePath']);
    expect(await store.headPosition()).toBe(head);
  });

  it('records the campaign’s Claude model, and refuses a retired or unknown one naming payload.claudeModel, writing nothing', async () => {
    expect((await client.send(StartCampaign, campaignPayload('camp-default-model'))).ok).toBe(true);
    const [defaulted] = await eventsOfType(CampaignStarted.type, 'camp-default-model');
    expect((defaulted.data as { config: { claudeModel?: string } }).config.claudeModel).toBe(DEFAULT_CLAUDE_MODEL);
    expect(
      (await client.send(StartCampaign, { ...campaignPayload('camp-opus'), claudeModel: 'claude-opus-4-8' })).ok,
    ).toBe(true);
    const [opus] = await eventsOfType(CampaignStarted.type, 'camp-opus');
    expect((opus.data as { config: { claudeModel?: string } }).config.claudeModel).toBe('claude-opus-4-8');

    const head = await store.headPosition();
    // Retired on 2026-11-30 by the installed SDK's deprecation list (this check runs on the real clock, after that day).
    const retired = await client.send(StartCampaign, {
      ...campaignPayload('camp-retired-model'),
      claudeModel: 'claude-sonnet-4-5',
    });
    expect(retired).toMatchObject({
      ok: false,
      error: {
        code: 'INVALID_CLAUDE_MODEL',
        issues: [
          {
            path: 'payload.claudeModel',
            message:
              'Claude model claude-sonnet-4-5 was retired on 2026-11-30; use a current one, e.g. claude-sonnet-5-5',
          },
        ],
      },
    });
    const unknown = await client.send(StartCampaign, {
      ...campaignPayload('camp-unknown-model'),
      claudeModel: 'claude-test',
    });
    expect(unknown).toMatchObject({
      ok: false,
      error: { code: 'INVALID_CLAUDE_MODEL', issues: [{ path: 'payload.claudeModel' }] },
    });
    expect(await store.headPosition()).toBe(head);
  });

  it('starts a round exactly once when two replicas race on the same command (over NATS)', async () => {
    await client.send(StartCampaign, campaignPayload('camp-race'));
    const sameId = 'cmd-start-round-race-1';
    const requests: Array<Promise<CommandReply>> = [];
    for (let i = 0; i < 24; i++)
      requests.push(
        client.send(StartRound, { campaignId: 'camp-race', round: 1 }, i % 2 === 0 ? { commandId: sameId } : {}),
      );
    const replies = await Promise.all(requests);

    const roundStarted = await eventsOfType(RoundStarted.type, 'camp-race');
    expect(roundStarted).toHaveLength(1);
    const winner = roundStarted[0].causationId;
    const applied = replies.filter((r) => r.ok && !r.duplicate);
    expect(applied).toHaveLength(1);
    expect(applied[0].commandId).toBe(winner);
    for (const r of replies) {
      if (r.ok) expect(r.commandId).toBe(winner);
      else expect(r.error.code).toBe('ROUND_ALREADY_STARTED');
    }
    // Every retry of the winning command got the same answer.
    const results = replies.filter((r) => r.ok).map((r) => (r.ok ? canonicalJson(r.result) : ''));
    expect(new Set(results).size).toBe(1);
  });

  it('starts a round exactly once when the two replicas’ services race directly', async () => {
    await client.send(StartCampaign, campaignPayload('camp-race-2'));
    const [a, b] = replicas.map((r) => r.app.get(CampaignService));
    const cmd = (i: number) => ({
      commandId: `cmd-direct-race-${i}-${Date.now()}`,
      name: 'StartRound' as const,
      issuedBy: 'test',
      correlationId: null,
      payload: { campaignId: 'camp-race-2', round: 1 },
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? a : b).startRound(cmd(i))),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes)
      if (o.status === 'rejected')
        expect(o.reason instanceof DomainError && (o.reason as DomainError).code).toBe('ROUND_ALREADY_STARTED');
    expect(await eventsOfType(RoundStarted.type, 'camp-race-2')).toHaveLength(1);
  });

  it('answers 1,000 generated malformed commands with structured errors, changes nothing, and stays up', async () => {
    const head = await store.headPosition();
    const validRound = {
      commandId: 'cmd-valid-round-0001',
      name: 'StartRound',
      payload: { campaignId: 'camp-a', round: 1 },
    };
    const validCampaign = {
      commandId: 'cmd-valid-campaign-01',
      name: 'StartCampaign',
      payload: campaignPayload('camp-fuzz'),
    };
    // Each mutation breaks one field in a way the schema must name; no generated value is valid where it is put.
    const badValue = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.double().filter((x) => !Number.isInteger(x)),
      fc.constantFrom('', ' ', 'a.b', '*', '>'),
      fc.array(fc.integer(), { maxLength: 2 }),
      fc.constant({}),
    );
    const mutate = (base: object, paths: string[], value: fc.Arbitrary<unknown>) =>
      fc.record({ base: fc.constant(base), path: fc.constantFrom(...paths), value });
    const mutation = fc.oneof(
      mutate(validRound, ['commandId', 'name', 'payload', 'payload.campaignId', 'payload.round'], badValue),
      mutate(
        validRound,
        ['commandId', 'name', 'payload', 'payload.campaignId', 'payload.round'],
        fc.constant(undefined),
      ),
      mutate(
        validCampaign,
        [
          'payload.campaignId',
          'payload.rounds',
          'payload.workersPerRound',
          'payload.axes',
          'payload.seed',
          'payload.budgets',
          'payload.budgets.submissionsPerRound',
        ],
        badValue,
      ),
      mutate(
        validCampaign,
        ['commandId', 'payload.substratePath', 'payload.rounds', 'payload.budgets'],
        fc.constant(undefined),
      ),
      // Valid Slugs, too long for the ids derived from them.
      mutate(
        validCampaign,
        ['payload.campaignId'],
        fc.integer({ min: MAX_CAMPAIGN_ID_LENGTH + 1, max: 120 }).map((n) => 'c'.repeat(n)),
      ),
      mutate(validRound, ['surplus', 'payload.surplus'], fc.jsonValue({ maxDepth: 2 })),
      mutate(validCampaign, ['surplus', 'payload.surplus', 'payload.budgets.surplus'], fc.jsonValue({ maxDepth: 2 })),
    );
    const setPath = (obj: unknown, p: string, value: unknown) => {
      const copy = JSON.parse(JSON.stringify(obj)) as Record<string, unknown>;
      const keys = p.split('.');
      let o = copy;
      for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
      if (value === undefined) delete o[keys[keys.length - 1]];
      else o[keys[keys.length - 1]] = value;
      return copy;
    };
    const notJson = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    });
    const malformed = fc.oneof(
      {
        weight: 6,
        arbitrary: mutation.map((m) => ({
          kind: 'mutation' as const,
          subject: (m.base as { name: string }).name,
          body: setPath(m.base, m.path, m.value),
          path: m.path,
        })),
      },
      {
        weight: 2,
        arbitrary: notJson.map((s) => ({ kind: 'text' as const, subject: 'StartRound', body: s, path: '(root)' })),
      },
      {
        weight: 2,
        arbitrary: fc
          .jsonValue({ maxDepth: 3 })
          .map((v) => ({ kind: 'json' as const, subject: 'StartCampaign', body: v, path: null })),
      },
    );
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(malformed, async (m) => {
        const reply = await client.sendRaw(m.subject, m.kind === 'text' ? (m.body as string) : JSON.stringify(m.body));
        checked++;
        expect(reply.ok).toBe(false);
        if (reply.ok) return;
        expect(['INVALID_JSON', 'INVALID_COMMAND']).toContain(reply.error.code);
        expect(reply.error.message.length).toBeGreaterThan(0);
        expect(reply.error.issues.length).toBeGreaterThan(0);
        for (const i of reply.error.issues) {
          expect(typeof i.path).toBe('string');
          expect(i.message.length).toBeGreaterThan(0);
        }
        if (m.kind === 'mutation') {
          const named = reply.error.issues.map((i) => i.path);
          const parent = m.path.split('.').slice(0, -1).join('.');
          // A surplus key is reported on the object holding it; a wrong object is reported at or below its path.
          const expected = m.path.endsWith('surplus') ? (parent === '' ? '(root)' : parent) : m.path;
          expect(named.some((p) => p === expected || p.startsWith(`${expected}.`))).toBe(true);
        }
        if (m.kind === 'text') expect(reply.error.code).toBe('INVALID_JSON');
      }),
      { numRuns: 1000 },
    );
    expect(checked).toBe(1000);
    expect(await store.headPosition()).toBe(head);
    const after = await client.send(StartCampaign, campaignPayload('camp-after-fuzz'));
    expect(after.ok).toBe(true);
  });

  it('refuses input paths outside the roots with one answer that echoes nothing, and FIFOs, devices and huge files by name, writing nothing', async () => {
    const head = await store.headPosition();
    const strip = (r: CommandReply) => (r.ok ? r : { ...r, commandId: null });
    const outside = [
      path.join(outsideDir, 'secret.yaml'),
      path.join(outsideDir, 'missing.yaml'),
      path.join(outsideDir, 'fifo.yaml'),
      '/etc/shadow',
      '/etc/passwd',
      '/dev/zero',
      '/proc/self/environ',
      '../../../../../../etc/passwd',
      'constitutions/../../../../../../etc/hostname',
    ];
    const replies = await Promise.all(
      outside.map((p) => client.send(StartCampaign, { ...campaignPayload('camp-hostile'), constitutionPath: p })),
    );
    for (const r of replies) {
      expect(strip(r)).toEqual(strip(replies[0]));
      expect(JSON.stringify(r)).not.toMatch(/topsecretkey|hunter2|leaked|root:/);
    }
    expect(replies[0]).toMatchObject({
      ok: false,
      error: { code: 'INVALID_CAMPAIGN_INPUTS', issues: [{ path: 'payload.constitutionPath' }] },
    });
    const substrates = await Promise.all(
      ['/etc', outsideDir, '/nonexistent', '/dev'].map((p) =>
        client.send(StartCampaign, { ...campaignPayload('camp-hostile'), substratePath: p }),
      ),
    );
    for (const r of substrates) expect(strip(r)).toEqual(strip(substrates[0]));
    expect(substrates[0]).toMatchObject({ ok: false, error: { issues: [{ path: 'payload.substratePath' }] } });
    // Inside a root: named, never read.
    const fifo = await client.send(StartCampaign, {
      ...campaignPayload('camp-hostile'),
      constitutionPath: path.join(constitutionsDir, 'fifo.yaml'),
    });
    expect(fifo).toMatchObject({
      ok: false,
      error: {
        code: 'INVALID_CAMPAIGN_INPUTS',
        issues: [{ path: 'payload.constitutionPath', message: 'the file is not a regular file' }],
      },
    });
    const huge = await client.send(StartCampaign, {
      ...campaignPayload('camp-hostile'),
      constitutionPath: 'huge.yaml',
    });
    expect(huge).toMatchObject({
      ok: false,
      error: { issues: [{ path: 'payload.constitutionPath', message: expect.stringMatching(/larger than/) }] },
    });
    expect(await store.headPosition()).toBe(head);
    // The service is still answering.
    expect((await client.send(StartCampaign, campaignPayload('camp-after-hostile'))).ok).toBe(true);
  });

  it('binds a command id to its command and body: reuse with another body, campaign or command is IDEMPOTENCY_CONFLICT, the exact retry a duplicate', async () => {
    const commandId = 'cmd-idem-bound-0001';
    const first = await client.send(StartCampaign, campaignPayload('camp-idem'), { commandId });
    expect(first.ok).toBe(true);
    const head = await store.headPosition();
    const conflicts = [
      await client.send(StartCampaign, { ...campaignPayload('camp-idem'), rounds: 2 }, { commandId }),
      await client.send(StartCampaign, campaignPayload('camp-idem-other'), { commandId }),
      await client.send(PauseCampaign, { campaignId: 'camp-idem', reason: 'reused id' }, { commandId }),
      await client.send(AbortCampaign, { campaignId: 'camp-a', reason: 'reused id' }, { commandId }),
      await client.send(StartRound, { campaignId: 'camp-idem', round: 1 }, { commandId }),
    ];
    for (const r of conflicts)
      expect(r).toMatchObject({
        ok: false,
        commandId,
        error: { code: 'IDEMPOTENCY_CONFLICT', issues: [{ path: 'commandId' }] },
      });
    expect(await store.headPosition()).toBe(head);
    expect(await client.send(StartCampaign, campaignPayload('camp-idem'), { commandId })).toEqual({
      ...first,
      duplicate: true,
    });
    // The same holds for a later command's id.
    const paused = await client.send(
      PauseCampaign,
      { campaignId: 'camp-idem', reason: 'first' },
      { commandId: 'cmd-idem-pause-0001' },
    );
    expect(paused.ok).toBe(true);
    expect(
      await client.send(
        PauseCampaign,
        { campaignId: 'camp-idem', reason: 'second' },
        { commandId: 'cmd-idem-pause-0001' },
      ),
    ).toMatchObject({ ok: false, error: { code: 'IDEMPOTENCY_CONFLICT' } });
    expect(
      await client.send(
        PauseCampaign,
        { campaignId: 'camp-idem', reason: 'first' },
        { commandId: 'cmd-idem-pause-0001' },
      ),
    ).toEqual({ ...paused, duplicate: true });
  });

  it('runs a round of the longest allowed campaign id with every derived id valid, and refuses a longer (120-character) id up front', async () => {
    const longest = `L${'x'.repeat(MAX_CAMPAIGN_ID_LENGTH - 1)}`;
    expect((await client.send(StartCampaign, campaignPayload(longest))).ok).toBe(true);
    const round = await client.send(StartRound, { campaignId: longest, round: 1 });
    expect(round.ok).toBe(true);
    const [started] = await eventsOfType(RoundStarted.type, longest);
    const candidates = (started.data as { candidates: Array<{ candidateId: string }> }).candidates.map(
      (c) => c.candidateId,
    );
    expect(candidates.length).toBeGreaterThan(0);
    // The widest a campaign can get: round 1000, candidate 512, worker step 999999, checkpoint 999.
    const widest = `${longest}-r1000-c512`;
    for (const cid of [...candidates, widest]) {
      for (const job of [
        jobIdOf(cid, 999_999, 'train'),
        jobIdOf(cid, 999_999, 'prep'),
        `${evaluationIdOf(cid, 999_999)}-eval-999`,
        `${submissionIdOf(cid)}-predict`,
      ]) {
        expect({ job, ok: JobId.safeParse(job).success }).toEqual({ job, ok: true });
        expect(StreamId.safeParse(`job-${job}`).success).toBe(true);
        expect(CommandEnvelope.shape.commandId.safeParse(cancelCommandId(job)).success).toBe(true);
      }
      expect(Slug.safeParse(cid).success).toBe(true);
      expect(StreamId.safeParse(`evaluation:${longest}:${evaluationIdOf(cid, 999_999)}`).success).toBe(true);
      expect(StreamId.safeParse(`candidate-${cid}`).success).toBe(true);
    }
    expect(CommandEnvelope.shape.commandId.safeParse(unsealCommandId(longest)).success).toBe(true);
    const head = await store.headPosition();
    const tooLong = await client.send(StartCampaign, campaignPayload('c'.repeat(120)));
    expect(tooLong).toMatchObject({
      ok: false,
      error: { code: 'INVALID_COMMAND', issues: [{ path: 'payload.campaignId' }] },
    });
    expect(await store.headPosition()).toBe(head);
  });
});
