import { contentHash, type RollingPolicy } from '@aevo/contracts';
import { initialPolicy, prescribedRuns } from '@aevo/policy-engine';
import { planRound } from './planning';
import { chooseSubmissions } from './selection';
import type { CandidateFacts } from './facts';

const recipe = { data: { mix: { equation: 1, cipher: 1 } }, train: { lr: 0.003, steps: 600 } };
const base = (): RollingPolicy =>
  initialPolicy({ standingRecipe: recipe, axes: ['learning-rate', 'steps', 'data-mix'], anchorSeeds: 2 });
const lr = [{ path: 'train.lr', from: 0.003, to: 0.0045 }];
const suspect = [{ path: 'data.synthetic.count', from: 0, to: 800 }];

const withResearch = (): RollingPolicy => ({
  ...base(),
  pendingConfirmations: [
    { candidateId: 'c1-r1-c3', round: 1, axis: 'learning-rate', changes: lr, lbGain: 0.03, devGain: 0.01 },
  ],
  decouplingHypotheses: [
    {
      id: 'decoupling-r1-equation',
      domain: 'equation',
      status: 'suspected',
      suspectedRound: 1,
      suspectCandidateId: 'c1-r1-c2',
      suspectAxis: 'synthetic-data',
      suspectChanges: suspect,
      suspectDevDelta: 0.02,
      suspectLbDelta: -0.01,
      probes: [],
      decidedRound: null,
      evidence: ['round 1: suspected'],
    },
  ],
});

describe('planning a round with research designs', () => {
  it(
    'given a suspected decoupling and a gain awaiting confirmation, then probes ' +
      'come first, then the confirmation, then explorers',
    () => {
      const plan = planRound('c1', 2, 77, 6, withResearch());
      expect(
        plan.map((c) => [
          c.index,
          c.axis,
          c.prescribed?.kind ?? (c.isAnchor ? 'anchor' : 'explore'),
          c.prescribed?.role ?? null,
        ]),
      ).toEqual([
        [0, 'baseline', 'anchor', null],
        [1, 'synthetic-data', 'probe', 'pro-proxy'],
        [2, 'data-mix', 'probe', 'down-weight'],
        [3, 'learning-rate', 'confirmation', null],
        [4, expect.any(String), 'explore', null],
        [5, expect.any(String), 'explore', null],
      ]);
      expect(plan[1].prescribed?.changes).toEqual([{ path: 'data.synthetic.count', to: 800 }]);
      expect(plan[2].prescribed?.changes).toEqual([{ path: 'data.mix.equation', from: 1, to: 0.5 }]);
      expect(plan[3].prescribed).toMatchObject({ kind: 'confirmation', of: 'c1-r1-c3', changes: lr });
    },
  );

  it('pairs every run with the anchor’s first seed, and the anchor keeps its replicate seeds', () => {
    const plan = planRound('c1', 2, 77, 6, withResearch());
    expect(plan[0].seeds).toHaveLength(2);
    for (const c of plan.slice(1)) expect(c.seeds).toEqual([plan[0].seeds[0]]);
  });

  it('always leaves one explorer slot, and drops a confirmation whose change already stands', () => {
    const plan = planRound('c1', 2, 77, 3, withResearch());
    expect(plan.map((c) => c.prescribed?.kind ?? (c.isAnchor ? 'anchor' : 'explore'))).toEqual([
      'anchor',
      'probe',
      'explore',
    ]);
    const standing = { ...withResearch(), standingRecipe: { ...recipe, train: { lr: 0.0045, steps: 600 } } };
    expect(prescribedRuns(standing).map((r) => r.prescribed.kind)).toEqual(['probe', 'probe']);
  });

  it(
    'given more explorers than twice the active axes, then the further ' +
      'slots explore the campaign’s other live axes',
    () => {
      const narrow = {
        ...base(),
        activeCategory: 'capacity' as const,
        activeAxes: ['lora-capacity' as const],
        retiredAxes: [{ axis: 'steps' as const, round: 1, reason: 'spent' }],
      };
      const plan = planRound('c1', 3, 5, 6, narrow, ['learning-rate', 'steps', 'lora-capacity', 'data-mix']);
      const axes = plan.slice(1).map((c) => c.axis);
      expect(axes.slice(0, 2)).toEqual(['lora-capacity', 'lora-capacity']);
      expect(new Set(axes.slice(2, 4))).toEqual(new Set(['learning-rate', 'data-mix']));
      expect(axes).not.toContain('steps');
      // Without the campaign's axes (or with enough active axes) the plan keeps to the active axes.
      expect(
        planRound('c1', 3, 5, 6, narrow)
          .slice(1)
          .every((c) => c.axis === 'lora-capacity'),
      ).toBe(true);
    },
  );

  it(
    'given no research pending, then the plan is the anchor and ' + 'explorers as before (same axes for the same seed)',
    () => {
      const a = planRound('c1', 2, 77, 5, base());
      expect(a.every((c) => !c.prescribed)).toBe(true);
      expect(planRound('c1', 2, 77, 5, base())).toEqual(a);
    },
  );
});

