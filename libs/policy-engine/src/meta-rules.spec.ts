import fc from 'fast-check';
import { collectRoundEvidence, testCampaignStarted, testPolicy, testRound, type CandidateSpec } from '@aevo/evidence';
import { DeciderSpecification } from '@aevo/testkit';
import type { RollingPolicy } from '@aevo/contracts';
import { metaPolicyDecider, type MetaPolicyEvent } from './decider';
import { defaultConstitution, proposalFrom, reviseCommand, revisedPolicy } from './test-support';

const constitution = defaultConstitution();
const spec = DeciderSpecification(metaPolicyDecider);
const AXES = ['learning-rate', 'schedule', 'steps', 'data-mix', 'synthetic-data'] as const;

const policy0 = testPolicy({ promotionThreshold: 0.01, activeCategory: 'optimisation', activeAxes: ['learning-rate', 'schedule', 'steps'] });
const started = (p: RollingPolicy = policy0): MetaPolicyEvent =>
  testCampaignStarted('c1', p, { constitutionSha256: constitution.sha256, constitution: constitution.constitution, axes: [...AXES] }) as unknown as MetaPolicyEvent;

const evidenceOf = (specs: CandidateSpec[], round: number, policy: RollingPolicy) => collectRoundEvidence(testRound(specs, { round, policy }));

/** Anchor with three seeds: dev σ = 0.005 (measured), so LB σ (dev proxy) = 0.005 and the bar = 2 × 0.005 = 0.01. */
const roundTo6 = (x: number) => Math.round(x * 1e6) / 1e6;
const anchor = (lb: number, dev = 0.6): CandidateSpec => ({ axis: 'baseline', dev, lb, extraSeedDevs: [dev + 0.005, dev - 0.005] });
const lrTo = (to: number) => [{ path: 'optim.lr', from: 0.001, to }];

/** Runs the rule engine round after round and returns the log (for `given`). */
function run(rounds: CandidateSpec[][]): MetaPolicyEvent[] {
  const log: MetaPolicyEvent[] = [started()];
  rounds.forEach((specs, k) => {
    const state = log.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());
    const evidence = evidenceOf(specs, k + 1, state.policy as RollingPolicy);
    log.push(...metaPolicyDecider.decide(reviseCommand(evidence, constitution), state));
  });
  return log;
}
const latest = (log: MetaPolicyEvent[]) => log.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()).policy as RollingPolicy;

describe('meta-rule: the leaderboard is authoritative, promotion needs an LB gain above the threshold', () => {
  it('given an LB gain inside the noise band, when the policy is revised, then nothing is promoted', () => {
    const evidence = evidenceOf([anchor(0.55), { axis: 'learning-rate', dev: 0.63, lb: 0.558, changes: lrTo(0.002) }], 1, policy0);
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['PolicyRevised']);
        const p = revisedPolicy(events);
        expect(p.standingRecipe).toEqual(policy0.standingRecipe);
        expect(p.plateauRounds).toBe(1);
        expect(p.rationale).toMatch(/No promotion: the best public-LB gain, \+0\.0080 by c1-r1-c1, does not exceed the bar 0\.01/);
      });
  });

  it('given an LB gain above the threshold, when revised, then the standing recipe takes exactly that candidate’s changes', () => {
    const evidence = evidenceOf(
      [anchor(0.55), { axis: 'learning-rate', dev: 0.62, lb: 0.58, changes: lrTo(0.002) }, { axis: 'steps', dev: 0.61, lb: 0.57, changes: [{ path: 'optim.steps', from: 400, to: 500 }] }],
      1,
      policy0,
    );
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        const p = revisedPolicy(events);
        expect(p.standingRecipe).toEqual({ optim: { lr: 0.002, steps: 400 }, mix: { equation: 1, gravity: 1 } });
        expect(p.plateauRounds).toBe(0);
        expect(p.bestPublicLb).toBe(0.58);
        const revised = events[0].type === 'PolicyRevised' ? events[0].data : null;
        expect(revised?.changes).toContain('standing recipe: optim.lr 0.001 → 0.002');
        expect(revised?.proposer).toBe('rules');
      });
  });

  it('given a large dev gain without an LB score, then it is not promoted (dev never promotes)', () => {
    const evidence = evidenceOf([anchor(0.55), { axis: 'learning-rate', dev: 0.75, changes: lrTo(0.002) }], 1, policy0);
    spec.given([started()]).when(reviseCommand(evidence, constitution)).then((events) => expect(revisedPolicy(events).standingRecipe).toEqual(policy0.standingRecipe));
  });

  it('given the best LB gain came from a candidate that left its axis, then it is not promoted', () => {
    const evidence = evidenceOf(
      [anchor(0.55), { axis: 'learning-rate', dev: 0.62, lb: 0.6, changes: [...lrTo(0.002), { path: 'mix.equation', from: 1, to: 3 }] }],
      1,
      policy0,
    );
    spec.given([started()]).when(reviseCommand(evidence, constitution)).then((events) => expect(revisedPolicy(events).standingRecipe).toEqual(policy0.standingRecipe));
  });
});

