import { testPolicy, type CandidateSpec } from '@aevo/evidence';
import type { RollingPolicy } from '@aevo/contracts';
import { metaPolicyDecider, type MetaPolicyEvent } from './decider';
import { proposalFrom, reviseCommand, revisedPolicy } from './test-support';
import { anchor, constitution, evidenceOf, lrTo, policy0, spec, started } from './meta-rules-support';

describe(
  'meta-rule: the dev/LB gap is a calibration signal — decoupling is a hypothesis: suspected, probed, ' +
    'confirmed or refuted',
  () => {
    const dataPolicy = testPolicy({ activeCategory: 'data', activeAxes: ['data-mix', 'synthetic-data'] });
    const startedData = () => started(dataPolicy);
    const equationUp = {
      bit_manipulation: 0.6,
      cipher: 0.6,
      equation: 0.95,
      gravity: 0.6,
      numeral: 0.6,
      unit_conversion: 0.6,
    };
    const suspect = [{ path: 'synthetic.equation', from: 0, to: 2000 }];
    const decoupled: CandidateSpec[] = [
      anchor(0.55),
      { axis: 'synthetic-data', dev: 0.68, domains: equationUp, lb: 0.551, changes: suspect },
    ];
    const hypothesisId = 'decoupling-r1-equation';
    const proProxy = (lb: number, domains = equationUp): CandidateSpec => ({
      axis: 'synthetic-data',
      dev: 0.68,
      domains,
      lb,
      changes: suspect,
      prescribed: {
        kind: 'probe',
        of: hypothesisId,
        role: 'pro-proxy',
        changes: suspect,
        hypothesis: 'repeat the suspect move',
      },
    });
    const downWeight = (lb: number, equation = 0.3): CandidateSpec => ({
      axis: 'data-mix',
      dev: 0.55,
      domains: { bit_manipulation: 0.6, cipher: 0.6, equation, gravity: 0.6, numeral: 0.6, unit_conversion: 0.6 },
      lb,
      changes: [{ path: 'mix.equation', from: 1, to: 0.5 }],
      prescribed: {
        kind: 'probe',
        of: hypothesisId,
        role: 'down-weight',
        changes: [{ path: 'mix.equation', from: 1, to: 0.5 }],
        hypothesis: 'less equation',
      },
    });
    const suspectedLog = () => {
      const log: MetaPolicyEvent[] = [startedData()];
      const state = log.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());
      log.push(...metaPolicyDecider.decide(reviseCommand(evidenceOf(decoupled, 1, dataPolicy), constitution), state));
      return log;
    };
    const stateOf = (log: MetaPolicyEvent[]) => log.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());

    it(
      'given dev up in one domain and the LB flat beyond noise, then a hypothesis is suspected and probes are due — ' +
        'nothing else changes yet',
      () => {
        const evidence = evidenceOf(decoupled, 1, dataPolicy);
        expect(evidence.calibration.proxyDecoupling).toMatchObject({
          flagged: true,
          candidates: ['c1-r1-c1'],
          domains: ['equation'],
        });
        spec
          .given([startedData()])
          .when(reviseCommand(evidence, constitution))
          .then((events) => {
            expect(events.map((e) => e.type)).toEqual(['DecouplingSuspected', 'PolicyRevised']);
            expect(events[0].data).toMatchObject({
              round: 1,
              hypothesis: {
                id: hypothesisId,
                domain: 'equation',
                status: 'suspected',
                suspectCandidateId: 'c1-r1-c1',
                suspectChanges: suspect,
              },
            });
            const p = revisedPolicy(events);
            expect(p.objective).toBe('raise-dev-and-lb');
            expect(p.selectionCriterion).toEqual({ kind: 'mean' });
            expect(p.deadEnds).toEqual([]);
            expect(p.decouplingHypotheses?.map((h) => [h.id, h.status])).toEqual([[hypothesisId, 'suspected']]);
          });
      },
    );

    it('given a gain spread evenly over every domain, then no domain is suspected', () => {
      const even: CandidateSpec[] = [
        anchor(0.55),
        { axis: 'learning-rate', dev: 0.63, lb: 0.552, changes: lrTo(0.002) },
      ];
      const events = metaPolicyDecider.decide(
        reviseCommand(evidenceOf(even, 1, policy0), constitution),
        stateOf([started()]),
      );
      expect(events.map((e) => e.type)).toEqual(['PolicyRevised']);
    });

    it(
      'given both probes as predicted, then the decoupling is confirmed, and only then the objective, selection and ' +
        'dead ends change',
      () => {
        const given = suspectedLog();
        const evidence = evidenceOf(
          [anchor(0.55), proProxy(0.549), downWeight(0.556)],
          2,
          stateOf(given).policy as RollingPolicy,
        );
        spec
          .given(given)
          .when(reviseCommand(evidence, constitution))
          .then((events) => {
            expect(events.map((e) => e.type)).toEqual(['DecouplingProbed', 'DecouplingConfirmed', 'PolicyRevised']);
            expect(events[1].data).toMatchObject({ round: 2, hypothesis: { status: 'confirmed', decidedRound: 2 } });
            const h = (events[1].data as { hypothesis: { probes: Array<{ role: string; verdict: string }> } })
              .hypothesis;
            expect(h.probes.map((x) => [x.role, x.verdict])).toEqual([
              ['pro-proxy', 'as-predicted'],
              ['down-weight', 'as-predicted'],
            ]);
            const p = revisedPolicy(events);
            expect(p.objective).toBe('transfer-to-lb');
            expect(p.evidenceRules.map((r) => r.id).sort()).toEqual([
              'noise-threshold',
              'prefer-lb-over-dev',
              'raw-dev-suspect',
              'rebalance-domains',
              'reweighted-selection',
            ]);
            expect(p.evidenceRules.find((r) => r.id === 'rebalance-domains')?.rule).toMatch(/\(equation\)/);
            expect(p.selectionCriterion).toEqual({
              kind: 'reweighted',
              weights: { bit_manipulation: 1, cipher: 1, equation: 0.5, gravity: 1, numeral: 1, unit_conversion: 1 },
            });
            expect(p.deadEnds[0]).toMatchObject({
              id: 'dead-end-c1-r1-c1',
              axis: 'synthetic-data',
              path: 'synthetic.equation',
              direction: 'increase',
              round: 2,
              candidateId: 'c1-r1-c1',
            });
            expect(p.deadEnds[0].description).toMatch(
              'raised equation dev without moving the public LB (proxy-only gain, decoupling decoupling-r1-equation ' +
                'confirmed by probes)',
            );
            const changes = events[2].type === 'PolicyRevised' ? events[2].data.changes : [];
            expect(changes).toContain('objective: raise-dev-and-lb → transfer-to-lb');
          });
      },
    );

    it(
      'given the pro-proxy probe moved the LB beyond noise, then the suspicion is refuted: a record, no dead end, no ' +
        'change of objective',
      () => {
        const given = suspectedLog();
        const evidence = evidenceOf(
          [anchor(0.55), proProxy(0.58), downWeight(0.556)],
          2,
          stateOf(given).policy as RollingPolicy,
        );
        const events = metaPolicyDecider.decide(reviseCommand(evidence, constitution), stateOf(given));
        expect(events.map((e) => e.type)).toEqual(['DecouplingProbed', 'DecouplingRefuted', 'PolicyRevised']);
        const p = revisedPolicy(events);
        expect(p.objective).toBe('raise-dev-and-lb');
        expect(p.deadEnds).toEqual([]);
        expect(p.decouplingHypotheses?.[0]).toMatchObject({ status: 'refuted', decidedRound: 2 });
        expect(p.decouplingHypotheses?.[0].evidence.join(' ')).toMatch(/a probe contradicted the prediction/);
      },
    );

    it(
      'given probes without leaderboard scores, then the hypothesis is probed again, and refuted as not borne out ' +
        'after a second inconclusive round',
      () => {
        const given = suspectedLog();
        const noLb = (c: CandidateSpec): CandidateSpec => ({ ...c, lb: undefined });
        const r2 = metaPolicyDecider.decide(
          reviseCommand(
            evidenceOf(
              [anchor(0.55), noLb(proProxy(0)), noLb(downWeight(0))],
              2,
              stateOf(given).policy as RollingPolicy,
            ),
            constitution,
          ),
          stateOf(given),
        );
        expect(r2.map((e) => e.type)).toEqual(['DecouplingProbed', 'PolicyRevised']);
        expect(revisedPolicy(r2).decouplingHypotheses?.[0].status).toBe('suspected');
        const log = [...given, ...r2];
        const r3 = metaPolicyDecider.decide(
          reviseCommand(
            evidenceOf([anchor(0.55), noLb(proProxy(0)), noLb(downWeight(0))], 3, stateOf(log).policy as RollingPolicy),
            constitution,
          ),
          stateOf(log),
        );
        expect(r3.map((e) => e.type)).toEqual(['DecouplingProbed', 'DecouplingRefuted', 'PolicyRevised']);
      },
    );

    it(
      'given per-domain LB scores, then the reweighted criterion weighs each domain by what the LB confirms of its ' +
        'dev',
      () => {
        const given = suspectedLog();
        const evidence = evidenceOf(
          [
            { ...anchor(0.55), domains: { ...equationUp, equation: 0.8 }, lbDomains: { equation: 0.4, gravity: 0.6 } },
            {
              ...proProxy(0.549),
              domains: { ...equationUp, equation: 0.99 },
              lbDomains: { equation: 0.41, gravity: 0.6 },
            },
            downWeight(0.556, 0.7),
          ],
          2,
          stateOf(given).policy as RollingPolicy,
        );
        const p = revisedPolicy(metaPolicyDecider.decide(reviseCommand(evidence, constitution), stateOf(given)));
        // equation: LB 0.4 of dev 0.8; gravity: 0.6 of 0.6; domains without an LB score keep weight 1.
        expect(p.selectionCriterion).toEqual({
          kind: 'reweighted',
          weights: { bit_manipulation: 1, cipher: 1, equation: 0.5, gravity: 1, numeral: 1, unit_conversion: 1 },
        });
      },
    );

    it('given a confirmed decoupling, when the meta agent keeps rewarding raw dev, then it is refused', () => {
      const given = suspectedLog();
      const previous = stateOf(given).policy as RollingPolicy;
      const evidence = evidenceOf([anchor(0.55), proProxy(0.549), downWeight(0.556)], 2, previous);
      const events = metaPolicyDecider.decide(
        reviseCommand(evidence, constitution, proposalFrom(previous)),
        stateOf(given),
      );
      expect(events.filter((e) => e.type === 'ConstitutionViolationRefused').map((e) => e.data.rule)).toContain(
        'dev-lb-gap-calibration',
      );
      expect(revisedPolicy(events).objective).toBe('transfer-to-lb');
    });
  },
);
