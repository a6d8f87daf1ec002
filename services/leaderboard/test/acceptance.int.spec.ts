import 'reflect-metadata';
import { rmSync } from 'node:fs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UnsealPrivateLeaderboard } from '@aevo/contracts';
import {
  eventually,
  requireBuiltServices,
  startServiceHarness,
  trainInSandbox,
  type ServiceHarness,
} from '@aevo/testkit';
import { LeaderboardModule } from '../src/leaderboard.module';
import { streamIdOf } from '../src/app/leaderboard-workflow';
import { deriveSecretSeed } from '../src/domain/hidden-split';
import { parseCsv } from '../src/domain/csv';
import {
  asJson,
  campaignStarted,
  candidateForked,
  filesUnder,
  makeSnapshot,
  submissionRequested,
  substrateSnapshotted,
  tempHome,
} from './helpers';

jest.setTimeout(600_000);

const ROOT = path.resolve(__dirname, '../../..');
const SIMULATED = path.join(ROOT, 'substrate', 'simulated');
const SECRET = 'acceptance-secret-0123456789';

/**
 * Acceptance (issue 4): the local leaderboard never exposes hidden answers to a sandbox — the test searches every
 * sandbox file and the whole event log for them — and rejects the submission past the round's quota. Everything is
 * real: PostgreSQL, nats-server JetStream, the outbox relay, the built dispatch service in its own process running
 * the simulated substrate's predict, and the leaderboard service.
 */
