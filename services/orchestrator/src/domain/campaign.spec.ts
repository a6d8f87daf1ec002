import {
  CampaignConfig,
  contentHash,
  DEFAULT_CLAUDE_MODEL,
  DomainError,
  type Constitution,
  type RollingPolicy,
} from '@aevo/contracts';
import { DeciderSpecification } from '@aevo/testkit';
import { campaignDecider, type CampaignEvent, type StartCampaignCommand } from './campaign';
import { planRound, roundSeed } from './planning';

const config = CampaignConfig.parse({
  campaignId: 'c1',
  substratePath: 'substrate/simulated',
  constitutionPath: 'constitutions/default.yaml',
  rounds: 3,
  workersPerRound: 5,
  axes: ['learning-rate', 'schedule', 'data-mix'],
  anchorSeeds: 2,
  seed: 42,
  budgets: { gpuSeconds: 3600, llmTokens: 0, submissionsPerRound: 2 },
});
const constitution: Constitution = {
  name: 'default',
  version: '1',
  text: 'The leaderboard is authoritative.',
  rules: {
    leaderboardAuthoritative: true,
    plateauRoundsBeforeRotation: 2,
    deadEndRegistryOnlyGrows: true,
    promotionRequiresLbGain: true,
    minThresholdNoiseMultiple: 2,
    decouplingNoiseMultiple: 2,
    maxSubmissionsPerRound: 3,
  } as Constitution['rules'],
};
const recipe = { lr: 0.001, steps: 200 };
const startCampaign: StartCampaignCommand = {
  type: 'StartCampaign',
  config,
  constitution,
  constitutionSha256: 'a'.repeat(64),
  standingRecipe: recipe,
  receivedAt: new Date('2026-12-07T08:00:00Z'),
};

const spec = DeciderSpecification(campaignDecider);
const started = (): CampaignEvent =>
  spec
    .given([])
    .when(startCampaign)
    .then(() => undefined)[0];
const policyOf = (e: CampaignEvent): RollingPolicy =>
  e.type === 'CampaignStarted' ? e.data.initialPolicy : (undefined as never);
const code = (c: string) => (err: unknown) => err instanceof DomainError && err.code === c;

describe('StartCampaign', () => {
  it('pins the constitution and builds revision 0 of the policy from the recipe and the first axis category', () => {
    spec
      .given([])
      .when(startCampaign)
      .then(([e]) => {
        expect(e.type).toBe('CampaignStarted');
        if (e.type !== 'CampaignStarted') return;
        expect(e.data.constitutionSha256).toBe('a'.repeat(64));
        expect(e.data.constitution).toEqual(constitution);
        expect(e.data.initialPolicy).toMatchObject({
          revision: 0,
          forRound: 1,
          standingRecipe: recipe,
          activeCategory: 'optimisation',
          activeAxes: ['learning-rate', 'schedule'],
          anchorSeeds: 2,
          deadEnds: [],
          bestPublicLb: null,
        });
      });
  });

  it('is refused when the campaign exists', () => {
    spec.given([started()]).when(startCampaign).thenThrows(code('CAMPAIGN_EXISTS'));
  });

  it('is refused when the budget breaks the constitution, naming the field', () => {
    const greedy = { ...startCampaign, config: { ...config, budgets: { ...config.budgets, submissionsPerRound: 4 } } };
    spec
      .given([])
      .when(greedy)
      .thenThrows(
        (err) =>
          err instanceof DomainError &&
          err.code === 'CONSTITUTION_VIOLATION' &&
          err.issues[0].path === 'payload.budgets.submissionsPerRound',
      );
  });

  it('records the Claude model, the SDK-current default when none is named', () => {
    spec
      .given([])
      .when(startCampaign)
      .then(([e]) => expect(e.type === 'CampaignStarted' && e.data.config.claudeModel).toBe(DEFAULT_CLAUDE_MODEL));
    spec
      .given([])
      .when({ ...startCampaign, config: { ...config, claudeModel: 'claude-opus-4-8' } })
      .then(([e]) => expect(e.type === 'CampaignStarted' && e.data.config.claudeModel).toBe('claude-opus-4-8'));
  });

  it('is refused for a retired Claude model, naming the field and the retirement date', () => {
    spec
      .given([])
      .when({ ...startCampaign, config: { ...config, claudeModel: 'claude-sonnet-4-5' } })
      .thenThrows(
        (err) =>
          err instanceof DomainError &&
          err.code === 'INVALID_CLAUDE_MODEL' &&
          err.issues[0].path === 'payload.claudeModel' &&
          err.issues[0].message ===
            'Claude model claude-sonnet-4-5 was retired on 2026-11-30; use a current one, e.g. claude-sonnet-5-5',
      );
    // The same id was still usable the day before its end of life.
    spec
      .given([])
      .when({
        ...startCampaign,
        config: { ...config, claudeModel: 'claude-sonnet-4-5' },
        receivedAt: new Date('2026-11-29T12:00:00Z'),
      })
      .then(([e]) => expect(e.type).toBe('CampaignStarted'));
  });

  it('is refused for a Claude model id the SDK does not know', () => {
    spec
      .given([])
      .when({ ...startCampaign, config: { ...config, claudeModel: 'claude-test' } })
      .thenThrows(
        (err) =>
          err instanceof DomainError &&
          err.code === 'INVALID_CLAUDE_MODEL' &&
          /^unknown Claude model "claude-test"/.test(err.issues[0].message),
      );
  });

  it('is refused when the axes name no search category', () => {
    spec
      .given([])
      .when({ ...startCampaign, config: { ...config, axes: ['baseline'] } })
      .thenThrows(
        (err) => err instanceof DomainError && err.code === 'INVALID_CAMPAIGN' && err.issues[0].path === 'payload.axes',
      );
  });
});

