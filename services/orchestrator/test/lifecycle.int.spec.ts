import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  AbortCampaign,
  PauseCampaign,
  ResumeCampaign,
  SnapshotDamaged,
  StartCampaign,
  createEvent,
  type EventEnvelope,
  type RollingPolicy,
} from '@aevo/contracts';
import type { PostgresEventStore } from '@aevo/eventstore';
import { commandSubject, type CommandClient } from '@aevo/messaging';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { eventually, startServiceHarness, type ServiceHarness } from '@aevo/testkit';
import { OrchestratorModule } from '../src/orchestrator.module';
import { factsFor } from './fixtures';

jest.setTimeout(240_000);

/**
 * The orchestrator's round lifecycle through its real edges: two replicas (durable consumers, embedded relay, the
 * tick) on PostgreSQL and nats-server. This suite plays the other services by appending their events to their
 * streams, and answers UnsealPrivateLeaderboard / CancelJob on the command subjects; the cross-service run with the
 * real services is test/e2e at the repository root.
 */
describe('orchestrator round lifecycle (two replicas, real store and JetStream)', () => {
  let h: ServiceHarness;
  let store: PostgresEventStore;
  let substrateDir: string;
  let client: CommandClient;
  let nc: NatsConnection;
  const commandsSeen: Array<{ name: string; commandId: string; payload: Record<string, unknown> }> = [];
  const savedTick = process.env.AEVO_ORCHESTRATOR_TICK_MS;
  const payload = (campaignId: string, extra: Record<string, unknown> = {}) => ({
    campaignId,
    substratePath: substrateDir,
    constitutionPath: 'constitutions/default.yaml',
    rounds: 2,
    workersPerRound: 3,
    axes: ['learning-rate', 'schedule'],
    seed: 11,
    budgets: { gpuSeconds: 10_000, llmTokens: 0, submissionsPerRound: 2 },
    ...extra,
  });
  const ofType = async (campaignId: string, type: string) => store.readAll({ campaignId, types: [type] });
  const count = async (campaignId: string, type: string) => (await ofType(campaignId, type)).length;
  const append = (...events: EventEnvelope[]) => h.append(...events);
  const initialPolicy = async (campaignId: string): Promise<RollingPolicy> => {
    const [e] = await ofType(campaignId, 'CampaignStarted');
    return (e.data as { initialPolicy: RollingPolicy }).initialPolicy;
  };
  const settle = () => new Promise((r) => setTimeout(r, 1_500));

  beforeAll(async () => {
    // A fast tick, so that a replica's safety-net pass races the event consumers throughout.
    process.env.AEVO_ORCHESTRATOR_TICK_MS = '250';
    process.env.AEVO_ORCHESTRATOR_UNSEAL_RETRY_MS = '500';
    substrateDir = writeSubstrateFixture(fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-orch-life-')));
    process.env.AEVO_SUBSTRATE_ROOTS = substrateDir;
    // Each replica runs its embedded relay (one leader), as deployed; the harness does not relay.
    h = await startServiceHarness([OrchestratorModule, OrchestratorModule], {
      service: 'orchestrator',
      harnessRelay: false,
      relay: true,
      server: { ackWaitMs: 5_000, nakDelayMs: 200, maxNakDelayMs: 1_000 },
      commandTimeoutMs: 30_000,
    });
    ({ store, client } = h);
    const { names } = h;
    // The leaderboard's and dispatch's command subjects, answered the way those services answer.
    nc = await connect({ servers: names.url });
    const answer = (
      name: string,
      act: (cmd: { commandId: string; payload: Record<string, unknown> }) => Promise<unknown>,
    ) =>
      nc.subscribe(commandSubject(names.subjectPrefix, name), {
        queue: 'test',
        callback: (err, msg) => {
          if (err) return;
          const cmd = JSON.parse(new TextDecoder().decode(msg.data)) as {
            commandId: string;
            payload: Record<string, unknown>;
          };
          commandsSeen.push({ name, ...cmd });
          void act(cmd).then((result) =>
            msg.respond(JSON.stringify({ ok: true, commandId: cmd.commandId, duplicate: false, result })),
          );
        },
      });
    answer('UnsealPrivateLeaderboard', async (cmd) => {
      const campaignId = cmd.payload.campaignId as string;
      const f = factsFor(campaignId);
      const subs = await ofType(campaignId, 'SubmissionRequested');
      const scores = subs.map((s) => {
        const d = s.data as { round: number; candidateId: string };
        const i = Number(d.candidateId.split('-c').pop());
        return { round: d.round, i, pub: 0.5 + d.round / 10 + i / 100, priv: 0.4 + i / 100 };
      });
      // Idempotent like the leaderboard: one PrivateLeaderboardUnsealed however often it is asked.
      await store.append(`leaderboard:${campaignId}`, 'any', [f.unsealed(scores)], { commandId: cmd.commandId });
      return { alreadyUnsealed: false };
    });
    answer('CancelJob', async () => ({ cancelled: true }));
  });

  afterAll(async () => {
    process.env.AEVO_ORCHESTRATOR_TICK_MS = savedTick;
    delete process.env.AEVO_ORCHESTRATOR_UNSEAL_RETRY_MS;
    delete process.env.AEVO_SUBSTRATE_ROOTS;
    await nc?.close();
    await h?.close();
    if (substrateDir) fs.rmSync(substrateDir, { recursive: true, force: true });
  });

  it('runs two rounds to CampaignCompleted, each step exactly once, while replicas and ticks race', async () => {
    const c = 'life-a';
    const f = factsFor(c);
    expect((await client.send(StartCampaign, payload(c))).ok).toBe(true);
    await eventually(async () => (await count(c, 'RoundStarted')) === 1, 30_000);
    const p0 = await initialPolicy(c);

    // Round 1: forks, then manifests (one twice, as a redelivered worker might); a job's terminal event twice.
    await append(
      ...[0, 1, 2].map((i) => f.forked(1, i)),
      f.manifest(1, 0, 0.5),
      f.manifest(1, 1, 0.4),
      f.jobDone('j1', 3),
      f.jobDone('j1', 3),
    );
    await settle();
    expect(await count(c, 'SubmissionRequested')).toBe(0);
    await append(f.manifest(1, 2, 0.7), f.manifest(1, 2, 0.9));
    await eventually(async () => (await count(c, 'SubmissionRequested')) === 2, 30_000);
    const subs1 = (await ofType(c, 'SubmissionRequested')).map((e) => (e.data as { candidateId: string }).candidateId);
    expect(subs1).toEqual([f.cid(1, 0), f.cid(1, 2)]);

    const p1: RollingPolicy = { ...p0, revision: 1, forRound: 2 };
    await append(f.scored(1, 0, 0.51), f.scored(1, 2, 0.56), f.policyRevised(1, p1));
    await eventually(async () => (await count(c, 'RoundStarted')) === 2, 30_000);
    const [closed1] = await ofType(c, 'RoundClosed');
    expect(closed1.data).toMatchObject({
      round: 1,
      policyRevision: 1,
      bestPublicLb: 0.56,
      evidenceSha256: null,
      spent: { gpuSeconds: 3, llmTokens: 0 },
    });
    const round2 = (await ofType(c, 'RoundStarted'))[1];
    expect(round2.data).toMatchObject({ round: 2, policyRevision: 1 });

    // Round 2: one worker fails, one candidate is invalidated; the last round's revision starts the final audit.
    // (The violation is recorded before the manifest here, so the choice cannot race the substrate's check.)
    await append(
      ...[0, 1, 2].map((i) => f.forked(2, i)),
      f.manifest(2, 0, 0.6),
      f.workerFailed(2, 1),
      f.violated(2, 2),
      f.manifest(2, 2, 0.8),
    );
    await eventually(async () => (await count(c, 'SubmissionRequested')) >= 3, 30_000);
    await append(f.scored(2, 0, 0.61), f.policyRevised(2, { ...p0, revision: 2, forRound: 3 }));
    await eventually(async () => (await count(c, 'CampaignCompleted')) === 1, 60_000);

    await settle();
    const counts = Object.fromEntries(
      await Promise.all(
        ['RoundStarted', 'SubmissionRequested', 'RoundClosed', 'FinalAuditStarted', 'CampaignCompleted'].map(
          async (t) => [t, await count(c, t)],
        ),
      ),
    );
    // Round 2 has one submittable candidate (c1 failed, c2 invalidated): the anchor.
    expect(counts).toEqual({
      RoundStarted: 2,
      SubmissionRequested: 3,
      RoundClosed: 2,
      FinalAuditStarted: 1,
      CampaignCompleted: 1,
    });
    const [done] = await ofType(c, 'CampaignCompleted');
    // The stub's public scores: 0.5 + round/10 + index/100 → round 2's anchor is best.
    expect(done.data).toMatchObject({
      rounds: 2,
      reason: 'rounds-exhausted',
      bestCandidateId: f.cid(2, 0),
      bestPublicLb: 0.7,
      bestPrivateLb: 0.4,
      bestRound: 2,
      submissions: 3,
    });
    const unseals = commandsSeen.filter((x) => x.name === 'UnsealPrivateLeaderboard' && x.payload.campaignId === c);
    expect(unseals.length).toBeGreaterThanOrEqual(1);
    expect(new Set(unseals.map((u) => u.commandId))).toEqual(new Set([`unseal-${c}`]));
    // Every orchestrator event of the campaign is on its own stream, in order, with no gap.
    const stream = await store.readStream(`campaign-${c}`);
    expect(stream.map((e) => e.streamVersion)).toEqual(stream.map((_, i) => i + 1));
  });

  it('holds submissions while paused, takes them on resume, and cancels only open jobs on abort', async () => {
    const c = 'life-b';
    const f = factsFor(c);
    await client.send(StartCampaign, payload(c));
    await eventually(async () => (await count(c, 'RoundStarted')) === 1, 30_000);
    const paused = await client.send(PauseCampaign, { campaignId: c, reason: 'inspect' });
    expect(paused).toMatchObject({ ok: true, result: { campaignId: c, status: 'paused' } });
    const again = await client.send(PauseCampaign, { campaignId: c, reason: 'inspect' });
    expect(!again.ok && again.error.code).toBe('CAMPAIGN_ALREADY_PAUSED');

    await append(...[0, 1, 2].map((i) => f.forked(1, i)), ...[0, 1, 2].map((i) => f.manifest(1, i, 0.3 + i / 10)));
    await settle();
    expect(await count(c, 'SubmissionRequested')).toBe(0);
    expect((await client.send(ResumeCampaign, { campaignId: c })).ok).toBe(true);
    await eventually(async () => (await count(c, 'SubmissionRequested')) === 2, 30_000);

    await append(f.jobRequested('job-open', 1), f.jobRequested('job-done', 1), f.jobDone('job-done', 1));
    const aborted = await client.send(AbortCampaign, { campaignId: c, reason: 'enough' });
    expect(aborted).toMatchObject({ ok: true, result: { status: 'aborted' } });
    await eventually(() => commandsSeen.some((x) => x.name === 'CancelJob' && x.payload.jobId === 'job-open'), 30_000);
    // A revision arriving after the abort starts nothing.
    await append(f.policyRevised(1, { ...(await initialPolicy(c)), revision: 1, forRound: 2 }));
    await settle();
    expect(commandsSeen.filter((x) => x.name === 'CancelJob').map((x) => [x.payload.jobId, x.commandId])).toEqual([
      ['job-open', 'abort-job-open'],
    ]);
    expect(await count(c, 'RoundClosed')).toBe(0);
    expect(await count(c, 'RoundStarted')).toBe(1);
    const refused = await client.send(ResumeCampaign, { campaignId: c });
    expect(!refused.ok && refused.error).toMatchObject({
      code: 'CAMPAIGN_ENDED',
      issues: [{ path: 'payload.campaignId' }],
    });
  });

  it(
    'aborts a campaign whose snapshot the substrate service found damaged beyond ' +
      'repair, naming the file; a rebuilt one changes nothing',
    async () => {
      const c = 'life-d';
      await client.send(StartCampaign, payload(c));
      await eventually(async () => (await count(c, 'RoundStarted')) === 1, 30_000);
      const damaged = (outcome: 'rebuilt' | 'unrecoverable', sourceSnapshotId: string) =>
        createEvent(
          SnapshotDamaged,
          {
            snapshotId: 'a'.repeat(64),
            files: [{ path: 'harness/metric.py', expected: 'b'.repeat(64), actual: 'c'.repeat(64) }],
            moreFiles: 0,
            detectedAt: 'fork',
            outcome,
            quarantinedAt: '/h/snapshots/.quarantine/x',
            sourceSnapshotId,
          },
          { campaignId: c, streamId: `substrate:${c}`, source: 'substrate' },
        );
      await append(damaged('rebuilt', 'a'.repeat(64)), damaged('unrecoverable', 'd'.repeat(64)));
      const aborted = await eventually(async () => {
        const a = await ofType(c, 'CampaignAborted');
        return a.length > 0 ? a : null;
      }, 30_000);
      expect(aborted).toHaveLength(1);
      expect((aborted[0].data as { reason: string }).reason).toMatch(
        new RegExp(
          '^substrate snapshot damaged: .*harness\\/metric\\.py \\(expected ' +
            'bbbbbbbbbbbb…, found cccccccccccc…\\).*cannot be rebuilt',
        ),
      );
    },
  );

  it('catches up after every replica was down: the durable consumers still hold what happened meanwhile', async () => {
    const c = 'life-c';
    const f = factsFor(c);
    await client.send(StartCampaign, payload(c, { rounds: 1 }));
    await eventually(async () => (await count(c, 'RoundStarted')) === 1, 30_000);
    await h.stopReplicas();
    await append(...[0, 1, 2].map((i) => f.forked(1, i)), ...[0, 1, 2].map((i) => f.manifest(1, i, 0.2 + i / 10)));
    // No tick this time: only the consumers' backlog can drive the new replica.
    process.env.AEVO_ORCHESTRATOR_TICK_MS = '0';
    await h.startReplica(OrchestratorModule);
    await eventually(async () => (await count(c, 'SubmissionRequested')) === 2, 60_000);
    await append(f.policyRevised(1, { ...(await initialPolicy(c)), revision: 1, forRound: 2 }));
    await eventually(async () => (await count(c, 'CampaignCompleted')) === 1, 60_000);
    expect(await count(c, 'RoundClosed')).toBe(1);
  });
});
