import 'reflect-metadata';
import * as fs from 'node:fs';
import * as path from 'node:path';
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
import { OrchestratorWorkflow } from '../src/app/orchestrator-workflow';
import { DEPLOY_ROOT } from '../src/config';
import { cancelCommandId, unsealCommandId } from '../src/app/campaign-reactions';
import { submissionIdOf } from '../src/domain/campaign';
import { orchestratorReplicas } from './orchestrator-replicas';

jest.setTimeout(180_000);

describe('orchestrator replicas against PostgreSQL and nats-server', () => {
  const { ctx, replicas, campaignPayload, eventsOfType } = orchestratorReplicas();

  it(
    'starts a campaign once, pinning the sha256 of the ' + 'constitution file, and answers a retry as a duplicate',
    async () => {
      const first = await ctx.client.send(StartCampaign, campaignPayload('camp-a'), { commandId: 'cmd-start-camp-a' });
      const bytes = fs.readFileSync(path.join(DEPLOY_ROOT, 'constitutions/default.yaml'));
      expect(first).toEqual({
        ok: true,
        commandId: 'cmd-start-camp-a',
        duplicate: false,
        result: { campaignId: 'camp-a', constitutionSha256: sha256Hex(bytes), policyRevision: 0 },
      });
      const retry = await ctx.client.send(StartCampaign, campaignPayload('camp-a'), { commandId: 'cmd-start-camp-a' });
      expect(retry).toEqual({ ...first, duplicate: true });
      const other = await ctx.client.send(StartCampaign, campaignPayload('camp-a'));
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
    },
  );

  it('refuses a campaign whose files are missing or invalid, naming each field, and writes nothing', async () => {
    const head = await ctx.store.headPosition();
    const reply = await ctx.client.send(StartCampaign, {
      ...campaignPayload('camp-bad'),
      constitutionPath: 'constitutions/nope.yaml',
      substratePath: '/nonexistent/substrate',
    });
    expect(reply.ok).toBe(false);
    if (reply.ok) return;
    expect(reply.error.code).toBe('INVALID_CAMPAIGN_INPUTS');
    expect(reply.error.issues.map((i) => i.path)).toEqual(['payload.constitutionPath', 'payload.substratePath']);
    expect(await ctx.store.headPosition()).toBe(head);
  });

  it(
    'records the campaign’s Claude model, and refuses a retired or unknown ' +
      'one naming payload.claudeModel, writing nothing',
    async () => {
      expect((await ctx.client.send(StartCampaign, campaignPayload('camp-default-model'))).ok).toBe(true);
      const [defaulted] = await eventsOfType(CampaignStarted.type, 'camp-default-model');
      expect((defaulted.data as { config: { claudeModel?: string } }).config.claudeModel).toBe(DEFAULT_CLAUDE_MODEL);
      expect(
        (await ctx.client.send(StartCampaign, { ...campaignPayload('camp-opus'), claudeModel: 'claude-opus-4-8' })).ok,
      ).toBe(true);
      const [opus] = await eventsOfType(CampaignStarted.type, 'camp-opus');
      expect((opus.data as { config: { claudeModel?: string } }).config.claudeModel).toBe('claude-opus-4-8');

      const head = await ctx.store.headPosition();
      // Retired on 2026-11-30 by the installed SDK's deprecation list (this check runs on the real clock, after that
      // day).
      const retired = await ctx.client.send(StartCampaign, {
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
      const unknown = await ctx.client.send(StartCampaign, {
        ...campaignPayload('camp-unknown-model'),
        claudeModel: 'claude-test',
      });
      expect(unknown).toMatchObject({
        ok: false,
        error: { code: 'INVALID_CLAUDE_MODEL', issues: [{ path: 'payload.claudeModel' }] },
      });
      expect(await ctx.store.headPosition()).toBe(head);
    },
  );

  it('starts a round exactly once when two replicas race on the same command (over NATS)', async () => {
    await ctx.client.send(StartCampaign, campaignPayload('camp-race'));
    const sameId = 'cmd-start-round-race-1';
    const requests: Array<Promise<CommandReply>> = [];
    for (let i = 0; i < 24; i++)
      requests.push(
        ctx.client.send(StartRound, { campaignId: 'camp-race', round: 1 }, i % 2 === 0 ? { commandId: sameId } : {}),
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
    await ctx.client.send(StartCampaign, campaignPayload('camp-race-2'));
    const [a, b] = replicas.map((r) => r.app.get(OrchestratorWorkflow));
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

  it(
    'refuses input paths outside the roots with one answer that echoes nothing, and ' +
      'FIFOs, devices and huge files by name, writing nothing',
    async () => {
      const head = await ctx.store.headPosition();
      const strip = (r: CommandReply) => (r.ok ? r : { ...r, commandId: null });
      const outside = [
        path.join(ctx.outsideDir, 'secret.yaml'),
        path.join(ctx.outsideDir, 'missing.yaml'),
        path.join(ctx.outsideDir, 'fifo.yaml'),
        '/etc/shadow',
        '/etc/passwd',
        '/dev/zero',
        '/proc/self/environ',
        '../../../../../../etc/passwd',
        'constitutions/../../../../../../etc/hostname',
      ];
      const replies = await Promise.all(
        outside.map((p) => ctx.client.send(StartCampaign, { ...campaignPayload('camp-hostile'), constitutionPath: p })),
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
        ['/etc', ctx.outsideDir, '/nonexistent', '/dev'].map((p) =>
          ctx.client.send(StartCampaign, { ...campaignPayload('camp-hostile'), substratePath: p }),
        ),
      );
      for (const r of substrates) expect(strip(r)).toEqual(strip(substrates[0]));
      expect(substrates[0]).toMatchObject({ ok: false, error: { issues: [{ path: 'payload.substratePath' }] } });
      // Inside a root: named, never read.
      const fifo = await ctx.client.send(StartCampaign, {
        ...campaignPayload('camp-hostile'),
        constitutionPath: path.join(ctx.constitutionsDir, 'fifo.yaml'),
      });
      expect(fifo).toMatchObject({
        ok: false,
        error: {
          code: 'INVALID_CAMPAIGN_INPUTS',
          issues: [{ path: 'payload.constitutionPath', message: 'the file is not a regular file' }],
        },
      });
      const huge = await ctx.client.send(StartCampaign, {
        ...campaignPayload('camp-hostile'),
        constitutionPath: 'huge.yaml',
      });
      expect(huge).toMatchObject({
        ok: false,
        error: { issues: [{ path: 'payload.constitutionPath', message: expect.stringMatching(/larger than/) }] },
      });
      expect(await ctx.store.headPosition()).toBe(head);
      // The service is still answering.
      expect((await ctx.client.send(StartCampaign, campaignPayload('camp-after-hostile'))).ok).toBe(true);
    },
  );

  it(
    'binds a command id to its command and body: reuse with another body, campaign or ' +
      'command is IDEMPOTENCY_CONFLICT, the exact retry a duplicate',
    async () => {
      const commandId = 'cmd-idem-bound-0001';
      const first = await ctx.client.send(StartCampaign, campaignPayload('camp-idem'), { commandId });
      expect(first.ok).toBe(true);
      const head = await ctx.store.headPosition();
      const conflicts = [
        await ctx.client.send(StartCampaign, { ...campaignPayload('camp-idem'), rounds: 2 }, { commandId }),
        await ctx.client.send(StartCampaign, campaignPayload('camp-idem-other'), { commandId }),
        await ctx.client.send(PauseCampaign, { campaignId: 'camp-idem', reason: 'reused id' }, { commandId }),
        await ctx.client.send(AbortCampaign, { campaignId: 'camp-a', reason: 'reused id' }, { commandId }),
        await ctx.client.send(StartRound, { campaignId: 'camp-idem', round: 1 }, { commandId }),
      ];
      for (const r of conflicts)
        expect(r).toMatchObject({
          ok: false,
          commandId,
          error: { code: 'IDEMPOTENCY_CONFLICT', issues: [{ path: 'commandId' }] },
        });
      expect(await ctx.store.headPosition()).toBe(head);
      expect(await ctx.client.send(StartCampaign, campaignPayload('camp-idem'), { commandId })).toEqual({
        ...first,
        duplicate: true,
      });
      // The same holds for a later command's id.
      const paused = await ctx.client.send(
        PauseCampaign,
        { campaignId: 'camp-idem', reason: 'first' },
        { commandId: 'cmd-idem-pause-0001' },
      );
      expect(paused.ok).toBe(true);
      expect(
        await ctx.client.send(
          PauseCampaign,
          { campaignId: 'camp-idem', reason: 'second' },
          { commandId: 'cmd-idem-pause-0001' },
        ),
      ).toMatchObject({ ok: false, error: { code: 'IDEMPOTENCY_CONFLICT' } });
      expect(
        await ctx.client.send(
          PauseCampaign,
          { campaignId: 'camp-idem', reason: 'first' },
          { commandId: 'cmd-idem-pause-0001' },
        ),
      ).toEqual({ ...paused, duplicate: true });
    },
  );

  it(
    'runs a round of the longest allowed campaign id with every derived id ' +
      'valid, and refuses a longer (120-character) id up front',
    async () => {
      const longest = `L${'x'.repeat(MAX_CAMPAIGN_ID_LENGTH - 1)}`;
      expect((await ctx.client.send(StartCampaign, campaignPayload(longest))).ok).toBe(true);
      const round = await ctx.client.send(StartRound, { campaignId: longest, round: 1 });
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
      const head = await ctx.store.headPosition();
      const tooLong = await ctx.client.send(StartCampaign, campaignPayload('c'.repeat(120)));
      expect(tooLong).toMatchObject({
        ok: false,
        error: { code: 'INVALID_COMMAND', issues: [{ path: 'payload.campaignId' }] },
      });
      expect(await ctx.store.headPosition()).toBe(head);
    },
  );
});