describe('meta-rule: the promotion threshold is calibrated from the anchor’s seed variance', () => {
  it('given anchor seeds with σ = 0.01, then the threshold becomes 2 × 0.01', () => {
    const evidence = evidenceOf([{ axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.62, 0.61] }], 1, policy0);
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        const p = revisedPolicy(events);
        expect(p.noiseBand).toEqual({ devStd: 0.01, lbStd: 0.01, seeds: 3, round: 1, devDf: 2, lbDf: 0 });
        expect(p.promotionThreshold).toBe(0.02);
      });
  });

  it('given the anchor’s seeds were each scored on the leaderboard, then the threshold follows the LB seed noise', () => {
    const evidence = evidenceOf([{ axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.605, 0.595], extraSeedLbs: [0.59, 0.57] }], 1, policy0);
    expect(evidence.calibration.noise).toMatchObject({ lbStd: 0.02, lbSource: 'anchor-seeds', lbDf: 2, devStd: 0.005 });
    const p = revisedPolicy(spec.given([started()]).when(reviseCommand(evidence, constitution)).then(() => undefined));
    expect(p.promotionThreshold).toBe(0.04);
    // A later round's anchor pools with this band rather than replacing it.
    const next = evidenceOf([{ axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.6], extraSeedLbs: [0.55] }], 2, p);
    expect(next.calibration.noise).toMatchObject({ lbSource: 'pooled', lbDf: 3, lbStd: roundTo6(Math.sqrt((2 * 0.02 ** 2) / 3)) });
  });

  it('given no measurable noise (one seed, identical seeds), then the threshold never falls below the minimum multiple of the floor', () => {
    for (const specs of [[{ axis: 'baseline', dev: 0.6, lb: 0.55 }], [{ axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.6, 0.6] }]] as CandidateSpec[][]) {
      const p = revisedPolicy(spec.given([started()]).when(reviseCommand(evidenceOf(specs, 1, policy0), constitution)).then(() => undefined));
      expect(p.promotionThreshold).toBe(0.01);
    }
  });

  it('given the single-seed anchor, then the policy asks the anchor for two seeds so the band can be measured', () => {
    const p = revisedPolicy(
      spec.given([started(testPolicy({ anchorSeeds: 1 }))]).when(reviseCommand(evidenceOf([{ axis: 'baseline', dev: 0.6, lb: 0.55 }], 1, testPolicy({ anchorSeeds: 1 })), constitution)).then(() => undefined),
    );
    expect(p.anchorSeeds).toBe(2);
  });
});

