import { contentHash, createEvent, SnapshotDamaged, SubstrateRejected } from '@aevo/contracts';
import { type CampaignEvent } from './campaign';
import { applyFact, emptyFacts, foldFacts, type CampaignFacts } from './facts';
import { planRound } from './planning';
import {
  config,
  spec,
  startedWith,
  started,
  revised,
  round1,
  advance,
  forked,
  manifest,
  workerFailed,
  violated,
  policyRevised,
  scored,
  unsealed,
  round1Done,
} from '../../test/lifecycle-fixtures';

describe('Advance: starting rounds', () => {
  it('starts round 1 under revision 0 as soon as the campaign has started', () => {
    spec.given([started]).when(advance(emptyFacts())).then([round1]);
  });

  it('waits for StartRound when rounds start manually', () => {
    spec
      .given([startedWith({ ...config, roundStart: 'manual' })])
      .when(advance(emptyFacts()))
      .thenNothing();
  });

  it('does nothing for a campaign that never started, was aborted or completed', () => {
    spec.given([]).when(advance(emptyFacts())).thenNothing();
    spec
      .given([started, { type: 'CampaignAborted', data: { reason: 'stop' } }])
      .when(advance(emptyFacts()))
      .thenNothing();
    spec
      .given([started, { type: 'CampaignPaused', data: { reason: 'wait' } }])
      .when(advance(emptyFacts()))
      .thenNothing();
  });
});

describe('Advance: a rejected substrate', () => {
  const rejected = (): CampaignFacts =>
    foldFacts([
      createEvent(
        SubstrateRejected,
        { substratePath: 'substrate/broken', issues: [{ path: 'entrypoints.train', message: 'missing' }] },
        { campaignId: 'c1', streamId: 'substrate-c1', source: 'substrate' },
      ),
    ]);

  it('aborts the campaign, naming the substrate and its problems, instead of waiting for forks that never come', () => {
    spec
      .given([started, round1])
      .when(advance(rejected()))
      .then([
        {
          type: 'CampaignAborted',
          data: { reason: 'substrate rejected: substrate/broken: entrypoints.train: missing' },
        },
      ]);
  });

  it('aborts a paused campaign too, and does nothing once aborted', () => {
    spec
      .given([started, { type: 'CampaignPaused', data: { reason: 'wait' } }])
      .when(advance(rejected()))
      .then([
        {
          type: 'CampaignAborted',
          data: { reason: 'substrate rejected: substrate/broken: entrypoints.train: missing' },
        },
      ]);
    spec
      .given([started, { type: 'CampaignAborted', data: { reason: 'stop' } }])
      .when(advance(rejected()))
      .thenNothing();
  });
});

