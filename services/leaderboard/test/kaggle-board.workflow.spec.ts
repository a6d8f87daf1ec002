import { rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PostgresEventStore } from '@aevo/eventstore';
import {
  KaggleCompetitionClient,
  LoopbackKaggleServer,
  type KaggleClientOptions,
  type LoopbackKaggleOptions,
} from '@aevo/kaggle';
import { createTestDb, eventually, type TestDb } from '@aevo/testkit';
import { streamIdOf } from '../src/app/leaderboard-workflow';
import { PgSealedScoreStore } from '../src/app/sealed-scores';
import {
  FIXTURE,
  campaignStarted,
  forkCandidate,
  jobsRequested,
  makeSnapshot,
  runJobLikeDispatch,
  submissionRequested,
  tempHome,
  type Snapshot,
} from './helpers';
import { kaggleWorkflowFor, testConfig, workflowFor } from './workflows';

jest.setTimeout(120_000);

const COMP = 'wonderland-reasoning';
const TOKEN = 'kgat_workflow_test';

describe('Kaggle leaderboard workflow (loopback CompetitionApiService, real PostgreSQL)', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  let sealed: PgSealedScoreStore;
  let home: string;
  let promptsPath: string;
  let snap: Snapshot;
  const servers: LoopbackKaggleServer[] = [];

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    sealed = await PgSealedScoreStore.open(db.url, db.schema);
    home = tempHome('lbk-home-');
    snap = makeSnapshot(home);
    promptsPath = path.join(home, 'test.csv');
    writeFileSync(promptsPath, 'id,prompt\nk1,add 1 2\nk2,add 40 2\nk3,recall k3\n');
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await sealed.close();
    await store.close();
    await db.drop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Retry waits the client asked for (the client sleeps through this hook, so 429s cost no real time). */
  const retrySleeps: number[] = [];
  async function setup(
    campaignId: string,
    opts: LoopbackKaggleOptions,
    token = TOKEN,
    quota = 3,
    boardCompetition = COMP,
    clientOpts: Partial<KaggleClientOptions> = {},
  ) {
    const server = await new LoopbackKaggleServer({ token: TOKEN, competitionName: COMP, ...opts }).start();
    servers.push(server);
    const client = new KaggleCompetitionClient({
      baseUrl: server.baseUrl,
      credentials: { kind: 'token', token },
      sleep: async (ms) => void retrySleeps.push(ms),
      ...clientOpts,
    });
    const { wf, submissions: board } = kaggleWorkflowFor(
      store,
      sealed,
      testConfig({ aevoHome: home, secret: 'unused-secret-0123456789' }),
      {
        client,
        competition: boardCompetition,
        poll: { initialDelayMs: 5, maxDelayMs: 20, maxWaitMs: 5_000 },
        promptsPath,
      },
    );
    const opened = await wf.onCampaignStarted(
      campaignStarted(campaignId, { substratePath: FIXTURE, leaderboard: 'kaggle', submissionsPerRound: quota }),
    );
    expect(opened).toEqual([
      {
        type: 'LeaderboardOpened',
        data: {
          board: 'kaggle',
          submissionsPerRound: quota,
          competition: boardCompetition,
          prompts: 3,
          splitSha256: null,
        },
      },
    ]);
    /** Submits candidate n: request → predict (run like dispatch) → terminal event to the workflow. */
    const submit = async (n: number) => {
      const sb = await forkCandidate(store, home, campaignId, n, { skill: 1 }, snap.snapshotId);
      await wf.onSubmissionRequested(submissionRequested(campaignId, n, sb));
      const spec = (await jobsRequested(store, campaignId)).find((s) => s.jobId === `${campaignId}-r1-s${n}-predict`);
      if (!spec) return null;
      const terminal = runJobLikeDispatch(campaignId, spec, home);
      await wf.onJobTerminal(terminal);
      return terminal;
    };
    const stream = async () =>
      (await store.readStream(streamIdOf(campaignId))).map((e) => ({
        type: e.type,
        data: e.data as Record<string, unknown>,
      }));
    return { server, wf, submit, stream, board };
  }

  it(
    'uploads the predictions, records the Kaggle ref, polls ' + 'PENDING → COMPLETE and records the public score',
    async () => {
      const { server, wf, submit, stream } = await setup('kg1', {
        pendingReads: 2,
        judge: (c) => ({ status: 'COMPLETE', publicScore: c.toString().includes('42') ? 0.66667 : 0 }),
      });
      const terminal = await submit(1);
      await wf.idle();
      expect((await stream()).map((e) => e.type)).toEqual([
        'LeaderboardOpened',
        'JobRequested',
        'SubmissionAccepted',
        'LeaderboardScored',
      ]);
      const ev = await stream();
      expect(ev[2].data).toEqual({
        submissionId: 'kg1-r1-s1',
        candidateId: 'kg1-r1-c1',
        round: 1,
        board: 'kaggle',
        externalRef: '40000001',
        quotaUsed: 1,
        quotaLimit: 3,
      });
      expect(ev[3].data).toEqual({
        submissionId: 'kg1-r1-s1',
        candidateId: 'kg1-r1-c1',
        round: 1,
        publicScore: 0.66667,
        publicDomains: null,
      });
      expect(server.submissions[0].content.toString()).toBe('id,answer\nk1,3\nk2,42\nk3,no idea\n');
      expect(server.submissions[0].description).toBe('aevo kg1 kg1-r1-s1');
      expect(server.calls.map((c) => c.method).filter((m) => m !== 'upload' && m !== 'GetSubmission')).toEqual([
        'ListSubmissions',
        'StartSubmissionUpload',
        'CreateSubmission',
      ]);
      // A redelivered JobSucceeded neither re-submits nor spends quota.
      await wf.onJobTerminal(terminal!);
      expect(server.submissions).toHaveLength(1);
    },
  );

  it('turns Kaggle’s 400 (allowance used up) into SubmissionRejected quota-exceeded', async () => {
    const { server, wf, submit, stream } = await setup('kg2', { allowance: 1, pendingReads: 0 });
    await submit(1);
    await submit(2);
    await wf.idle();
    const rejected = (await stream()).filter((e) => e.type === 'SubmissionRejected');
    expect(rejected).toEqual([
      {
        type: 'SubmissionRejected',
        data: {
          submissionId: 'kg2-r1-s2',
          candidateId: 'kg2-r1-c2',
          round: 1,
          reason: 'quota-exceeded',
          message: expect.stringMatching(
            new RegExp(
              '^Kaggle refused the submission \\(allowance used up\\): Submission ' +
                'not allowed: .*daily Submission allowance \\(1\\)',
            ),
          ),
        },
      },
    ]);
    expect(server.submissions).toHaveLength(1);
  });

  it('reports bad credentials as board-error and a Kaggle ERROR as invalid-predictions', async () => {
    const bad = await setup('kg3', {}, 'wrong-token');
    await bad.submit(1);
    expect((await bad.stream()).pop()).toEqual({
      type: 'SubmissionRejected',
      data: expect.objectContaining({
        reason: 'board-error',
        message: expect.stringMatching(/Kaggle refused the credentials \(HTTP 401\): Unauthenticated/),
      }),
    });

    const erroring = await setup('kg4', {
      pendingReads: 1,
      judge: () => ({ status: 'ERROR', errorDescription: 'Submission file has 3 rows, expected 1000' }),
    });
    await erroring.submit(1);
    await erroring.wf.idle();
    expect((await erroring.stream()).pop()).toEqual({
      type: 'SubmissionRejected',
      data: expect.objectContaining({
        reason: 'invalid-predictions',
        message: 'Kaggle scored submission 40000001 as ERROR: Submission file has 3 rows, expected 1000',
      }),
    });
  });

  it('resumes polling accepted submissions after a restart', async () => {
    const { wf, submit, stream, server } = await setup('kg5', { pendingReads: 1000 });
    await submit(1);
    // The first replica dies while polling; the submission is accepted but unscored.
    await eventually(async () => (await stream()).some((e) => e.type === 'SubmissionAccepted'));
    const { wf: restarted } = kaggleWorkflowFor(store, sealed, testConfig({ aevoHome: home }), {
      client: new KaggleCompetitionClient({ baseUrl: server.baseUrl, credentials: { kind: 'token', token: TOKEN } }),
      competition: COMP,
      poll: { initialDelayMs: 5, maxDelayMs: 10, maxWaitMs: 50 },
      promptsPath,
    });
    expect(await restarted.resumePolls()).toBeGreaterThanOrEqual(1);
    await restarted.idle();
    await wf.idle();
    const outcome = (await stream()).filter((e) => e.type === 'SubmissionRejected' || e.type === 'LeaderboardScored');
    // Bounded polling: Kaggle never finished, so exactly one board-error outcome is recorded.
    expect(outcome).toEqual([
      {
        type: 'SubmissionRejected',
        data: expect.objectContaining({
          reason: 'board-error',
          message: expect.stringMatching(/still PENDING after \d+ polls/),
        }),
      },
    ]);
  });

  it('polls through 429s and records the score, not a board error', async () => {
    retrySleeps.length = 0;
    const { server, wf, submit, stream } = await setup('kg7', {
      pendingReads: 1,
      rateLimitNext: { GetSubmission: 3, ListSubmissions: 1 },
      retryAfterSeconds: 4,
    });
    await submit(1);
    await wf.idle();
    expect((await stream()).map((e) => e.type)).toEqual([
      'LeaderboardOpened',
      'JobRequested',
      'SubmissionAccepted',
      'LeaderboardScored',
    ]);
    expect(server.calls.filter((c) => c.status === 429).map((c) => c.method)).toEqual([
      'ListSubmissions',
      'GetSubmission',
      'GetSubmission',
      'GetSubmission',
    ]);
    expect(retrySleeps).toEqual([4000, 4000, 4000, 4000]);
  });

  it('finds a submission made before a crash even when newer ones have pushed it off the first page', async () => {
    const { server, wf, submit, stream, board } = await setup('kg8', {
      allowance: 100,
      maxPageSize: 20,
      pendingReads: 0,
    });
    // The replica that crashed had created kg8-r1-s1 on Kaggle but never recorded SubmissionAccepted; 25 newer
    // submissions (other tools, other campaigns) came after it.
    const before = await board.submit('kg8', 'kg8-r1-s1', Buffer.from('id,answer\n'));
    for (let i = 0; i < 25; i++)
      await board.client.submitFile({
        competitionName: COMP,
        fileName: 'other.csv',
        content: Buffer.from('id\n'),
        description: `other ${i}`,
      });
    server.calls.length = 0;
    await submit(1);
    await wf.idle();
    const accepted = (await stream()).find((e) => e.type === 'SubmissionAccepted');
    expect(accepted?.data).toMatchObject({ submissionId: 'kg8-r1-s1', externalRef: before.ref });
    expect(server.submissions).toHaveLength(26);
    expect(
      server.calls.filter((c) => c.method === 'ListSubmissions').map((c) => 'pageToken' in (c.body as object)),
    ).toEqual([false, true]);
    expect(server.calls.some((c) => c.method === 'CreateSubmission')).toBe(false);
  });

  it('reports a wrong competition name and a competition not joined as such, never as quota', async () => {
    const wrong = await setup('kg9', {}, TOKEN, 3, 'wonderland-reasoninq');
    await wrong.submit(1);
    expect((await wrong.stream()).pop()).toEqual({
      type: 'SubmissionRejected',
      data: expect.objectContaining({
        reason: 'board-error',
        message: expect.stringMatching(/no competition named "wonderland-reasoninq"/),
      }),
    });

    const notJoined = await setup('kg10', { joined: false });
    await notJoined.submit(1);
    expect((await notJoined.stream()).pop()).toEqual({
      type: 'SubmissionRejected',
      data: expect.objectContaining({
        reason: 'board-error',
        message: expect.stringMatching(
          /has not joined competition "wonderland-reasoning"; accept its rules on kaggle.com/,
        ),
      }),
    });
    expect(notJoined.server.submissions).toHaveLength(0);
  });

  it('reports a board that is not configured as LeaderboardUnavailable', async () => {
    const { wf } = workflowFor(
      store,
      sealed,
      testConfig({
        aevoHome: home,
        kaggle: { problem: 'no Kaggle credentials: set KAGGLE_API_TOKEN, or KAGGLE_USERNAME and KAGGLE_KEY' },
      }),
    );
    expect(
      await wf.onCampaignStarted(
        campaignStarted('kg6', { substratePath: FIXTURE, leaderboard: 'kaggle', submissionsPerRound: 1 }),
      ),
    ).toEqual([
      {
        type: 'LeaderboardUnavailable',
        data: {
          board: 'kaggle',
          reason: 'no Kaggle credentials: set KAGGLE_API_TOKEN, or KAGGLE_USERNAME and KAGGLE_KEY',
        },
      },
    ]);
  });
});
