import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { JobSpec } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { BoardFiles } from '../src/app/board-files';
import { streamIdOf, type LeaderboardWorkflow } from '../src/app/leaderboard-workflow';
import { PgSealedScoreStore, type SealedScoreStore } from '../src/app/sealed-scores';
import {
  FIXTURE,
  asJson,
  filesUnder,
  forkCandidate,
  jobsRequested,
  makeSandbox,
  makeSnapshot,
  runJobLikeDispatch,
  submissionRequested,
  tempHome,
  type Snapshot,
} from './helpers';
import { openLocalBoard, testConfig, workflowFor } from './workflows';

jest.setTimeout(120_000);

const SECRET = 'test-secret-0123456789abcdef';

describe('local board: the frozen harness, its secret and its sealed private scores (real PostgreSQL)', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  let sealed: PgSealedScoreStore;
  let home: string;
  let wf: LeaderboardWorkflow;
  let files: BoardFiles;
  let snap: Snapshot;

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    sealed = await PgSealedScoreStore.open(db.url, db.schema);
    home = tempHome('lb-harness-');
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

  it('scores at the unseal a private half whose score was never sealed (a crash after the public score)', async () => {
    const c = 'lbc9';
    // A replica that records the public score and dies before sealing the private one: its seals are lost.
    const lost: SealedScoreStore = {
      seal: async () => undefined,
      list: (id) => sealed.list(id),
      close: async () => {},
    };
    const crashed = workflowFor(store, lost, testConfig({ aevoHome: home, secret: SECRET })).wf;
    await open(crashed, c, 1);
    await crashed.onSubmissionRequested(
      submissionRequested(c, 1, await forkCandidate(store, home, c, 1, { skill: 1 }, snap.snapshotId)),
    );
    const [spec] = await jobsRequested(store, c);
    await crashed.onJobTerminal(runJobLikeDispatch(c, spec as JobSpec, home));
    expect((await store.readStream(streamIdOf(c))).pop()).toMatchObject({ type: 'LeaderboardScored' });
    expect(await sealed.list(c)).toEqual([]);

    // The replica that takes over finds no sealed score for it and scores the private half left on disk.
    const unsealed = await wf.unseal(c, 'cmd-unseal-lbc9');
    expect(unsealed.scores).toEqual([
      expect.objectContaining({ submissionId: `${c}-r1-s1`, publicScore: 0.5, privateScore: 0.5 }),
    ]);
    expect((await sealed.list(c)).map((r) => [r.submissionId, r.privateScore])).toEqual([[`${c}-r1-s1`, 0.5]]);
  });

  it(
    'without AEVO_LEADERBOARD_SECRET keeps a random secret in a 0600 ' + 'file outside every sandbox, and reuses it',
    async () => {
      const own = tempHome('lb-secret-');
      const ownSnap = makeSnapshot(own);
      const make = () => workflowFor(store, sealed, testConfig({ aevoHome: own })).wf;
      expect((await open(make(), 'lbc5', 1, ownSnap)).events).toEqual([
        expect.objectContaining({ type: 'LeaderboardOpened' }),
      ]);
      const file = path.join(own, 'leaderboard', '.secret');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const secret = readFileSync(file, 'utf8');
      expect(secret).toMatch(/^[0-9a-f]{64}$/);
      const hiddenBefore = readFileSync(path.join(own, 'leaderboard', 'lbc5', 'hidden', 'private.csv'), 'utf8');
      // A second campaign in the same home derives its split from the same secret (a different seed per campaign).
      await open(make(), 'lbc6', 1, ownSnap);
      expect(readFileSync(file, 'utf8')).toBe(secret);
      expect(readFileSync(path.join(own, 'leaderboard', 'lbc6', 'hidden', 'private.csv'), 'utf8')).not.toBe(
        hiddenBefore,
      );
      expect(asJson(await store.readAll({ campaignId: 'lbc5' })).includes(secret)).toBe(false);
    },
  );

  it('marks the board unavailable when the substrate has no leaderboard section', async () => {
    const noBoard = path.join(tempHome('lb-nob-'), 'sub');
    cpSync(FIXTURE, noBoard, { recursive: true });
    const yaml = readFileSync(path.join(noBoard, 'substrate.yaml'), 'utf8');
    writeFileSync(path.join(noBoard, 'substrate.yaml'), yaml.slice(0, yaml.indexOf('leaderboard:')));
    const { events } = await open(wf, 'lbc3', 1, makeSnapshot(home, noBoard));
    expect(events).toEqual([
      {
        type: 'LeaderboardUnavailable',
        data: { board: 'local', reason: 'substrate tiny declares no leaderboard section' },
      },
    ]);
    const sb = makeSandbox(home, 'lbc3-r1-c1', { skill: 1 });
    await wf.onSubmissionRequested(submissionRequested('lbc3', 1, sb));
    const last = (await store.readStream(streamIdOf('lbc3'))).pop()!;
    expect(last).toMatchObject({
      type: 'SubmissionRejected',
      data: {
        reason: 'board-error',
        message: expect.stringMatching(/unavailable for this campaign: substrate tiny declares no leaderboard section/),
      },
    });
  });
  it(
    'runs each score half in a sandbox: it writes only its scores ' +
      'directory and never sees the other half’s answers',
    async () => {
      const c = 'lbc8';
      // A substrate whose score script tries what a compromised harness would, records what happened, then scores.
      const hostile = path.join(tempHome('lb-hostile-'), 'sub');
      cpSync(FIXTURE, hostile, { recursive: true });
      cpSync(path.join(hostile, 'harness', 'score.js'), path.join(hostile, 'harness', 'score-real.js'));
      writeFileSync(
        path.join(hostile, 'harness', 'score.js'),
        `const fs = require('fs'); const path = require('path');
const [preds, answers, out] = process.argv.slice(2);
const half = path.basename(answers, '.csv'); const other = half === 'public' ? 'private' : 'public';
const attempt = (f) => {
  try { const v = f(); return v === undefined ? 'ok' : 'ok:' + v; } catch (e) { return e.code || String(e); }
};
const probe = {
  readOtherAnswers: attempt(() => fs.readFileSync(path.join(path.dirname(answers), other + '.csv'), 'utf8').length),
  listHidden: attempt(() => fs.readdirSync(path.dirname(answers)).join(',')),
  readPrompts: attempt(() => fs.readFileSync(path.join(path.dirname(answers), '..', 'prompts.csv'), 'utf8').length),
  overwriteAnswers: attempt(() => fs.writeFileSync(answers, 'id,prompt,answer,domain\\n')),
  overwritePredictions: attempt(() => fs.writeFileSync(preds, 'id,answer\\n')),
  writeHidden: attempt(() => fs.writeFileSync(path.join(path.dirname(answers), 'escape.txt'), 'x')),
  writeBesidePredictions: attempt(() => fs.writeFileSync(path.join(path.dirname(preds), 'escape.txt'), 'x')),
  writeOtherScores: attempt(() =>
    fs.writeFileSync(path.join(path.dirname(out), '..', '..', other, 'scores', 'escape.txt'), 'x'),
  ),
  writeSnapshot: attempt(() => fs.writeFileSync('escape.txt', 'x')),
};
fs.writeFileSync(path.join(path.dirname(out), 'probe.json'), JSON.stringify(probe));
require('./score-real.js');
`,
      );
      await open(wf, c, 1, makeSnapshot(home, hostile));
      const hiddenDir = path.join(files.boardDir(c), 'hidden');
      const answersBefore = ['public', 'private'].map((h) => readFileSync(path.join(hiddenDir, `${h}.csv`), 'utf8'));
      await wf.onSubmissionRequested(
        submissionRequested(c, 1, await forkCandidate(store, home, c, 1, { skill: 1 }, snap.snapshotId)),
      );
      const [spec] = await jobsRequested(store, c);
      await wf.onJobTerminal(runJobLikeDispatch(c, spec as JobSpec, home));
      await wf.idle(); // the private half is scored in the background
      const last = (await store.readStream(streamIdOf(c))).pop()!;
      expect(last).toMatchObject({ type: 'LeaderboardScored', data: { publicScore: 0.5 } });

      const sub = path.join(files.boardDir(c), 'submissions', `${c}-r1-s1`);
      for (const half of ['public', 'private']) {
        const probe = JSON.parse(readFileSync(path.join(sub, half, 'scores', 'probe.json'), 'utf8')) as Record<
          string,
          string
        >;
        expect(probe.readOtherAnswers).toBe('ENOENT');
        expect(probe.listHidden).toBe(`ok:${half}.csv`); // its own answers file, nothing else of the hidden directory
        expect(probe.readPrompts).toBe('ENOENT');
        for (const k of ['overwriteAnswers', 'overwritePredictions', 'writeSnapshot'])
          expect([k, probe[k]]).toEqual([k, 'EROFS']);
        expect(probe.writeOtherScores).toBe('ENOENT');
        // writeHidden and writeBesidePredictions land in the directories bubblewrap made for its mount points: in the
        // sandbox's own /tmp here (AEVO_HOME is under /tmp), discarded with it; read-only elsewhere. Checked on the
        // host
        // below.
        expect(readdirSync(path.join(sub, half, 'scores')).sort()).toEqual(['probe.json', 'scores.json']);
      }
      // Nothing it tried reached the host: no new file anywhere in AEVO_HOME, the answers unchanged.
      expect(filesUnder(home).filter((f) => path.basename(f.file) === 'escape.txt')).toEqual([]);
      expect(['public', 'private'].map((h) => readFileSync(path.join(hiddenDir, `${h}.csv`), 'utf8'))).toEqual(
        answersBefore,
      );
    },
  );
});