describe('Advance: a snapshot damaged on the host', () => {
  const damaged = (outcome: 'rebuilt' | 'unrecoverable', sourceSnapshotId: string | null) =>
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
      { campaignId: 'c1', streamId: 'substrate:c1', source: 'substrate' },
    );
  const reason =
    'substrate snapshot damaged: snapshot aaaaaaaaaaaa… damaged (found at fork): harness/metric.py ' +
    '(expected bbbbbbbbbbbb…, found cccccccccccc…); ' +
    'the source now snapshots as dddddddddddd…, so it cannot be rebuilt';

  it('given an unrecoverable damage, when advanced, then the campaign aborts naming the damaged file', () => {
    spec
      .given([started, round1])
      .when(advance(foldFacts([damaged('unrecoverable', 'd'.repeat(64))])))
      .then([{ type: 'CampaignAborted', data: { reason } }]);
  });

  it('given a snapshot that was rebuilt (same id), when advanced, then the campaign goes on', () => {
    spec
      .given([started, round1])
      .when(advance(foldFacts([damaged('rebuilt', 'a'.repeat(64))])))
      .thenNothing();
    spec
      .given([started])
      .when(advance(foldFacts([damaged('rebuilt', 'a'.repeat(64))])))
      .then([round1]);
  });

  it(
    'given an unrecoverable damage during the final audit, then it ' + 'aborts too, unless the private scores are in',
    () => {
      const auditing: CampaignEvent = {
        type: 'FinalAuditStarted',
        data: { reason: 'rounds-exhausted', rounds: 1, spent: { gpuSeconds: 0, llmTokens: 0 }, exhausted: [] },
      };
      const closed: CampaignEvent = { type: 'RoundClosed', data: { round: 1, policyRevision: 0, bestPublicLb: null } };
      spec
        .given([started, round1, closed, auditing])
        .when(advance(foldFacts([damaged('unrecoverable', null)])))
        .then((events) =>
          expect(events).toEqual([
            {
              type: 'CampaignAborted',
              data: { reason: expect.stringMatching(/harness\/metric\.py .*the source no longer loads/) },
            },
          ]),
        );
      const facts = foldFacts([damaged('unrecoverable', null), unsealed([])]);
      spec
        .given([started, round1, closed, auditing])
        .when(advance(facts))
        .then((events) => expect(events.map((e) => e.type)).toEqual(['CampaignCompleted']));
    },
  );

  it('keeps the first unrecoverable report (a later one does not change the reason)', () => {
    const facts = foldFacts([damaged('unrecoverable', 'd'.repeat(64)), damaged('unrecoverable', null)]);
    expect(facts.snapshotLost).toMatch(/dddddddddddd/);
  });
});