describe('meta-rule: rotate the axis category after two rounds of LB plateau', () => {
  const flat: CandidateSpec[] = [anchor(0.55), { axis: 'learning-rate', dev: 0.61, lb: 0.552, changes: lrTo(0.0015) }];

  it('given one round without LB gain, when another plateau round is revised, then the category rotates', () => {
    const given = run([flat]);
    expect(latest(given)).toMatchObject({ activeCategory: 'optimisation', plateauRounds: 1 });
    const evidence = evidenceOf(flat, 2, latest(given));
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        const p = revisedPolicy(events);
        // capacity has no campaign axes, so data is next.
        expect(p.activeCategory).toBe('data');
        expect(p.activeAxes).toEqual(['data-mix', 'synthetic-data']);
        expect(p.plateauRounds).toBe(0);
        expect(p.rationale).toMatch(/Rotating the active category optimisation → data: no public-LB gain above the threshold for 2 round\(s\)/);
      });
  });

  it('given a promotion in between, then the plateau count restarts and nothing rotates', () => {
    const log = run([flat, [anchor(0.55), { axis: 'learning-rate', dev: 0.61, lb: 0.6, changes: lrTo(0.002) }], flat]);
    expect(latest(log)).toMatchObject({ activeCategory: 'optimisation', plateauRounds: 1 });
  });

  it('given a required rotation, when the meta agent proposes to stay, then it is refused and the rule engine rotates', () => {
    const given = run([flat]);
    const evidence = evidenceOf(flat, 2, latest(given));
    const staying = proposalFrom(latest(given));
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution, staying))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['ConstitutionViolationRefused', 'PolicyRevised']);
        expect(events[0].data).toMatchObject({ round: 2, rule: 'rotation-required' });
        expect(revisedPolicy(events).activeCategory).toBe('data');
        expect(events[1].type === 'PolicyRevised' && events[1].data.llm).toMatchObject({ refused: true, model: 'claude-test', proposal: staying });
      });
  });
});

