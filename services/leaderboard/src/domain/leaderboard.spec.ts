import { DeciderSpecification } from '@aevo/testkit';
import type { JobSpec } from '@aevo/contracts';
import { leaderboardDecider, predictJobId, type LeaderboardEvent } from './leaderboard';

const opened = (board: 'local' | 'kaggle', quota = 2): LeaderboardEvent => ({
  type: 'LeaderboardOpened',
  data: {
    board,
    submissionsPerRound: quota,
    competition: board === 'kaggle' ? 'wonderland' : null,
    prompts: 40,
    splitSha256: null,
  },
});
const request = (n: number, round = 1) => ({
  round,
  submissionId: `c1-r${round}-s${n}`,
  candidateId: `c1-r${round}-c${n}`,
  checkpoint: 'runs/seed-1/ckpt/step-000200',
  sandboxPath: `/aevo/sandboxes/c1-r${round}-c${n}`,
  reason: 'best dev',
});
const job = (n: number, round = 1): JobSpec => ({
  jobId: predictJobId(`c1-r${round}-s${n}`),
  candidateId: `c1-r${round}-c${n}`,
  round,
  entrypoint: 'predict',
  sandboxPath: `/aevo/sandboxes/c1-r${round}-c${n}`,
  argv: ['python3', 'harness/predict.py'],
  env: {},
  resources: { cpu: 1, memoryMiB: 512, gpu: 0 },
  timeoutSeconds: 600,
  priority: 'normal',
  isolation: {
    snapshotId: 'a'.repeat(64),
    outputs: [`/aevo/leaderboard/c1/submissions/c1-r${round}-s${n}/predict`],
    inputs: ['/aevo/leaderboard/c1/prompts.csv'],
  },
});
const submit = (n: number, round = 1) => ({
  type: 'RequestSubmission' as const,
  request: request(n, round),
  predict: { ok: true as const, job: job(n, round) },
});
const accepted = (n: number, used: number, round = 1): LeaderboardEvent => ({
  type: 'SubmissionAccepted',
  data: {
    submissionId: `c1-r${round}-s${n}`,
    candidateId: `c1-r${round}-c${n}`,
    round,
    board: 'local',
    externalRef: null,
    quotaUsed: used,
    quotaLimit: 2,
  },
});
const requested = (n: number, round = 1): LeaderboardEvent => ({ type: 'JobRequested', data: { spec: job(n, round) } });
const scored = (n: number, score: number): LeaderboardEvent => ({
  type: 'LeaderboardScored',
  data: {
    submissionId: `c1-r1-s${n}`,
    candidateId: `c1-r1-c${n}`,
    round: 1,
    publicScore: score,
    publicDomains: { gravity: score },
  },
});

const spec = DeciderSpecification(leaderboardDecider);