describe('StartRound', () => {
  const startRound = (round: number, revisedPolicy: RollingPolicy | null = null) => ({
    type: 'StartRound' as const,
    campaignId: 'c1',
    round,
    revisedPolicy,
  });

  it('plans an anchor with the policy’s seeds and axis candidates, all from the campaign seed', () => {
    const policy = policyOf(started());
    spec
      .given([started()])
      .when(startRound(1))
      .then([
        {
          type: 'RoundStarted',
          data: {
            round: 1,
            policyRevision: 0,
            policySha256: contentHash(policy),
            seed: roundSeed(42, 1),
            candidates: planRound('c1', 1, roundSeed(42, 1), 5, policy),
          },
        },
      ]);
    const [e] = spec
      .given([started()])
      .when(startRound(1))
      .then(() => undefined);
    if (e.type !== 'RoundStarted') throw new Error('expected RoundStarted');
    const [anchor, ...others] = e.data.candidates;
    expect(anchor).toMatchObject({ candidateId: 'c1-r1-c0', index: 0, axis: 'baseline', isAnchor: true });
    expect(new Set(anchor.seeds).size).toBe(2);
    expect(others.map((c) => c.candidateId)).toEqual(['c1-r1-c1', 'c1-r1-c2', 'c1-r1-c3', 'c1-r1-c4']);
    expect(new Set(others.map((c) => c.axis))).toEqual(new Set(['learning-rate', 'schedule']));
    expect(others.every((c) => !c.isAnchor && c.seeds.length === 1)).toBe(true);
  });

  it('is deterministic in the campaign seed and differs for another seed', () => {
    const a = spec
      .given([started()])
      .when(startRound(1))
      .then(() => undefined);
    const b = spec
      .given([started()])
      .when(startRound(1))
      .then(() => undefined);
    expect(a).toEqual(b);
    const other = spec
      .given([])
      .when({ ...startCampaign, config: { ...config, seed: 43 } })
      .then(() => undefined);
    const c = spec
      .given(other)
      .when(startRound(1))
      .then(() => undefined);
    expect(c).not.toEqual(a);
  });

  it(
    'is refused for an unknown campaign, a started round, a skipped round, ' +
      'an open previous round, and past the last round',
    () => {
      spec.given([]).when(startRound(1)).thenThrows(code('CAMPAIGN_NOT_FOUND'));
      const r1 = spec
        .given([started()])
        .when(startRound(1))
        .then(() => undefined);
      spec
        .given([started(), ...r1])
        .when(startRound(1))
        .thenThrows(code('ROUND_ALREADY_STARTED'));
      spec.given([started()]).when(startRound(2)).thenThrows(code('ROUND_OUT_OF_ORDER'));
      spec
        .given([started(), ...r1])
        .when(startRound(2))
        .thenThrows(code('ROUND_IN_PROGRESS'));
      spec.given([started()]).when(startRound(4)).thenThrows(code('ROUNDS_EXHAUSTED'));
    },
  );

  it('needs the policy revised for the round after round 1', () => {
    const s = started();
    const r1 = spec
      .given([s])
      .when(startRound(1))
      .then(() => undefined);
    const closed: CampaignEvent = { type: 'RoundClosed', data: { round: 1, policyRevision: 0, bestPublicLb: 0.5 } };
    spec
      .given([s, ...r1, closed])
      .when(startRound(2))
      .thenThrows(code('POLICY_NOT_READY'));
    const revised: RollingPolicy = {
      ...policyOf(s),
      revision: 1,
      forRound: 2,
      activeCategory: 'data',
      activeAxes: ['data-mix'],
      anchorSeeds: 3,
    };
    const [e] = spec
      .given([s, ...r1, closed])
      .when(startRound(2, revised))
      .then(() => undefined);
    if (e.type !== 'RoundStarted') throw new Error('expected RoundStarted');
    expect(e.data).toMatchObject({ round: 2, policyRevision: 1, policySha256: contentHash(revised) });
    expect(e.data.candidates[0].seeds).toHaveLength(3);
    // The revised policy's one active axis takes two explorers; the further slots explore the campaign's other axes.
    expect(e.data.candidates.slice(1, 3).map((c) => c.axis)).toEqual(['data-mix', 'data-mix']);
    expect(new Set(e.data.candidates.slice(3).map((c) => c.axis))).toEqual(new Set(['learning-rate', 'schedule']));
  });

  it('is refused while paused and after an abort', () => {
    const s = started();
    spec
      .given([s, { type: 'CampaignPaused', data: { reason: 'x' } }])
      .when(startRound(1))
      .thenThrows(code('CAMPAIGN_PAUSED'));
    spec
      .given([s, { type: 'CampaignPaused', data: { reason: 'x' } }, { type: 'CampaignResumed', data: {} }])
      .when(startRound(1))
      .then((es) => expect(es).toHaveLength(1));
    spec
      .given([s, { type: 'CampaignAborted', data: { reason: 'x' } }])
      .when(startRound(1))
      .thenThrows(code('CAMPAIGN_ENDED'));
  });

  it('plans only the anchor for a single worker', () => {
    const one = spec
      .given([])
      .when({ ...startCampaign, config: { ...config, workersPerRound: 1 } })
      .then(() => undefined);
    const [e] = spec
      .given(one)
      .when(startRound(1))
      .then(() => undefined);
    expect(e.type === 'RoundStarted' && e.data.candidates.map((c) => c.axis)).toEqual(['baseline']);
  });
});