describe('meta-rule: the dead-end registry only grows', () => {
  const harmful: CandidateSpec[] = [anchor(0.55), { axis: 'learning-rate', dev: 0.5, lb: 0.5, changes: lrTo(0.02) }];

  it('given a change that lowered the LB beyond the threshold, then it is registered with its round', () => {
    const p = latest(run([harmful]));
    expect(p.deadEnds).toEqual([
      expect.objectContaining({ id: 'dead-end-c1-r1-c1', axis: 'learning-rate', path: 'optim.lr', direction: 'increase', value: 0.02, round: 1, candidateId: 'c1-r1-c1' }),
    ]);
    expect(p.deadEnds[0].description).toMatch(/^learning-rate: optim\.lr 0\.001 → 0\.02 — lowered the public LB/);
  });

  it('given an axis whose changes were dead ends in two rounds, then it retires; one bad round does not retire it', () => {
    const once = latest(run([harmful]));
    expect(once.retiredAxes).toEqual([]);
    expect(once.activeAxes).toContain('learning-rate');
    const twice = latest(run([harmful, [anchor(0.55), { axis: 'learning-rate', dev: 0.5, lb: 0.5, changes: lrTo(0.03) }]]));
    expect(twice.retiredAxes).toEqual([{ axis: 'learning-rate', round: 2, reason: 'its changes were dead ends in rounds 1, 2' }]);
    expect(twice.activeAxes).not.toContain('learning-rate');
  });

  it('given the same dead end found again, then it is not duplicated', () => {
    expect(latest(run([harmful, harmful])).deadEnds).toHaveLength(1);
  });

  it('given a proposal without an earlier dead end, then it is refused and the dead end stays', () => {
    const given = run([harmful]);
    const evidence = evidenceOf([anchor(0.55)], 2, latest(given));
    const removing = { ...proposalFrom(latest(given)), deadEnds: [] };
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution, removing))
      .then((events) => {
        expect(events[0].data).toMatchObject({ rule: 'dead-end-registry-only-grows', detail: 'removes dead end(s) dead-end-c1-r1-c1' });
        expect(revisedPolicy(events).deadEnds.map((d) => d.id)).toEqual(['dead-end-c1-r1-c1']);
      });
  });

  it('given a proposal that rewrites a dead end, then it is refused', () => {
    const given = run([harmful]);
    const p = latest(given);
    const rewriting = { ...proposalFrom(p), deadEnds: [{ ...p.deadEnds[0], description: 'worth another try' }] };
    const events = metaPolicyDecider.decide(reviseCommand(evidenceOf([anchor(0.55)], 2, p), constitution, rewriting), given.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()));
    expect(events[0].data).toMatchObject({ rule: 'dead-end-registry-only-grows', detail: 'rewrites dead end(s) dead-end-c1-r1-c1' });
  });

  it('for any sequence of rounds, every revision keeps every earlier dead end unchanged', () => {
    const candidate = fc.record({
      axis: fc.constantFrom('learning-rate' as const, 'steps' as const, 'data-mix' as const),
      dev: fc.double({ min: 0.3, max: 0.9, noNaN: true }),
      lb: fc.option(fc.double({ min: 0.3, max: 0.9, noNaN: true }), { nil: undefined }),
      to: fc.integer({ min: 1, max: 5 }),
      status: fc.constantFrom('completed' as const, 'completed' as const, 'failed' as const),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ min: 0.4, max: 0.7, noNaN: true }), fc.array(candidate, { minLength: 1, maxLength: 4 })), { minLength: 1, maxLength: 5 }), (rounds) => {
        const specs = rounds.map(([lb, cs]) => [
          anchor(lb),
          ...cs.map((c): CandidateSpec => ({ axis: c.axis, dev: c.dev, lb: c.lb, status: c.status, changes: [{ path: c.axis === 'data-mix' ? 'mix.equation' : c.axis === 'steps' ? 'optim.steps' : 'optim.lr', from: 1, to: c.to }] })),
        ]);
        const log = run(specs);
        const policies = log.filter((e) => e.type === 'PolicyRevised').map((e) => (e.type === 'PolicyRevised' ? e.data.policy : policy0));
        for (let k = 1; k < policies.length; k++)
          expect(policies[k].deadEnds.slice(0, policies[k - 1].deadEnds.length)).toEqual(policies[k - 1].deadEnds);
      }),
      { numRuns: 60, seed: 4242 },
    );
  });
});