describe('local leaderboard end to end (simulated substrate, real dispatch)', () => {
  let h: ServiceHarness;
  let home: string;
  const campaignId = 'acc1';

  beforeAll(async () => {
    // The dispatch service runs from its build, as in production (built beforehand: see requireBuiltServices).
    requireBuiltServices(ROOT, ['dispatch']);
    home = tempHome('lb-acc-');
    h = await startServiceHarness(
      LeaderboardModule.forRoot({
        config: {
          aevoHome: home,
          secret: SECRET,
          commandTimeoutMs: 120_000,
          defaultPredictTimeoutSeconds: 600,
          defaultSize: 'tiny',
        },
      }),
      { service: 'leaderboard', listen: false },
    );
    h.spawn('dispatch', { AEVO_EXECUTOR: 'local', AEVO_HOME: home, AEVO_LOCAL_SLOTS: '2', AEVO_LOCAL_GPUS: 'none' });
    await h.service.app.listen();
  });

  afterAll(async () => {
    await h?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** A sandbox as forked from the simulated substrate, trained by its own entrypoints (what a worker's jobs do). */
  function trainedSandbox(candidateId: string, seed: number): { dir: string; checkpoint: string } {
    const dir = path.join(home, 'sandboxes', campaignId, candidateId);
    fs.cpSync(SIMULATED, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}runs`) });
    const checkpoints = trainInSandbox(dir, seed);
    return { dir, checkpoint: checkpoints[checkpoints.length - 1] };
  }

  it(
    'scores two submissions through dispatch, rejects the third, ' +
      'and no hidden answer reaches a sandbox or an event',
    async () => {
      const types = async () => (await h.store.readStream(streamIdOf(campaignId))).map((e) => e.type);
      await h.store.append(`campaign-${campaignId}`, 'no-stream', [
        campaignStarted(campaignId, { substratePath: SIMULATED, leaderboard: 'local', submissionsPerRound: 2 }),
      ]);
      // What the substrate service does on CampaignStarted: the board opens from this snapshot, its harness sandboxed.
      const snap = makeSnapshot(home, SIMULATED);
      await h.store.append(`substrate:${campaignId}`, 'no-stream', [substrateSnapshotted(campaignId, snap)]);
      await eventually(async () => (await types()).includes('LeaderboardOpened'), 120_000);

      const sandboxes = [1, 2, 3].map((n) => trainedSandbox(`${campaignId}-r1-c${n}`, n));
      await h.store.append(
        `substrate:${campaignId}`,
        1,
        sandboxes.map((sb, i) => candidateForked(campaignId, `${campaignId}-r1-c${i + 1}`, sb.dir, snap.snapshotId)),
      );
      for (const [i, sb] of sandboxes.entries()) {
        const e = submissionRequested(campaignId, i + 1, sb.dir, 1, sb.checkpoint);
        await h.store.append(`campaign-${campaignId}`, 'any', [e]);
      }
      await eventually(
        async () => (await types()).filter((t) => t === 'LeaderboardScored' || t === 'SubmissionRejected').length === 3,
        300_000,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}\n--- dispatch output ---\n${h.output('dispatch').slice(-4000)}`);
      });

      const stream = await h.store.readStream(streamIdOf(campaignId));
      const scored = stream
        .filter((e) => e.type === 'LeaderboardScored')
        .map((e) => e.data as { submissionId: string; publicScore: number; publicDomains: Record<string, number> });
      const rejected = stream
        .filter((e) => e.type === 'SubmissionRejected')
        .map((e) => e.data as { submissionId: string; reason: string; message: string });
      expect(scored.map((s) => s.submissionId).sort()).toEqual([`${campaignId}-r1-s1`, `${campaignId}-r1-s2`]);
      for (const s of scored) {
        expect(s.publicScore).toBeGreaterThan(0);
        expect(Object.keys(s.publicDomains).sort()).toEqual([
          'bit_manipulation',
          'cipher',
          'equation',
          'gravity',
          'numeral',
          'unit_conversion',
        ]);
      }
      expect(rejected).toEqual([
        expect.objectContaining({
          submissionId: `${campaignId}-r1-s3`,
          reason: 'quota-exceeded',
          message: expect.stringMatching(/round 1 has used 2 of 2 submission\(s\)/),
        }),
      ]);
      // The predict jobs really ran in dispatch.
      const succeeded = await h.store.readAll({ campaignId, types: ['JobSucceeded'] });
      expect(succeeded.map((e) => (e.data as { jobId: string }).jobId).sort()).toEqual([
        `${campaignId}-r1-s1-predict`,
        `${campaignId}-r1-s2-predict`,
      ]);

      // The search: every hidden answer (1,200 strings like "ans-26cd0d41"), the secret seed and the secret.
      const hiddenDir = path.join(home, 'leaderboard', campaignId, 'hidden');
      const answers = ['public', 'private'].flatMap((h) =>
        parseCsv(fs.readFileSync(path.join(hiddenDir, `${h}.csv`), 'utf8'))
          .slice(1)
          .map((r) => r[2]),
      );
      expect(answers.length).toBe(1200);
      expect(new Set(answers).size).toBe(1200); // unique enough that a hit cannot be a coincidence
      expect(answers.every((a) => a.length >= 8)).toBe(true);
      const secretSeed = String(deriveSecretSeed(SECRET, campaignId));
      const tokenAnswers = new Set(answers.filter((a) => /^[A-Za-z0-9_-]+$/.test(a)));
      const otherAnswers = answers.filter((a) => !tokenAnswers.has(a));
      const found = (text: string) => {
        const hits = text.split(/[^A-Za-z0-9_-]+/).filter((t) => tokenAnswers.has(t));
        for (const s of [...otherAnswers, secretSeed, SECRET]) if (text.includes(s)) hits.push(s);
        return hits;
      };
      const files = sandboxes.flatMap((sb) => filesUnder(sb.dir));
      expect(files.length).toBeGreaterThan(30);
      expect(files.flatMap((f) => found(f.text).map((h) => `${f.file}: ${h}`))).toEqual([]);
      const log = asJson(await h.store.readAll());
      expect(found(log)).toEqual([]);
      expect(found(fs.readFileSync(path.join(home, 'leaderboard', campaignId, 'prompts.csv'), 'utf8'))).toEqual([]);
      expect(log).not.toMatch(/privateScore/);

      // Final audit: the orchestrator's command reveals the sealed private scores, once.
      const reply = await h.send(UnsealPrivateLeaderboard, { campaignId });
      expect(reply).toMatchObject({ ok: true, result: { alreadyUnsealed: false } });
      const unsealed = (await h.store.readStream(streamIdOf(campaignId))).filter(
        (e) => e.type === 'PrivateLeaderboardUnsealed',
      );
      expect(unsealed).toHaveLength(1);
      const scores = (
        unsealed[0].data as { scores: { submissionId: string; privateScore: number; publicScore: number }[] }
      ).scores;
      expect(scores.map((s) => s.submissionId)).toEqual([`${campaignId}-r1-s1`, `${campaignId}-r1-s2`]);
      for (const s of scores) expect(s.privateScore).toBeGreaterThan(0);
    },
  );
});