describe('choosing submissions: the quota goes where it decides most', () => {
  const done = (dev: number): CandidateFacts => ({
    sandboxPath: '/s',
    manifest: { status: 'completed', checkpoint: 'ck', dev: { overall: dev, domains: {} } },
    workerFailed: null,
    invalidated: null,
  });
  const plan = planRound('c1', 2, 77, 6, withResearch());
  const facts = Object.fromEntries(plan.map((c, i) => [c.candidateId, done(0.5 + i / 100)]));

  it(
    'given no LB replicate of the standing recipe yet, then the anchor comes ' +
      'first, then confirmations, probes, explorers by dev',
    () => {
      const chosen = chooseSubmissions(plan, facts, 6, { kind: 'mean' }, 0);
      expect(chosen.map((c) => c.candidateId)).toEqual([
        'c1-r2-c0',
        'c1-r2-c3',
        'c1-r2-c1',
        'c1-r2-c2',
        'c1-r2-c5',
        'c1-r2-c4',
      ]);
      expect(chosen[0].reason).toMatch(/no LB replicate yet/);
      expect(chosen[1].reason).toMatch(/confirmation run of c1-r1-c3/);
      expect(chosen[2].reason).toMatch(/decoupling probe \(pro-proxy\) of decoupling-r1-equation/);
    },
  );

  it(
    'given replicates of the standing recipe, then the confirmation ' + 'and both probes are scored before the anchor',
    () => {
      expect(chooseSubmissions(plan, facts, 3, { kind: 'mean' }, 2).map((c) => c.candidateId)).toEqual([
        'c1-r2-c3',
        'c1-r2-c1',
        'c1-r2-c2',
      ]);
      expect(chooseSubmissions(plan, facts, 4, { kind: 'mean' }, 2)[3].reason).toMatch(
        /paired reference; 2 LB replicate\(s\)/,
      );
    },
  );

  it('never spends the last slot on one probe of a pair', () => {
    // Anchor first (no replicate), the confirmation, then one slot left: a lone probe would decide nothing.
    expect(chooseSubmissions(plan, facts, 3, { kind: 'mean' }, 0).map((c) => c.candidateId)).toEqual([
      'c1-r2-c0',
      'c1-r2-c3',
      'c1-r2-c5',
    ]);
  });

  it('is a function of the plan and facts alone', () => {
    expect(contentHash(chooseSubmissions(plan, facts, 4, { kind: 'mean' }, 1))).toBe(
      contentHash(chooseSubmissions(plan, facts, 4, { kind: 'mean' }, 1)),
    );
  });
});

describe("a combination of last round's dev gains", () => {
  const combination = {
    id: 'combination-r1',
    round: 1,
    sources: [
      {
        candidateId: 'c1-r1-c4',
        round: 1,
        axis: 'steps' as const,
        devGain: 0.02,
        lbGain: null,
        changes: [{ path: 'train.steps', from: 600, to: 900 }],
      },
      {
        candidateId: 'c1-r1-c5',
        round: 1,
        axis: 'data-mix' as const,
        devGain: 0.015,
        lbGain: 0.004,
        changes: [{ path: 'data.mix.cipher', from: 1, to: 2 }],
      },
    ],
    changes: [
      { path: 'data.mix.cipher', from: 1, to: 2 },
      { path: 'train.steps', from: 600, to: 900 },
    ],
    devScreen: 0.007071,
  };
  const policy = (): RollingPolicy => ({ ...withResearch(), combination });

  it('is planned after the probes and the confirmation, as one prescribed run restated on the standing recipe', () => {
    const plan = planRound('c1', 2, 77, 6, policy());
    expect(plan.map((c) => c.prescribed?.kind ?? (c.isAnchor ? 'anchor' : 'explore'))).toEqual([
      'anchor',
      'probe',
      'probe',
      'confirmation',
      'combination',
      'explore',
    ]);
    expect(plan[4]).toMatchObject({
      axis: 'steps',
      prescribed: { kind: 'combination', of: 'combination-r1', changes: combination.changes },
    });
    // A change that already stands drops out; one left is no combination.
    const standing = { ...policy(), standingRecipe: { ...recipe, train: { lr: 0.003, steps: 900 } } };
    expect(prescribedRuns(standing).map((r) => r.prescribed.kind)).not.toContain('combination');
  });

  it(
    'takes the leaderboard right after the confirmations (one ' + 'submission measures what several explorers found)',
    () => {
      const plan = planRound('c1', 2, 77, 6, policy());
      const done = (dev: number): CandidateFacts => ({
        sandboxPath: '/s',
        manifest: { status: 'completed', checkpoint: 'ck', dev: { overall: dev, domains: {} } },
        workerFailed: null,
        invalidated: null,
      });
      const facts = Object.fromEntries(plan.map((c, i) => [c.candidateId, done(0.5 + i / 100)]));
      const chosen = chooseSubmissions(plan, facts, 2, { kind: 'mean' }, 1);
      expect(chosen.map((c) => c.candidateId)).toEqual(['c1-r2-c3', 'c1-r2-c4']);
      expect(chosen[1].reason).toMatch(/combination run combination-r1/);
    },
  );
});