describe('meta-rule: the dev/LB gap is a calibration signal (proxy decoupling)', () => {
  const decoupled: CandidateSpec[] = [
    anchor(0.55),
    {
      axis: 'synthetic-data',
      dev: 0.68,
      domains: { bit_manipulation: 0.6, cipher: 0.6, equation: 0.95, gravity: 0.6, numeral: 0.6, unit_conversion: 0.6 },
      lb: 0.551,
      changes: [{ path: 'synthetic.equation', from: 0, to: 2000 }],
    },
  ];

  it('given dev up and LB flat beyond noise, then the flag is raised and the next policy’s evidence rules change', () => {
    const dataPolicy = testPolicy({ activeCategory: 'data', activeAxes: ['data-mix', 'synthetic-data'] });
    const evidence = evidenceOf(decoupled, 1, dataPolicy);
    expect(evidence.calibration.proxyDecoupling).toMatchObject({ flagged: true, candidates: ['c1-r1-c1'], domains: ['equation'] });
    spec
      .given([started(dataPolicy)])
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        const p = revisedPolicy(events);
        expect(p.objective).toBe('transfer-to-lb');
        expect(p.evidenceRules.map((r) => r.id).sort()).toEqual(['noise-threshold', 'prefer-lb-over-dev', 'raw-dev-suspect', 'rebalance-domains', 'reweighted-selection']);
        expect(p.evidenceRules.find((r) => r.id === 'rebalance-domains')?.rule).toMatch(/\(equation\)/);
        expect(p.evidenceRules.find((r) => r.id === 'prefer-lb-over-dev')?.rule).toBe('Prefer interventions that may lower dev but raise the public leaderboard');
        expect(p.selectionCriterion).toEqual({
          kind: 'reweighted',
          weights: { bit_manipulation: 1, cipher: 1, equation: 0.5, gravity: 1, numeral: 1, unit_conversion: 1 },
        });
        expect(p.deadEnds[0]).toMatchObject({ axis: 'synthetic-data', path: 'synthetic.equation', round: 1 });
        expect(p.deadEnds[0].description).toMatch(/proxy-only gain/);
        const changes = events[0].type === 'PolicyRevised' ? events[0].data.changes : [];
        expect(changes).toContain('objective: raise-dev-and-lb → transfer-to-lb');
      });
  });

  it('given per-domain LB scores, then the reweighted criterion weighs each domain by what the LB confirms of its dev', () => {
    const dataPolicy = testPolicy({ activeCategory: 'data', activeAxes: ['data-mix', 'synthetic-data'] });
    const withDomains: CandidateSpec[] = [
      { ...anchor(0.55), domains: { equation: 0.8, gravity: 0.6 }, lbDomains: { equation: 0.4, gravity: 0.6 } },
      { ...decoupled[1], domains: { equation: 0.99, gravity: 0.6 }, lbDomains: { equation: 0.41, gravity: 0.6 } },
    ];
    const p = revisedPolicy(spec.given([started(dataPolicy)]).when(reviseCommand(evidenceOf(withDomains, 1, dataPolicy), constitution)).then(() => undefined));
    expect(p.selectionCriterion).toEqual({ kind: 'reweighted', weights: { equation: 0.5, gravity: 1 } });
  });

  it('given decoupling, when the meta agent keeps rewarding raw dev, then it is refused', () => {
    const evidence = evidenceOf(decoupled, 1, policy0);
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution, proposalFrom(policy0)))
      .then((events) => {
        expect(events.filter((e) => e.type === 'ConstitutionViolationRefused').map((e) => e.data.rule)).toContain('dev-lb-gap-calibration');
        expect(revisedPolicy(events).objective).toBe('transfer-to-lb');
      });
  });
});

