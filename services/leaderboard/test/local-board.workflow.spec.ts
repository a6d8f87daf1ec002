import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FrozenPathViolated, createEvent } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { parseCsv } from '../src/domain/csv';
import { LeaderboardWorkflow, streamIdOf } from '../src/app/leaderboard-workflow';
import { leaderboardParts } from '../src/app/leaderboard-parts';
import { BoardFiles } from '../src/app/board-files';
import { PgSealedScoreStore } from '../src/app/sealed-scores';
import { deriveSecretSeed } from '../src/domain/hidden-split';
import {
  asJson,
  campaignStarted,
  filesUnder,
  forkCandidate,
  jobsRequested,
  makeSnapshot,
  runJobLikeDispatch,
  submissionRequested,
  substrateSnapshotted,
  tempHome,
  typesOf,
  type Snapshot,
} from './helpers';
import { openLocalBoard, testConfig, workflowFor } from './workflows';

jest.setTimeout(120_000);

const SECRET = 'test-secret-0123456789abcdef';

describe('local leaderboard workflow (real PostgreSQL event store)', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  let sealed: PgSealedScoreStore;
  let home: string;
  let wf: LeaderboardWorkflow;
  let files: BoardFiles;
  let snap: Snapshot;
  const campaignId = 'lbc1';

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    sealed = await PgSealedScoreStore.open(db.url, db.schema);
    home = tempHome('lb-home-');
    snap = makeSnapshot(home);
    ({ wf, files } = workflowFor(store, sealed, testConfig({ aevoHome: home, secret: SECRET })));
  });
  afterAll(async () => {
    await sealed.close();
    await store.close();
    await db.drop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const open = (w: LeaderboardWorkflow, c: string, quota: number, snapshot: Snapshot = snap) =>
    openLocalBoard(store, w, c, quota, snapshot);

  it(
    'opens the board: hidden split outside the sandbox tree, ' + 'prompts-only file, no answer or seed in the event',
    async () => {
      const { started, snapshotted, events } = await open(wf, campaignId, 2);
      expect(events).toEqual([
        {
          type: 'LeaderboardOpened',
          data: {
            board: 'local',
            submissionsPerRound: 2,
            competition: null,
            prompts: 12,
            splitSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          },
        },
      ]);
      expect(await wf.onSubstrateSnapshotted(snapshotted)).toEqual([]); // redelivery
      expect(await wf.onCampaignStarted(started)).toEqual([]);

      const dir = files.boardDir(campaignId);
      expect(dir.startsWith(home)).toBe(true);
      const prompts = parseCsv(readFileSync(path.join(dir, 'prompts.csv'), 'utf8'));
      expect(prompts[0]).toEqual(['id', 'prompt']);
      expect(prompts).toHaveLength(13);
      const generateLog = readFileSync(path.join(dir, 'logs', 'generate.log'), 'utf8');
      expect(generateLog).toMatch(/redacted/);
      expect(generateLog).not.toContain(String(deriveSecretSeed(SECRET, campaignId)));
      // generate ran the snapshot's harness in a sandbox without network, its cwd the snapshot.
      expect(generateLog.split('\n')[0]).toMatch(
        new RegExp(
          `^\\$ /usr/bin/bwrap .*--unshare-net .*--chdir ${snap.snapshotPath} .* -- node ` +
            `harness/generate\\.js \\S*redacted\\S* `,
        ),
      );
    },
  );

  it('opens the board on CampaignStarted when the SubstrateSnapshotted came first', async () => {
    const c = 'lbc9';
    const snapshotted = substrateSnapshotted(c, snap);
    await store.append(`substrate:${c}`, 'no-stream', [snapshotted]);
    const started = campaignStarted(c, {
      substratePath: '/nonexistent/source',
      leaderboard: 'local',
      submissionsPerRound: 1,
    });
    expect(await wf.onSubstrateSnapshotted(snapshotted)).toEqual([]); // no CampaignStarted stored yet
    await store.append(`campaign-${c}`, 'no-stream', [started]);
    // The source directory is never read: the board opens from the snapshot.
    expect(await wf.onCampaignStarted(started)).toEqual([
      { type: 'LeaderboardOpened', data: expect.objectContaining({ board: 'local', prompts: 12 }) },
    ]);
    expect(await wf.onSubstrateSnapshotted(snapshotted)).toEqual([]);
  });

  it(
    'marks the board unavailable, naming the files, when the snapshot ' +
      'differs from what SubstrateSnapshotted recorded',
    async () => {
      const tampered = makeSnapshot(home);
      const score = path.join(tampered.snapshotPath, 'harness', 'score.js');
      writeFileSync(score, `${readFileSync(score, 'utf8')}\nrequire('fs').writeFileSync('/tmp/leak', 'x');\n`);
      rmSync(path.join(tampered.snapshotPath, 'harness', 'noop.js'));
      const { events } = await open(wf, 'lbc10', 1, tampered);
      expect(events).toEqual([
        {
          type: 'LeaderboardUnavailable',
          data: {
            board: 'local',
            reason:
              `snapshot ${tampered.snapshotId} does not match its SubstrateSnapshotted: harness/noop.js ` +
              `(missing), harness/score.js (modified)`,
          },
        },
      ]);
      expect(existsSync(path.join(files.boardDir('lbc10'), 'hidden'))).toBe(false);
    },
  );

  it(
    'accepts up to the quota, rejects the next one, scores public ' + 'only and seals private; nothing hidden leaks',
    async () => {
      const sandboxes: string[] = [];
      for (const n of [1, 2, 3])
        sandboxes.push(await forkCandidate(store, home, campaignId, n, { skill: n === 1 ? 1 : 0.5 }, snap.snapshotId));
      for (const [i, sb] of sandboxes.entries())
        await wf.onSubmissionRequested(submissionRequested(campaignId, i + 1, sb));
      expect(await typesOf(store, streamIdOf(campaignId))).toEqual([
        'LeaderboardOpened',
        'SubmissionAccepted',
        'JobRequested',
        'SubmissionAccepted',
        'JobRequested',
        'SubmissionRejected',
      ]);
      const rejected = (await store.readStream(streamIdOf(campaignId)))[5];
      expect(rejected.data).toEqual({
        submissionId: `${campaignId}-r1-s3`,
        candidateId: `${campaignId}-r1-c3`,
        round: 1,
        reason: 'quota-exceeded',
        message:
          `round 1 has used 2 of 2 submission(s) allowed by budgets.submissionsPerRound; ${campaignId}-r1-s3 ` +
          `(candidate ${campaignId}-r1-c3) was not scored`,
      });
      // A redelivered request changes nothing.
      await wf.onSubmissionRequested(submissionRequested(campaignId, 1, sandboxes[0]));
      expect(await typesOf(store, streamIdOf(campaignId))).toHaveLength(6);

      const specs = await jobsRequested(store, campaignId);
      expect(specs.map((s) => s.jobId)).toEqual([`${campaignId}-r1-s1-predict`, `${campaignId}-r1-s2-predict`]);
      const promptsFile = path.join(files.boardDir(campaignId), 'prompts.csv');
      expect(specs[0].argv).toEqual([
        'node',
        'harness/predict.js',
        path.join(sandboxes[0], 'runs/seed-1/ckpt/step-000100'),
        promptsFile,
        expect.stringMatching(/predictions\.csv$/),
      ]);
      expect(specs[0].argv[4].startsWith(files.boardDir(campaignId))).toBe(true);
      // The predict job reads the prompts and writes a predictions directory of its own; the answers are not in its
      // view.
      for (const [i, spec] of specs.entries()) {
        const predictDir = path.join(
          files.boardDir(campaignId),
          'submissions',
          `${campaignId}-r1-s${i + 1}`,
          'predict',
        );
        expect(spec.isolation).toEqual({ snapshotId: snap.snapshotId, outputs: [predictDir], inputs: [promptsFile] });
        expect(spec.argv[4]).toBe(path.join(predictDir, 'predictions.csv'));
      }

      for (const spec of specs) {
        const terminal = runJobLikeDispatch(campaignId, spec, home);
        await store.append(`job:${spec.jobId}`, 'any', [terminal]);
        await wf.onJobTerminal(terminal);
        expect(await wf.onJobTerminal(terminal)).toEqual([]); // redelivered terminal event
      }
      const scored = (await store.readStream(streamIdOf(campaignId)))
        .filter((e) => e.type === 'LeaderboardScored')
        .map((e) => e.data);
      // skill 1 answers all 3 public arith prompts (3 of 6); skill 0.5 answers the first 3 of the 6 arith prompts
      // overall.
      expect(scored[0]).toEqual({
        submissionId: `${campaignId}-r1-s1`,
        candidateId: `${campaignId}-r1-c1`,
        round: 1,
        publicScore: 0.5,
        publicDomains: { arith: 1, recall: 0 },
      });
      expect(scored).toHaveLength(2);
      // Private halves are scored after the public score is recorded, in the background: wait for them.
      await wf.idle();
      const rows = await sealed.list(campaignId);
      expect(rows.map((r) => [r.submissionId, r.privateScore])).toEqual([
        [`${campaignId}-r1-s1`, 0.5],
        [`${campaignId}-r1-s2`, expect.any(Number)],
      ]);
      // Each half was judged in a directory of its own; the predict directory holds the predictions only.
      const sub1 = path.join(files.boardDir(campaignId), 'submissions', `${campaignId}-r1-s1`);
      expect(readdirSync(path.join(sub1, 'predict'))).toEqual(['predictions.csv']);
      for (const half of ['public', 'private'])
        expect(readdirSync(path.join(sub1, half, 'scores'))).toEqual(['scores.json']);

      // The acceptance check: no hidden answer (the recall tokens nobody can infer) in any sandbox file or any event.
      const hidden = ['public', 'private'].flatMap((h) =>
        parseCsv(readFileSync(path.join(files.boardDir(campaignId), 'hidden', `${h}.csv`), 'utf8')).slice(1),
      );
      const secretAnswers = hidden.filter((r) => r[3] === 'recall').map((r) => r[2]);
      expect(secretAnswers).toHaveLength(6);
      expect(secretAnswers.every((a) => /^zq[0-9a-f]{22}$/.test(a))).toBe(true);
      const log = asJson(await store.readAll());
      const sandboxFiles = sandboxes.flatMap((sb) => filesUnder(sb));
      expect(sandboxFiles.length).toBeGreaterThan(10);
      const secretSeed = String(deriveSecretSeed(SECRET, campaignId));
      for (const secret of [...secretAnswers, secretSeed, SECRET]) {
        expect(log.includes(secret)).toBe(false);
        expect(sandboxFiles.filter((f) => f.text.includes(secret)).map((f) => f.file)).toEqual([]);
        expect(readFileSync(path.join(files.boardDir(campaignId), 'prompts.csv'), 'utf8').includes(secret)).toBe(false);
      }
      // …and the private scores are nowhere in the log before the unseal.
      expect(log).not.toMatch(/privateScore/);
    },
  );

  it(
    'rejects broken predictions as invalid-predictions, naming the ' + 'problem, without taking more than its slot',
    async () => {
      const c2 = 'lbc2';
      await open(wf, c2, 3);
      const failing = await forkCandidate(store, home, c2, 1, { skill: 1, failPredict: true }, snap.snapshotId);
      const partial = await forkCandidate(store, home, c2, 2, { skill: 1, dropRows: true }, snap.snapshotId);
      await wf.onSubmissionRequested(submissionRequested(c2, 1, failing));
      await wf.onSubmissionRequested(submissionRequested(c2, 2, partial));
      const bad = {
        ...submissionRequested(c2, 3, partial),
        data: { ...submissionRequested(c2, 3, partial).data, checkpoint: '../../etc' },
      };
      await wf.onSubmissionRequested(bad);
      for (const spec of await jobsRequested(store, c2)) await wf.onJobTerminal(runJobLikeDispatch(c2, spec, home));
      const rejections = (await store.readStream(streamIdOf(c2)))
        .filter((e) => e.type === 'SubmissionRejected')
        .map((e) => e.data as { submissionId: string; reason: string; message: string });
      expect(rejections).toEqual([
        {
          submissionId: `${c2}-r1-s3`,
          candidateId: `${c2}-r1-c3`,
          round: 1,
          reason: 'invalid-predictions',
          message: expect.stringMatching(/^checkpoint: expected a path inside the sandbox/),
        },
        {
          submissionId: `${c2}-r1-s1`,
          candidateId: `${c2}-r1-c1`,
          round: 1,
          reason: 'invalid-predictions',
          message: expect.stringMatching(/predict job .* failed \(exit-code, exit 4\)/),
        },
        {
          submissionId: `${c2}-r1-s2`,
          candidateId: `${c2}-r1-c2`,
          round: 1,
          reason: 'invalid-predictions',
          message: expect.stringMatching(/^predictions: 1 prompt\(s\) unanswered, first /),
        },
      ]);
    },
  );

  it('rejects the submission of a candidate the substrate service invalidated', async () => {
    const c = 'lbc7';
    await open(wf, c, 1);
    await store.append(`substrate:${c}`, 'any', [
      createEvent(
        FrozenPathViolated,
        {
          round: 1,
          candidateId: `${c}-r1-c1`,
          path: 'harness/score.js',
          kind: 'frozen-modified',
          detail: 'sha256 differs',
          checkedAt: 'round-close',
        },
        { campaignId: c, streamId: `substrate:${c}`, source: 'substrate' },
      ),
    ]);
    await wf.onSubmissionRequested(
      submissionRequested(c, 1, await forkCandidate(store, home, c, 1, { skill: 1 }, snap.snapshotId)),
    );
    await wf.onSubmissionRequested(
      submissionRequested(c, 2, await forkCandidate(store, home, c, 2, { skill: 1 }, snap.snapshotId)),
    );
    const events = (await store.readStream(streamIdOf(c))).map((e) => ({ type: e.type, data: e.data }));
    expect(events.map((e) => e.type)).toEqual([
      'LeaderboardOpened',
      'SubmissionRejected',
      'SubmissionAccepted',
      'JobRequested',
    ]);
    expect(events[1].data).toMatchObject({
      reason: 'candidate-invalidated',
      message: `candidate ${c}-r1-c1 is invalidated (harness/score.js: frozen-modified); it is not scored`,
    });
  });

  it(
    'scores a private half once, after the public score is recorded; ' +
      'the unseal waits for it instead of re-scoring',
    async () => {
      const c = 'lbc12';
      const parts = leaderboardParts(store, testConfig({ aevoHome: home, secret: SECRET }));
      const privateScore = jest.spyOn(parts.boards.local, 'privateScore');
      const w = new LeaderboardWorkflow(store, sealed, parts);
      await open(w, c, 1);
      await w.onSubmissionRequested(
        submissionRequested(c, 1, await forkCandidate(store, home, c, 1, { skill: 1 }, snap.snapshotId)),
      );
      const [spec] = await jobsRequested(store, c);
      const scored = await w.onJobTerminal(runJobLikeDispatch(c, spec, home));
      expect(scored).toEqual([{ type: 'LeaderboardScored', data: expect.objectContaining({ publicScore: 0.5 }) }]);
      expect(privateScore).toHaveBeenCalledTimes(1); // started, not awaited by the judgement
      const unsealed = await w.unseal(c, 'cmd-unseal-lbc12'); // straight away: the private half may still be running
      expect(unsealed.scores).toEqual([expect.objectContaining({ submissionId: `${c}-r1-s1`, privateScore: 0.5 })]);
      expect(privateScore).toHaveBeenCalledTimes(1);
    },
  );

  it('unseals the private scores once, on command', async () => {
    const first = await wf.unseal(campaignId, 'cmd-unseal-1');
    expect(first.alreadyUnsealed).toBe(false);
    expect(first.scores).toEqual([
      {
        submissionId: `${campaignId}-r1-s1`,
        candidateId: `${campaignId}-r1-c1`,
        round: 1,
        publicScore: 0.5,
        privateScore: 0.5,
        privateDomains: { arith: 1, recall: 0 },
      },
      expect.objectContaining({ submissionId: `${campaignId}-r1-s2` }),
    ]);
    const again = await wf.unseal(campaignId, 'cmd-unseal-2');
    expect(again).toEqual({ alreadyUnsealed: true, scores: first.scores });
    expect(
      (await typesOf(store, streamIdOf(campaignId))).filter((t) => t === 'PrivateLeaderboardUnsealed'),
    ).toHaveLength(1);
    await expect(wf.unseal('nope', 'cmd-x')).rejects.toThrow(/no leaderboard was opened for campaign nope/);
  });
});
