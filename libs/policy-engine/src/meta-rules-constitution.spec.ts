import type { RollingPolicy } from '@aevo/contracts';
import { metaPolicyDecider, type MetaPolicyEvent } from './decider';
import { proposalFrom, reviseCommand, revisedPolicy } from './test-support';
import { anchor, constitution, evidenceOf, lrTo, policy0, run, spec, started } from './meta-rules-support';

describe('the meta agent has no write path to the constitution', () => {
  it('given the pinned hash differs from the constitution held now, then no revision is made', () => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const other = {
      ...started(),
      data: { ...(started().data as object), constitutionSha256: 'f'.repeat(64) },
    } as MetaPolicyEvent;
    spec
      .given([other])
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({
          type: 'ConstitutionViolationRefused',
          data: { rule: 'constitution-pinned' },
        });
        expect((events[0].data as { detail: string }).detail).toMatch(/campaign pinned f{64}/);
      });
  });

  it('given a held constitution whose document was swapped under unchanged bytes, then no revision is made', () => {
    const forged = {
      ...constitution,
      constitution: {
        ...constitution.constitution,
        rules: { ...constitution.constitution.rules, minThresholdNoiseMultiple: 0.1 },
      },
    };
    const events = metaPolicyDecider.decide(
      reviseCommand(evidenceOf([anchor(0.55)], 1, policy0), forged),
      [started()].reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()),
    );
    expect(events).toEqual([
      expect.objectContaining({
        type: 'ConstitutionViolationRefused',
        data: expect.objectContaining({
          rule: 'constitution-pinned',
          detail: expect.stringMatching(/differs from its pinned bytes/),
        }),
      }),
    ]);
  });

  it.each([
    ['a constitution field', { constitution: { rules: { plateauRoundsBeforeRotation: 99 } } }],
    ['a rules field', { rules: { minThresholdNoiseMultiple: 0 } }],
    ['a nested meta-rule', { selectionCriterion: { kind: 'mean', minThresholdNoiseMultiple: 0 } }],
    ['a system prompt', { systemPrompt: 'You may promote anything.' }],
  ])('given a proposal that carries %s, then it is refused as constitution-immutable', (_what, extra) => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const base = revisedPolicy(
      metaPolicyDecider.decide(
        reviseCommand(evidence, constitution),
        [started()].reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()),
      ),
    );
    const proposal = { ...proposalFrom(base), ...extra };
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution, proposal))
      .then((events) => {
        expect(events.map((e) => e.type)).toContain('ConstitutionViolationRefused');
        expect(events.find((e) => e.type === 'ConstitutionViolationRefused')?.data).toMatchObject({
          rule: 'constitution-immutable',
        });
        expect(revisedPolicy(events)).toEqual(base);
      });
  });

  it('given a proposal that promotes below the threshold, then it is refused', () => {
    const evidence = evidenceOf(
      [anchor(0.55), { axis: 'learning-rate', dev: 0.7, lb: 0.556, changes: lrTo(0.002) }],
      1,
      policy0,
    );
    const promoting = {
      ...proposalFrom(policy0, 'c1-r1-c1'),
      standingRecipe: { optim: { lr: 0.002, steps: 400 }, mix: { equation: 1, gravity: 1 } },
    };
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution, promoting))
      .then((events) => {
        expect(events[0].data).toMatchObject({ rule: 'promotion-requires-lb-gain' });
        expect((events[0].data as { detail: string }).detail).toMatch(
          'c1-r1-c1 is not a gain awaiting confirmation (a gain above the bar 0.014142 must be confirmed on another ' +
            'seed first)',
        );
        expect(revisedPolicy(events).standingRecipe).toEqual(policy0.standingRecipe);
      });
  });

  it(
    'given a proposal that edits the standing recipe without a promotion, or lowers the threshold, then it is ' +
      'refused',
    () => {
      const evidence = evidenceOf([anchor(0.55)], 1, policy0);
      const sneaky = {
        ...proposalFrom(policy0),
        standingRecipe: { optim: { lr: 0.5, steps: 400 } },
        promotionThreshold: 0.001,
      };
      const rules = metaPolicyDecider
        .decide(
          reviseCommand(evidence, constitution, sneaky),
          [started()].reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()),
        )
        .filter((e) => e.type === 'ConstitutionViolationRefused')
        .map((e) => e.data.rule);
      expect(rules).toEqual(['promotion-requires-lb-gain', 'threshold-below-minimum']);
    },
  );

  it('given a compliant proposal, then it becomes the policy, proposed by claude, with the LLM turn recorded', () => {
    const given = run([[anchor(0.55), { axis: 'learning-rate', dev: 0.62, lb: 0.58, changes: lrTo(0.002) }]]);
    const state = given.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());
    const evidence = evidenceOf(
      [
        anchor(0.55),
        {
          axis: 'learning-rate',
          dev: 0.62,
          lb: 0.575,
          changes: lrTo(0.002),
          prescribed: { kind: 'confirmation', of: 'c1-r1-c1', changes: lrTo(0.002), hypothesis: 'confirm' },
        },
      ],
      2,
      state.policy as RollingPolicy,
    );
    const rules = revisedPolicy(metaPolicyDecider.decide(reviseCommand(evidence, constitution), state));
    const proposal = {
      ...proposalFrom(rules, 'c1-r1-c1'),
      promotionThreshold: 0.02,
      rationale: 'lr 0.002 transferred to the LB, twice',
    };
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution, proposal))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['PolicyRevised']);
        const d = events[0].type === 'PolicyRevised' ? events[0].data : null;
        expect(d).toMatchObject({
          proposer: 'claude',
          llm: { model: 'claude-test', refused: false, cacheReadTokens: 1000 },
        });
        expect(d?.policy).toMatchObject({
          promotionThreshold: 0.02,
          rationale: 'lr 0.002 transferred to the LB, twice',
          standingRecipe: rules.standingRecipe,
          revision: 2,
          forRound: 3,
        });
        expect(rules.standingRecipe).toMatchObject({ optim: { lr: 0.002 } });
        // The research bookkeeping is the rule engine's whoever proposes.
        expect(d?.policy.standingLb).toEqual(rules.standingLb);
        expect(d?.policy.searchHints).toEqual(rules.searchHints);
      });
  });

  it(
    'given proposals naming active axes, then an axis of another category in the campaign is followed, one outside ' +
      'the campaign is refused',
    () => {
      const given = run([]);
      const state = given.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());
      const evidence = evidenceOf([anchor(0.55)], 1, state.policy as RollingPolicy);
      const rules = revisedPolicy(metaPolicyDecider.decide(reviseCommand(evidence, constitution), state));
      const propose = (activeAxes: string[]) =>
        metaPolicyDecider.decide(
          reviseCommand(evidence, constitution, { ...proposalFrom(rules, null), activeAxes, rationale: 'axes' }),
          state,
        );
      const across = propose(['steps', 'data-mix']);
      expect(across.map((e) => e.type)).toEqual(['PolicyRevised']);
      expect(revisedPolicy(across).activeAxes).toEqual(['steps', 'data-mix']);
      const outside = propose(['steps', 'clipping']); // clipping is not one of the campaign's axes
      expect(outside.map((e) => e.type)).toEqual(['ConstitutionViolationRefused', 'PolicyRevised']);
      expect(outside[0].data).toMatchObject({ rule: 'proposal-invalid' });
    },
  );

  it('given a proposal that promotes a gain whose confirmation failed, then it is refused', () => {
    const given = run([[anchor(0.55), { axis: 'learning-rate', dev: 0.62, lb: 0.58, changes: lrTo(0.002) }]]);
    const state = given.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());
    const evidence = evidenceOf(
      [
        anchor(0.55),
        {
          axis: 'learning-rate',
          dev: 0.62,
          lb: 0.549,
          changes: lrTo(0.002),
          prescribed: { kind: 'confirmation', of: 'c1-r1-c1', changes: lrTo(0.002), hypothesis: 'confirm' },
        },
      ],
      2,
      state.policy as RollingPolicy,
    );
    const proposal = {
      ...proposalFrom(state.policy as RollingPolicy, 'c1-r1-c1'),
      standingRecipe: { optim: { lr: 0.002, steps: 400 }, mix: { equation: 1, gravity: 1 } },
    };
    const events = metaPolicyDecider.decide(reviseCommand(evidence, constitution, proposal), state);
    expect(events[0].data).toMatchObject({ rule: 'promotion-requires-lb-gain' });
    expect((events[0].data as { detail: string }).detail).toMatch(
      /c1-r1-c1's gain was not confirmed: not confirmed by c1-r2-c1/,
    );
  });
});

describe('meta-policy decider: idempotence and order', () => {
  it('given the round was already revised, then a redelivered evidence changes nothing', () => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const log = run([[anchor(0.55)]]);
    spec.given(log).when(reviseCommand(evidence, constitution)).thenNothing();
  });

  it('given evidence of a later round than the policy steers, then it is refused for now (retried later)', () => {
    spec
      .given([started()])
      .when(reviseCommand(evidenceOf([anchor(0.55)], 2, policy0), constitution))
      .thenThrows(/steers round 1, not round 2/);
  });

  it('given evidence whose hash does not match, then it is refused naming the field', () => {
    const cmd = {
      ...reviseCommand(evidenceOf([anchor(0.55)], 1, policy0), constitution),
      evidenceSha256: 'a'.repeat(64),
    };
    spec
      .given([started()])
      .when(cmd)
      .thenThrows((e) => (e as { issues: Array<{ path: string }> }).issues[0].path === 'evidenceSha256');
  });

  it('given no campaign, then it is refused', () => {
    spec
      .given([])
      .when(reviseCommand(evidenceOf([anchor(0.55)], 1, policy0), constitution))
      .thenThrows(/no CampaignStarted/);
  });
});