describe('leaderboard decider', () => {
  it('given an open local board, when a submission arrives, then it is accepted and its predict job requested', () => {
    spec
      .given([opened('local')])
      .when(submit(1))
      .then([accepted(1, 1), requested(1)]);
  });

  it('given the round quota used up, when one more arrives, then it is rejected as quota-exceeded, clearly', () => {
    spec
      .given([opened('local'), accepted(1, 1), requested(1), accepted(2, 2), requested(2)])
      .when(submit(3))
      .then([
        {
          type: 'SubmissionRejected',
          data: {
            submissionId: 'c1-r1-s3',
            candidateId: 'c1-r1-c3',
            round: 1,
            reason: 'quota-exceeded',
            message:
              'round 1 has used 2 of 2 submission(s) allowed by budgets.submissionsPerRound; ' +
              'c1-r1-s3 (candidate c1-r1-c3) was not scored',
          },
        },
      ]);
  });

  it('counts the quota per round', () => {
    spec
      .given([opened('local'), accepted(1, 1), requested(1), accepted(2, 2), requested(2)])
      .when(submit(1, 2))
      .then([accepted(1, 1, 2), requested(1, 2)]);
  });

  it('given a submission already taken, when it is redelivered, then nothing happens', () => {
    spec
      .given([opened('local'), accepted(1, 1), requested(1)])
      .when(submit(1))
      .thenNothing();
  });

  it('given no board yet, then the request is refused as retryable', () => {
    spec
      .given([])
      .when(submit(1))
      .thenThrows(/not been opened/);
  });

  it('given an unavailable board, then submissions are rejected as board-error with its reason', () => {
    spec
      .given([
        {
          type: 'LeaderboardUnavailable',
          data: { board: 'local', reason: 'substrate simulated declares no leaderboard section' },
        },
      ])
      .when(submit(1))
      .then((events) =>
        expect(events).toEqual([
          expect.objectContaining({
            type: 'SubmissionRejected',
            data: expect.objectContaining({
              reason: 'board-error',
              message: expect.stringMatching(/no leaderboard section/),
            }),
          }),
        ]),
      );
  });

  it('given an invalidated candidate, then its submission is rejected without taking a slot', () => {
    spec
      .given([opened('local')])
      .when({ ...submit(1), invalidated: 'harness/evaluate.py: frozen-modified' })
      .then([
        {
          type: 'SubmissionRejected',
          data: {
            submissionId: 'c1-r1-s1',
            candidateId: 'c1-r1-c1',
            round: 1,
            reason: 'candidate-invalidated',
            message: 'candidate c1-r1-c1 is invalidated (harness/evaluate.py: frozen-modified); it is not scored',
          },
        },
      ]);
  });

  it('given a submission whose predict job cannot be built, then it is rejected without taking a slot', () => {
    spec
      .given([opened('local')])
      .when({
        type: 'RequestSubmission',
        request: request(1),
        predict: { ok: false, problem: 'checkpoint runs/x is not a directory of the sandbox' },
      })
      .then([
        {
          type: 'SubmissionRejected',
          data: {
            submissionId: 'c1-r1-s1',
            candidateId: 'c1-r1-c1',
            round: 1,
            reason: 'invalid-predictions',
            message: 'checkpoint runs/x is not a directory of the sandbox',
          },
        },
      ]);
    spec
      .given([
        opened('local'),
        {
          type: 'SubmissionRejected',
          data: {
            submissionId: 'c1-r1-s1',
            candidateId: 'c1-r1-c1',
            round: 1,
            reason: 'invalid-predictions',
            message: 'x',
          },
        },
      ])
      .when(submit(2))
      .then([{ ...accepted(2, 1) }, requested(2)]);
  });

  it('given an accepted local submission, when its public score is recorded, then only public numbers', () => {
    spec
      .given([opened('local'), accepted(1, 1), requested(1)])
      .when({
        type: 'RecordPublicScore',
        submissionId: 'c1-r1-s1',
        publicScore: 0.61,
        publicDomains: { gravity: 0.61 },
      })
      .then([scored(1, 0.61)]);
  });

  it('refuses a public score outside [0, 1], naming the field', () => {
    spec
      .given([opened('local'), accepted(1, 1), requested(1)])
      .when({ type: 'RecordPublicScore', submissionId: 'c1-r1-s1', publicScore: 61, publicDomains: null })
      .thenThrows(/publicScore: expected a number in \[0, 1\]/);
  });

  it('given a scored submission, when a late rejection or score arrives, then nothing happens', () => {
    const given = spec.given([opened('local'), accepted(1, 1), requested(1), scored(1, 0.6)]);
    given
      .when({ type: 'RecordRejection', submissionId: 'c1-r1-s1', reason: 'board-error', message: 'x' })
      .thenNothing();
    given
      .when({ type: 'RecordPublicScore', submissionId: 'c1-r1-s1', publicScore: 0.7, publicDomains: null })
      .thenNothing();
  });

  describe('kaggle board', () => {
    const kRequested = (n: number): LeaderboardEvent => ({ type: 'JobRequested', data: { spec: job(n) } });
    it('reserves a slot with the predict job and accepts only once Kaggle returns a ref', () => {
      spec
        .given([opened('kaggle')])
        .when(submit(1))
        .then([kRequested(1)]);
      spec
        .given([opened('kaggle'), kRequested(1)])
        .when({ type: 'RecordBoardAccepted', submissionId: 'c1-r1-s1', externalRef: '40000001' })
        .then([
          {
            type: 'SubmissionAccepted',
            data: {
              submissionId: 'c1-r1-s1',
              candidateId: 'c1-r1-c1',
              round: 1,
              board: 'kaggle',
              externalRef: '40000001',
              quotaUsed: 1,
              quotaLimit: 2,
            },
          },
        ]);
    });
    it('counts reserved slots against the quota before Kaggle answers', () => {
      spec
        .given([opened('kaggle', 1), kRequested(1)])
        .when(submit(2))
        .then((e) => expect(e[0]).toMatchObject({ type: 'SubmissionRejected', data: { reason: 'quota-exceeded' } }));
    });
    it('turns Kaggle’s 400 into quota-exceeded for that submission', () => {
      spec
        .given([opened('kaggle'), kRequested(1)])
        .when({
          type: 'RecordRejection',
          submissionId: 'c1-r1-s1',
          reason: 'quota-exceeded',
          message: 'Kaggle: daily Submission allowance (5) used',
        })
        .then([
          {
            type: 'SubmissionRejected',
            data: {
              submissionId: 'c1-r1-s1',
              candidateId: 'c1-r1-c1',
              round: 1,
              reason: 'quota-exceeded',
              message: 'Kaggle: daily Submission allowance (5) used',
            },
          },
        ]);
    });
  });

  describe('unseal', () => {
    const history = [
      opened('local'),
      accepted(1, 1),
      requested(1),
      scored(1, 0.6),
      accepted(2, 2),
      requested(2),
      scored(2, 0.7),
    ];
    it('reveals the sealed private scores of scored submissions, once', () => {
      spec
        .given(history)
        .when({
          type: 'Unseal',
          sealed: [
            { submissionId: 'c1-r1-s2', privateScore: 0.55, privateDomains: { gravity: 0.55 } },
            { submissionId: 'c1-r1-s1', privateScore: 0.58, privateDomains: null },
            { submissionId: 'unknown', privateScore: 1, privateDomains: null },
          ],
        })
        .then([
          {
            type: 'PrivateLeaderboardUnsealed',
            data: {
              scores: [
                {
                  submissionId: 'c1-r1-s1',
                  candidateId: 'c1-r1-c1',
                  round: 1,
                  publicScore: 0.6,
                  privateScore: 0.58,
                  privateDomains: null,
                },
                {
                  submissionId: 'c1-r1-s2',
                  candidateId: 'c1-r1-c2',
                  round: 1,
                  publicScore: 0.7,
                  privateScore: 0.55,
                  privateDomains: { gravity: 0.55 },
                },
              ],
            },
          },
        ]);
      spec
        .given([...history, { type: 'PrivateLeaderboardUnsealed', data: { scores: [] } }])
        .when({ type: 'Unseal', sealed: [] })
        .thenNothing();
    });
  });
});
