import {
  ConstitutionViolationRefused,
  PolicyRevised,
  RoundEvidenceRecorded,
  contentHash,
  createEvent,
  type EventEnvelope,
  type RollingPolicy,
} from '@aevo/contracts';
import { collectRoundEvidence, testCampaignStarted, testPolicy, testRound, type CandidateSpec } from '@aevo/evidence';
import { metaPolicyDecider, type MetaPolicyEvent } from './decider';
import { diffPolicies } from './diff';
import {
  applyPolicyHistory,
  diffRevisions,
  policyHistoryProjection,
  replayPolicyRevisions,
  type PolicyHistoryState,
} from './history';
import { initialPolicy } from './initial';
import { defaultConstitution, proposalFrom, reviseCommand } from './test-support';

const constitution = defaultConstitution();
const AXES = ['learning-rate', 'schedule', 'steps', 'data-mix', 'synthetic-data'] as const;
const anchor = (lb: number): CandidateSpec => ({ axis: 'baseline', dev: 0.6, lb, extraSeedDevs: [0.605, 0.595] });

/** A four-round log written the way the services write it; round 4 carries a refused Claude proposal. */
function campaignLog(): EventEnvelope[] {
  const policy0 = initialPolicy({
    standingRecipe: { optim: { lr: 0.001, steps: 400 }, mix: { equation: 1 } },
    axes: [...AXES],
    anchorSeeds: 3,
  });
  const log: EventEnvelope[] = [
    testCampaignStarted('c1', policy0, {
      constitutionSha256: constitution.sha256,
      constitution: constitution.constitution,
      axes: [...AXES],
    }),
  ];
  const lr = [{ path: 'optim.lr', from: 0.001, to: 0.002 }];
  const rounds: CandidateSpec[][] = [
    [anchor(0.55), { axis: 'learning-rate', dev: 0.63, lb: 0.58, changes: lr }],
    [
      anchor(0.55),
      {
        axis: 'learning-rate',
        dev: 0.63,
        lb: 0.575,
        changes: lr,
        prescribed: { kind: 'confirmation', of: 'c1-r1-c1', changes: lr, hypothesis: 'confirm c1-r1-c1' },
      },
      { axis: 'steps', dev: 0.6, lb: 0.5, changes: [{ path: 'optim.steps', from: 400, to: 50 }] },
    ],
    [anchor(0.58)],
    [
      anchor(0.58),
      { axis: 'schedule', dev: 0.61, lb: 0.582, changes: [{ path: 'optim.schedule', from: 'constant', to: 'cosine' }] },
    ],
  ];
  rounds.forEach((specs, k) => {
    const round = k + 1;
    const state = log.reduce(
      (s, e) => metaPolicyDecider.evolve(s, e as MetaPolicyEvent),
      metaPolicyDecider.initialState(),
    );
    const evidence = collectRoundEvidence(testRound(specs, { round, policy: state.policy as RollingPolicy }));
    log.push(
      createEvent(
        RoundEvidenceRecorded,
        { round, evidence, evidenceSha256: contentHash(evidence), trigger: 'all-in', inputEventIds: [], llm: null },
        { campaignId: 'c1', streamId: `collector-c1-r${round}`, source: 'collector' },
      ),
    );
    const proposal =
      round === 4
        ? { ...proposalFrom(state.policy as RollingPolicy), deadEnds: [] as unknown[], constitution: 'mine now' }
        : undefined;
    for (const e of metaPolicyDecider.decide(reviseCommand(evidence, constitution, proposal), state)) {
      const def = e.type === 'PolicyRevised' ? PolicyRevised : ConstitutionViolationRefused;
      log.push(
        createEvent(def, e.data as never, {
          campaignId: 'c1',
          streamId: `meta-policy-c1-r${round}`,
          source: 'meta-policy',
        }),
      );
    }
  });
  return log;
}