describe('Advance: submissions', () => {
  it('waits while any candidate of the round has no manifest, failure or violation', () => {
    spec
      .given([started, round1])
      .when(advance(foldFacts(round1Done().slice(0, 7))))
      .thenNothing();
  });

  it('submits the anchor, then the best by the criterion, within the quota', () => {
    spec
      .given([started, round1])
      .when(advance(foldFacts(round1Done())))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['SubmissionRequested', 'SubmissionRequested']);
        expect(
          events.map(
            (e) =>
              e.type === 'SubmissionRequested' && [
                e.data.candidateId,
                e.data.submissionId,
                e.data.checkpoint,
                e.data.sandboxPath,
              ],
          ),
        ).toEqual([
          ['c1-r1-c0', 'sub-c1-r1-c0', 'runs/s0/step-000008', '/sb/c1-r1-c0'],
          ['c1-r1-c2', 'sub-c1-r1-c2', 'runs/s2/step-000008', '/sb/c1-r1-c2'],
        ]);
        expect(events[0].type === 'SubmissionRequested' && events[0].data.reason).toMatch(/anchor/);
      });
  });

  it('ranks by the policy’s reweighted criterion when the policy in force asks for it', () => {
    const p1 = revised(1, { selectionCriterion: { kind: 'reweighted', weights: { gravity: 1, cipher: 0 } } });
    const r2: CampaignEvent = {
      type: 'RoundStarted',
      data: {
        round: 2,
        policyRevision: 1,
        policySha256: contentHash(p1),
        seed: 1,
        candidates: planRound('c1', 2, 1, 4, p1),
      },
    };
    const closed: CampaignEvent = { type: 'RoundClosed', data: { round: 1, policyRevision: 1, bestPublicLb: 0.5 } };
    const facts = foldFacts([
      policyRevised(1, p1),
      ...[0, 1, 2, 3].map((i) => forked(2, i)),
      manifest(2, 0, 0.5),
      // Higher overall dev, lower on the domain the criterion weighs.
      manifest(2, 1, 0.9, { domains: { gravity: 0.3, cipher: 1 } }),
      manifest(2, 2, 0.6, { domains: { gravity: 0.8, cipher: 0.4 } }),
      manifest(2, 3, 0.2),
    ]);
    spec
      .given([started, round1, closed, r2])
      .when(advance(facts))
      .then((events) =>
        expect(events.map((e) => e.type === 'SubmissionRequested' && e.data.candidateId)).toEqual([
          'c1-r2-c0',
          'c1-r2-c2',
        ]),
      );
  });

  it(
    "submits a confirmation run over a better-dev explorer: the plan's prescribed runs " + "survive the round's fold",
    () => {
      const lr = [{ path: 'train.lr', from: 0.003, to: 0.0045 }];
      const p1 = revised(1, {
        pendingConfirmations: [
          { candidateId: 'c1-r1-c3', round: 1, axis: 'learning-rate', changes: lr, lbGain: 0.03, devGain: 0.01 },
        ],
      });
      const planned = planRound('c1', 2, 1, 4, p1);
      const confirmation = planned.find((c) => c.prescribed?.kind === 'confirmation')!;
      const explorers = planned.filter((c) => !c.isAnchor && !c.prescribed);
      expect([confirmation, explorers.length > 0]).toEqual([expect.objectContaining({ index: 1 }), true]);
      const r2: CampaignEvent = {
        type: 'RoundStarted',
        data: { round: 2, policyRevision: 1, policySha256: contentHash(p1), seed: 1, candidates: planned },
      };
      const closed: CampaignEvent = { type: 'RoundClosed', data: { round: 1, policyRevision: 1, bestPublicLb: 0.5 } };
      // Every explorer beats the confirmation run on dev.
      const facts = foldFacts([
        policyRevised(1, p1),
        ...[0, 1, 2, 3].map((i) => forked(2, i)),
        ...planned.map((c) => manifest(2, c.index, c.prescribed ? 0.4 : c.isAnchor ? 0.5 : 0.9 - c.index / 100)),
      ]);
      spec
        .given([started, round1, closed, r2])
        .when(advance(facts))
        .then((events) => {
          const chosen = events.map((e) => e.type === 'SubmissionRequested' && e.data.candidateId);
          expect(chosen).toContain(confirmation.candidateId);
          expect(
            events.find((e) => e.type === 'SubmissionRequested' && e.data.candidateId === confirmation.candidateId),
          ).toMatchObject({ data: { reason: expect.stringMatching(/confirmation run of c1-r1-c3/) } });
        });
    },
  );

  it('never submits failed, invalidated or lost candidates, and submits fewer when fewer are submittable', () => {
    const facts = foldFacts([
      ...[0, 1, 2, 3].map((i) => forked(1, i)),
      manifest(1, 0, 0.5, { status: 'failed' }),
      manifest(1, 1, 0.9),
      violated(1, 1),
      workerFailed(1, 2),
      manifest(1, 3, 0.1),
    ]);
    spec
      .given([started, round1])
      .when(advance(facts))
      .then((events) =>
        expect(events.map((e) => e.type === 'SubmissionRequested' && e.data.candidateId)).toEqual(['c1-r1-c3']),
      );
    // Invalidated before its manifest: done without one.
    const none = foldFacts([...[0, 1, 2, 3].map((i) => violated(1, i))]);
    spec.given([started, round1]).when(advance(none)).thenNothing();
  });

  it('chooses once: a second Advance with the same or more facts requests nothing more', () => {
    const facts = foldFacts(round1Done());
    const first = spec
      .given([started, round1])
      .when(advance(facts))
      .then(() => undefined);
    spec
      .given([started, round1, ...first])
      .when(advance(facts))
      .thenNothing();
    spec
      .given([started, round1, ...first])
      .when(advance(applyFact(foldFacts(round1Done()), scored(1, 0, 0.5))))
      .thenNothing();
  });

  it('holds submissions while paused and requests them after the resume', () => {
    const paused: CampaignEvent = { type: 'CampaignPaused', data: { reason: 'look' } };
    spec
      .given([started, round1, paused])
      .when(advance(foldFacts(round1Done())))
      .thenNothing();
    spec
      .given([started, round1, paused, { type: 'CampaignResumed', data: {} }])
      .when(advance(foldFacts(round1Done())))
      .then((events) => expect(events).toHaveLength(2));
  });
});
