import 'reflect-metadata';
import { rmSync } from 'node:fs';
import { UnsealPrivateLeaderboard } from '@aevo/contracts';
import { eventually, startServiceHarness, type ServiceHarness } from '@aevo/testkit';
import { LeaderboardModule } from '../src/leaderboard.module';
import { streamIdOf } from '../src/app/leaderboard-workflow';
import {
  FIXTURE,
  campaignStarted,
  candidateForked,
  makeSandbox,
  makeSnapshot,
  submissionRequested,
  substrateSnapshotted,
  tempHome,
} from './helpers';

jest.setTimeout(180_000);

/** The leaderboard service as a process would run it: JetStream consumers, the command topic, the relay. */
describe('leaderboard service over NATS JetStream and PostgreSQL', () => {
  let h: ServiceHarness;
  let home: string;

  beforeAll(async () => {
    home = tempHome('lb-int-');
    h = await startServiceHarness(
      LeaderboardModule.forRoot({
        config: {
          aevoHome: home,
          secret: 'int-test-secret-0123456789',
          commandTimeoutMs: 60_000,
          defaultPredictTimeoutSeconds: 600,
          defaultSize: 'tiny',
        },
      }),
      { service: 'leaderboard', commandTimeoutMs: 30_000 },
    );
  });

  afterAll(async () => {
    await h?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const types = async (campaignId: string) => (await h.store.readStream(streamIdOf(campaignId))).map((e) => e.type);

  it('opens the board on SubstrateSnapshotted and rejects the submission past the per-round quota', async () => {
    const c = 'lbi1';
    const snap = makeSnapshot(home);
    await h.store.append(`campaign-${c}`, 'no-stream', [
      campaignStarted(c, { substratePath: FIXTURE, leaderboard: 'local', submissionsPerRound: 1 }),
    ]);
    await h.store.append(`substrate:${c}`, 'no-stream', [substrateSnapshotted(c, snap)]);
    await eventually(async () => (await types(c)).includes('LeaderboardOpened'), 60_000);
    const sb1 = makeSandbox(home, `${c}-r1-c1`, { skill: 1 });
    const sb2 = makeSandbox(home, `${c}-r1-c2`, { skill: 1 });
    await h.store.append(`substrate:${c}`, 1, [
      candidateForked(c, `${c}-r1-c1`, sb1, snap.snapshotId),
      candidateForked(c, `${c}-r1-c2`, sb2, snap.snapshotId),
    ]);
    await h.store.append(`campaign-${c}`, 1, [submissionRequested(c, 1, sb1)]);
    await eventually(async () => (await types(c)).includes('JobRequested'), 60_000);
    await h.store.append(`campaign-${c}`, 2, [submissionRequested(c, 2, sb2)]);
    await eventually(async () => (await types(c)).includes('SubmissionRejected'), 60_000);
    const stream = await h.store.readStream(streamIdOf(c));
    expect(stream.map((e) => e.type)).toEqual([
      'LeaderboardOpened',
      'SubmissionAccepted',
      'JobRequested',
      'SubmissionRejected',
    ]);
    expect(stream[3].data).toMatchObject({
      submissionId: `${c}-r1-s2`,
      reason: 'quota-exceeded',
      message: expect.stringMatching(/round 1 has used 1 of 1 submission/),
    });
    expect(stream[3]).toMatchObject({ source: 'leaderboard', causationId: expect.any(String) });
  });

  it('answers UnsealPrivateLeaderboard over NATS, once, and names an unknown campaign', async () => {
    const first = await h.send(UnsealPrivateLeaderboard, { campaignId: 'lbi1' });
    expect(first).toMatchObject({ ok: true, result: { alreadyUnsealed: false, scores: [] } });
    const again = await h.send(UnsealPrivateLeaderboard, { campaignId: 'lbi1' });
    expect(again).toMatchObject({ ok: true, result: { alreadyUnsealed: true } });
    const unknown = await h.send(UnsealPrivateLeaderboard, { campaignId: 'nope' });
    expect(unknown).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_CAMPAIGN', issues: [{ path: 'payload.campaignId' }] },
    });
    const bad = await h.send(UnsealPrivateLeaderboard, { campaignId: 'a.b' });
    expect(bad).toMatchObject({
      ok: false,
      error: { code: 'INVALID_COMMAND', issues: [{ path: 'payload.campaignId' }] },
    });
  });
});