describe('policy history projection', () => {
  const log = campaignLog();
  const fold = () =>
    log
      .filter((e) => policyHistoryProjection.eventTypes.includes(e.type as never))
      .reduce<PolicyHistoryState>((s, e) => policyHistoryProjection.apply(s, e), policyHistoryProjection.initial());

  it('holds every revision, diffable, each tied to the evidence hash that caused it', () => {
    const h = policyHistoryProjection.snapshot(fold()).c1;
    expect(h.revisions.map((r) => [r.revision, r.round, r.proposer])).toEqual([
      [0, null, 'initial'],
      [1, 1, 'rules'],
      [2, 2, 'rules'],
      [3, 3, 'rules'],
      [4, 4, 'rules'],
    ]);
    const evidenceShas = log
      .filter((e) => e.type === 'RoundEvidenceRecorded')
      .map((e) => (e.data as { evidenceSha256: string }).evidenceSha256);
    expect(h.revisions.slice(1).map((r) => r.evidenceSha256)).toEqual(evidenceShas);
    expect(h.revisions[1].changes).toContain('awaiting confirmation: c1-r1-c1 (learning-rate, LB +0.03 in round 1)');
    expect(h.revisions[2].changes).toContain('standing recipe: optim.lr 0.001 → 0.002');
    expect(h.revisions[2].changes.some((c) => c.startsWith("Don't waste budget on: steps: optim.steps 400 → 50"))).toBe(
      true,
    );
    expect(diffRevisions(h, 0, 2)).toEqual(diffPolicies(h.revisions[0].policy, h.revisions[2].policy));
    expect(h.refusals.map((r) => r.rule).sort()).toEqual([
      'constitution-immutable',
      'dead-end-registry-only-grows',
      'rotation-required',
    ]);
    expect(() => diffRevisions(h, 0, 9)).toThrow(/revision 9 is not in the history/);
  });

  it('folds to the same hash twice and ignores a redelivered revision', () => {
    expect(contentHash(policyHistoryProjection.snapshot(fold()))).toBe(
      contentHash(policyHistoryProjection.snapshot(fold())),
    );
    const revised = log.find((e) => e.type === 'PolicyRevised') as EventEnvelope;
    const once = fold();
    const before = contentHash(policyHistoryProjection.snapshot(once));
    expect(contentHash(policyHistoryProjection.snapshot(applyPolicyHistory(once, revised)))).toBe(before);
  });
});

describe('replayPolicyRevisions', () => {
  it('re-decides every revision byte for byte, the refused LLM proposal re-validated from the record', () => {
    const results = replayPolicyRevisions('c1', campaignLog(), constitution);
    expect(results.map((r) => [r.round, r.equal, r.refusalsEqual])).toEqual([
      [1, true, true],
      [2, true, true],
      [3, true, true],
      [4, true, true],
    ]);
  });

  it('detects a tampered revision', () => {
    const log = campaignLog();
    const i = log.findIndex((e) => e.type === 'PolicyRevised');
    const bad = structuredClone(log[i]) as EventEnvelope & { data: { policy: { promotionThreshold: number } } };
    bad.data.policy.promotionThreshold = 0;
    log[i] = bad;
    expect(replayPolicyRevisions('c1', log, constitution)[0].equal).toBe(false);
  });
});

describe('diffPolicies', () => {
  it('lists changes readably, in a fixed order, and nothing for identical policies', () => {
    const a = testPolicy();
    const b: RollingPolicy = {
      ...a,
      revision: 1,
      standingRecipe: { optim: { lr: 0.002, steps: 400 }, mix: { equation: 1 }, seed_data: 'x' },
      activeCategory: 'data',
      activeAxes: ['data-mix'],
      promotionThreshold: 0.02,
      objective: 'transfer-to-lb',
      selectionCriterion: { kind: 'reweighted', weights: { equation: 0.5, gravity: 1 } },
      retiredAxes: [{ axis: 'schedule', round: 1, reason: 'hurt LB' }],
    };
    expect(diffPolicies(a, a)).toEqual([]);
    expect(diffPolicies(a, b)).toEqual([
      'standing recipe: mix.gravity removed (was 1)',
      'standing recipe: optim.lr 0.001 → 0.002',
      'standing recipe: seed_data set to x',
      'active category: optimisation → data',
      'axis activated: data-mix',
      'axis deactivated: learning-rate',
      'axis deactivated: schedule',
      'axis deactivated: steps',
      'axis retired: schedule (round 1: hurt LB)',
      'promotion threshold: 0.01 → 0.02',
      'checkpoint selection: mean → reweighted (equation 0.5, gravity 1)',
      'objective: raise-dev-and-lb → transfer-to-lb',
    ]);
  });
});

describe('initialPolicy', () => {
  it('starts on the first category the campaign covers, with no promotion threshold until noise is measured', () => {
    const p = initialPolicy({ standingRecipe: { lr: 1 }, axes: ['data-mix', 'checkpoint-selection'], anchorSeeds: 2 });
    expect(p).toMatchObject({
      revision: 0,
      forRound: 1,
      activeCategory: 'data',
      activeAxes: ['data-mix'],
      promotionThreshold: 0,
      objective: 'raise-dev-and-lb',
      anchorSeeds: 2,
    });
    expect(() => initialPolicy({ standingRecipe: {}, axes: ['baseline'], anchorSeeds: 1 })).toThrow(
      /name no search axis/,
    );
  });
});
