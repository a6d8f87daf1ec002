import {
  RoundCollectionDeadlineSet,
  RoundEvidenceRecorded,
  SubmissionRejected,
  createEvent,
  type EventEnvelope,
} from '@aevo/contracts';
import { collectRoundEvidence } from './collect';
import { testCampaignStarted, testPolicy, testRound, testRoundEvents } from './fixtures';
import { evidenceHash, withProse } from './prose';
import { replayRoundEvidence } from './replay';
import { deadlinePassed, evidenceInputs, foldLedger, roundReadiness } from './round-ledger';

const policy = testPolicy();
const round1 = testRound([
  { axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.61] },
  { axis: 'learning-rate', dev: 0.64, lb: 0.58, changes: [{ path: 'optim.lr', from: 0.001, to: 0.002 }] },
  { axis: 'schedule', dev: 0.59, changes: [{ path: 'optim.schedule', from: 'constant', to: 'cosine' }] },
]);

function record(
  events: EventEnvelope[],
  round: number,
  trigger: 'all-in' | 'deadline',
  prose: Record<string, string> | null = null,
): EventEnvelope {
  const ledger = foldLedger('c1', events);
  const { inputs, inputEventIds } = evidenceInputs(ledger, round);
  const evidence = withProse(collectRoundEvidence(inputs), prose);
  return createEvent(
    RoundEvidenceRecorded,
    { round, evidence, evidenceSha256: evidenceHash(evidence), trigger, inputEventIds, llm: null },
    { campaignId: 'c1', streamId: `collector-c1-r${round}`, source: 'collector' },
  );
}

describe('round ledger and readiness', () => {
  const started = testCampaignStarted('c1', policy, { submissionsPerRound: 2 });
  const log = [started, ...testRoundEvents(round1)];

  it('given every manifest but not yet the submissions, then the round waits for them', () => {
    const noSubs = log.filter(
      (e) => !['SubmissionRequested', 'SubmissionAccepted', 'LeaderboardScored'].includes(e.type),
    );
    expect(roundReadiness(foldLedger('c1', noSubs), 1)).toEqual({
      ready: false,
      waitingFor: ['2 more submission request(s)'],
    });
  });

  it('given a requested submission without a score, then the round waits for the score', () => {
    const noScore = log.filter(
      (e) => !(e.type === 'LeaderboardScored' && (e.data as { candidateId: string }).candidateId === 'c1-r1-c1'),
    );
    expect(roundReadiness(foldLedger('c1', noScore), 1)).toEqual({
      ready: false,
      waitingFor: ['score of submission sub-c1-r1-c1'],
    });
  });

  it('given a missing manifest, then the round waits for it; a rejection counts as resolved', () => {
    const noManifest = log.filter(
      (e) => !(e.type === 'ManifestSubmitted' && (e.data as { candidateId: string }).candidateId === 'c1-r1-c2'),
    );
    expect(roundReadiness(foldLedger('c1', noManifest), 1).waitingFor).toEqual(['manifest of c1-r1-c2']);
    const rejected = log.filter(
      (e) => !(e.type === 'LeaderboardScored' && (e.data as { candidateId: string }).candidateId === 'c1-r1-c1'),
    );
    rejected.push(
      createEvent(
        SubmissionRejected,
        {
          submissionId: 'sub-c1-r1-c1',
          candidateId: 'c1-r1-c1',
          round: 1,
          reason: 'quota-exceeded',
          message: 'quota of 2 used',
        },
        { campaignId: 'c1', streamId: 'submission-x', source: 'leaderboard' },
      ),
    );
    expect(roundReadiness(foldLedger('c1', rejected), 1).ready).toBe(true);
  });

  it(
    'given all manifests and every submission scored, then the round is ready and its inputs name exactly ' +
      'their events',
    () => {
      const ledger = foldLedger('c1', log);
      expect(roundReadiness(ledger, 1)).toEqual({ ready: true, waitingFor: [] });
      const { inputs, inputEventIds } = evidenceInputs(ledger, 1);
      expect(inputEventIds).toEqual(
        log
          .filter((e) => e.type !== 'SubmissionAccepted')
          .map((e) => e.id)
          .sort(),
      );
      expect(contentHashOf(collectRoundEvidence(inputs))).toBe(
        contentHashOf(
          collectRoundEvidence({ ...round1, budgets: { gpuSeconds: 10_000, llmTokens: 0, submissionsPerRound: 2 } }),
        ),
      );
    },
  );

  it('redelivered facts are folded once', () => {
    const twice = [...log, ...log.slice(1)];
    expect(foldLedger('c1', twice)).toEqual(foldLedger('c1', log));
  });

  it('the deadline is the recorded one, judged against the clock given', () => {
    const d = createEvent(
      RoundCollectionDeadlineSet,
      { round: 1, deadlineAt: '2026-11-27T10:00:00.000Z', afterSeconds: 600 },
      { campaignId: 'c1', streamId: 'collector-c1-r1-deadline', source: 'collector' },
    );
    const ledger = foldLedger('c1', [...log, d]);
    expect(deadlinePassed(ledger, 1, new Date('2026-11-27T09:59:59Z'))).toBe(false);
    expect(deadlinePassed(ledger, 1, new Date('2026-11-27T10:00:00Z'))).toBe(true);
    expect(deadlinePassed(foldLedger('c1', log), 1, new Date('2030-01-01T00:00:00Z'))).toBe(false);
  });
});

const contentHashOf = (x: Parameters<typeof evidenceHash>[0]) => evidenceHash(x);

describe('replayRoundEvidence', () => {
  it('reproduces each record byte for byte from exactly its input events, prose taken from the record', () => {
    const started = testCampaignStarted('c1', policy);
    const r1 = testRoundEvents(round1);
    const log: EventEnvelope[] = [started, ...r1];
    const rec1 = record(log, 1, 'all-in', { calibration: 'dev and LB agree this round.' });
    log.push(rec1);
    const round2 = testRound(
      [
        { axis: 'baseline', dev: 0.6, lb: 0.55 },
        { axis: 'steps', dev: 0.7, lb: 0.551, changes: [{ path: 'optim.steps', from: 400, to: 800 }] },
      ],
      { round: 2, policy },
    );
    log.push(...testRoundEvents(round2));
    const rec2 = record(log, 2, 'deadline');
    log.push(rec2);
    // A late score arriving after the record must not change what replay computes.
    log.push(...testRoundEvents(testRound([{ axis: 'baseline', dev: 0.6, lb: 0.9 }], { round: 2 })).slice(-1));

    const results = replayRoundEvidence('c1', log);
    expect(results.map((r) => [r.round, r.equal])).toEqual([
      [1, true],
      [2, true],
    ]);
    expect(
      (rec2.data as { evidence: { designRationaleAudit: { budget: { campaignGpuSeconds: number } } } }).evidence
        .designRationaleAudit.budget.campaignGpuSeconds,
    ).toBe(300);
  });

  it('detects a record whose numbers were tampered with', () => {
    const log: EventEnvelope[] = [testCampaignStarted('c1', policy), ...testRoundEvents(round1)];
    const rec = record(log, 1, 'all-in');
    const tampered = structuredClone(rec) as EventEnvelope & {
      data: { evidence: { calibration: { devLbGap: number } }; evidenceSha256: string };
    };
    tampered.data.evidence.calibration.devLbGap = 0.5;
    tampered.data.evidenceSha256 = evidenceHash(tampered.data.evidence as never);
    expect(replayRoundEvidence('c1', [...log, tampered])[0].equal).toBe(false);
  });
});