describe('the meta agent has no write path to the constitution', () => {
  it('given the pinned hash differs from the constitution held now, then no revision is made', () => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const other = { ...started(), data: { ...(started().data as object), constitutionSha256: 'f'.repeat(64) } } as MetaPolicyEvent;
    spec
      .given([other])
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ type: 'ConstitutionViolationRefused', data: { rule: 'constitution-pinned' } });
        expect((events[0].data as { detail: string }).detail).toMatch(/campaign pinned f{64}/);
      });
  });

  it('given a held constitution whose document was swapped under unchanged bytes, then no revision is made', () => {
    const forged = { ...constitution, constitution: { ...constitution.constitution, rules: { ...constitution.constitution.rules, minThresholdNoiseMultiple: 0.1 } } };
    const events = metaPolicyDecider.decide(reviseCommand(evidenceOf([anchor(0.55)], 1, policy0), forged), [started()].reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()));
    expect(events).toEqual([expect.objectContaining({ type: 'ConstitutionViolationRefused', data: expect.objectContaining({ rule: 'constitution-pinned', detail: expect.stringMatching(/differs from its pinned bytes/) }) })]);
  });

  it.each([
    ['a constitution field', { constitution: { rules: { plateauRoundsBeforeRotation: 99 } } }],
    ['a rules field', { rules: { minThresholdNoiseMultiple: 0 } }],
    ['a nested meta-rule', { selectionCriterion: { kind: 'mean', minThresholdNoiseMultiple: 0 } }],
    ['a system prompt', { systemPrompt: 'You may promote anything.' }],
  ])('given a proposal that carries %s, then it is refused as constitution-immutable', (_what, extra) => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const base = revisedPolicy(metaPolicyDecider.decide(reviseCommand(evidence, constitution), [started()].reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState())));
    const proposal = { ...proposalFrom(base), ...extra };
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution, proposal))
      .then((events) => {
        expect(events.map((e) => e.type)).toContain('ConstitutionViolationRefused');
        expect(events.find((e) => e.type === 'ConstitutionViolationRefused')?.data).toMatchObject({ rule: 'constitution-immutable' });
        expect(revisedPolicy(events)).toEqual(base);
      });
  });

  it('given a proposal that promotes below the threshold, then it is refused', () => {
    const evidence = evidenceOf([anchor(0.55), { axis: 'learning-rate', dev: 0.7, lb: 0.556, changes: lrTo(0.002) }], 1, policy0);
    const promoting = { ...proposalFrom(policy0, 'c1-r1-c1'), standingRecipe: { optim: { lr: 0.002, steps: 400 }, mix: { equation: 1, gravity: 1 } } };
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution, promoting))
      .then((events) => {
        expect(events[0].data).toMatchObject({ rule: 'promotion-requires-lb-gain' });
        expect((events[0].data as { detail: string }).detail).toMatch(/not above the bar 0\.01/);
        expect(revisedPolicy(events).standingRecipe).toEqual(policy0.standingRecipe);
      });
  });

  it('given a proposal that edits the standing recipe without a promotion, or lowers the threshold, then it is refused', () => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const sneaky = { ...proposalFrom(policy0), standingRecipe: { optim: { lr: 0.5, steps: 400 } }, promotionThreshold: 0.001 };
    const rules = metaPolicyDecider
      .decide(reviseCommand(evidence, constitution, sneaky), [started()].reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()))
      .filter((e) => e.type === 'ConstitutionViolationRefused')
      .map((e) => e.data.rule);
    expect(rules).toEqual(['promotion-requires-lb-gain', 'threshold-below-minimum']);
  });

  it('given a compliant proposal, then it becomes the policy, proposed by claude, with the LLM turn recorded', () => {
    const evidence = evidenceOf([anchor(0.55), { axis: 'learning-rate', dev: 0.62, lb: 0.58, changes: lrTo(0.002) }], 1, policy0);
    const rules = revisedPolicy(metaPolicyDecider.decide(reviseCommand(evidence, constitution), [started()].reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState())));
    const proposal = { ...proposalFrom(rules, 'c1-r1-c1'), promotionThreshold: 0.015, rationale: 'lr 0.002 transferred to the LB' };
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution, proposal))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['PolicyRevised']);
        const d = events[0].type === 'PolicyRevised' ? events[0].data : null;
        expect(d).toMatchObject({ proposer: 'claude', llm: { model: 'claude-test', refused: false, cacheReadTokens: 1000 } });
        expect(d?.policy).toMatchObject({ promotionThreshold: 0.015, rationale: 'lr 0.002 transferred to the LB', standingRecipe: rules.standingRecipe, revision: 1, forRound: 2 });
      });
  });
});

describe('meta-policy decider: idempotence and order', () => {
  it('given the round was already revised, then a redelivered evidence changes nothing', () => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const log = run([[anchor(0.55)]]);
    spec.given(log).when(reviseCommand(evidence, constitution)).thenNothing();
  });

  it('given evidence of a later round than the policy steers, then it is refused for now (retried later)', () => {
    spec.given([started()]).when(reviseCommand(evidenceOf([anchor(0.55)], 2, policy0), constitution)).thenThrows(/steers round 1, not round 2/);
  });

  it('given evidence whose hash does not match, then it is refused naming the field', () => {
    const cmd = { ...reviseCommand(evidenceOf([anchor(0.55)], 1, policy0), constitution), evidenceSha256: 'a'.repeat(64) };
    spec.given([started()]).when(cmd).thenThrows((e) => (e as { issues: Array<{ path: string }> }).issues[0].path === 'evidenceSha256');
  });

  it('given no campaign, then it is refused', () => {
    spec.given([]).when(reviseCommand(evidenceOf([anchor(0.55)], 1, policy0), constitution)).thenThrows(/no CampaignStarted/);
  });
});
