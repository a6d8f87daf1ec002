import { ConstitutionRules, DomainError, RollingPolicy, RoundClosed, parseEvent } from '@aevo/contracts';
import { initialPolicy } from '@aevo/policy-engine';
import { eventAs, events, localJobTerminal, TEST_CAMPAIGN_ID } from './events';
import { policies, TEST_AXES, TEST_CONSTITUTION_RULES, TEST_STANDING_RECIPE } from './policies';

/** The DomainError `fn` throws, so a test can name the field it refused. */
function refusal(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError, nothing was thrown');
}

describe('events.<Type>(overrides)', () => {
  it.each(Object.entries(events))('%s builds an envelope the contracts accept, emitted by its owner', (type, build) => {
    const e = build();
    expect(e.type).toBe(type);
    expect(e.campaignId).toBe(TEST_CAMPAIGN_ID);
    expect(parseEvent(JSON.parse(JSON.stringify(e)))).toEqual(e);
  });

  it('applies envelope and data overrides, and derives dependent defaults from them', () => {
    const e = events.RoundStarted({ campaignId: 'c9', causationId: 'cause-1', data: { round: 3 } });
    expect(e).toMatchObject({
      campaignId: 'c9',
      streamId: 'campaign-c9',
      source: 'orchestrator',
      causationId: 'cause-1',
    });
    expect(e.data.round).toBe(3);
    expect(e.data.candidates.map((c) => c.candidateId)).toEqual(['r3-c0', 'r3-c1']);
    const m = events.ManifestSubmitted({ campaignId: 'c9', data: { candidateId: 'r2-c4', round: 2 } });
    expect(m.data.manifest).toMatchObject({ campaignId: 'c9', candidateId: 'r2-c4', round: 2 });
    expect(events.JobSucceeded({ data: { jobId: 'j-7' } }).streamId).toBe('job-j-7');
  });

  it('refuses a value the schema refuses, naming the field', () => {
    const err = refusal(() => events.RoundClosed({ data: { round: 0 } }));
    expect(err.code).toBe('INVALID_EVENT_DATA');
    expect(err.issues.map((i) => i.path)).toEqual(['data.round']);
    expect(refusal(() => events.LeaderboardScored({ data: { publicScore: 1.5 } })).issues[0].path).toBe(
      'data.publicScore',
    );
  });

  it('refuses a field the schema does not have (a misspelt override would otherwise pass on the default)', () => {
    const err = refusal(() => events.RoundClosed({ data: { rounds: 2 } as never }));
    expect(err.code).toBe('INVALID_EVENT_DATA');
    expect(err.message).toMatch(/RoundClosed data does not validate/);
  });

  it('refuses a source that does not own the event', () => {
    expect(refusal(() => events.PolicyRevised({ source: 'worker' })).code).toBe('NOT_EVENT_OWNER');
  });
});

describe('policies', () => {
  it('initial() is revision 0 exactly as policy-engine’s initialPolicy records it', () => {
    expect(policies.initial()).toEqual(
      initialPolicy({ standingRecipe: TEST_STANDING_RECIPE, axes: TEST_AXES, anchorSeeds: 2 }),
    );
  });

  it('initial(overrides) passes axes and anchor seeds to initialPolicy and sets the other fields', () => {
    const p = policies.initial({ axes: ['data-mix'], anchorSeeds: 3, promotionThreshold: 0.02 });
    expect(p).toMatchObject({ activeAxes: ['data-mix'], anchorSeeds: 3, promotionThreshold: 0.02, revision: 0 });
    expect(RollingPolicy.parse(p)).toEqual(p);
  });

  it('initial refuses invalid overrides: a bad value, an unknown field, axes with no search axis', () => {
    expect(() => policies.initial({ promotionThreshold: -1 })).toThrow(/promotionThreshold/);
    expect(() => policies.initial({ revison: 1 } as never)).toThrow(/revison/);
    expect(() => policies.initial({ axes: ['baseline'] })).toThrow(/name no search axis/);
  });

  it('revised() is the next revision for the next round, validated', () => {
    const p1 = policies.revised(policies.initial(), { promotionThreshold: 0.01 });
    expect(p1).toMatchObject({ revision: 1, forRound: 2, promotionThreshold: 0.01 });
    expect(() => policies.revised(p1, { forRound: 0 })).toThrow(/forRound/);
  });
});

describe('policies.plain and TEST_CONSTITUTION_RULES', () => {
  it('builds a valid hand-set policy of the revision, overrides applied, a misspelt override refused', () => {
    const p = policies.plain(2, { optim: { lr: 0.01 } }, { anchorSeeds: 1 });
    expect(RollingPolicy.parse(p)).toEqual(p);
    expect(p).toMatchObject({ revision: 2, forRound: 3, anchorSeeds: 1, activeAxes: ['learning-rate'] });
    expect(p.standingRecipe).toEqual({ optim: { lr: 0.01 } });
    expect(policies.plain(0, {}).anchorSeeds).toBe(2);
    expect(() => policies.plain(0, {}, { anchorSeed: 3 } as never)).toThrow(/anchorSeed/);
  });

  it('gives constitution rules the contracts accept, with the default noise floor', () => {
    const rules = ConstitutionRules.parse(TEST_CONSTITUTION_RULES);
    expect(rules.minThresholdNoiseMultiple).toBe(1);
    expect(rules.noiseStdFloor).toBeGreaterThan(0);
  });
});

describe('eventAs', () => {
  it('builds the envelope with exactly the data given, and refuses data the schema refuses', () => {
    const e = eventAs(RoundClosed, 'c2', 'orchestrator', 'campaign-c2', {
      round: 2,
      policyRevision: 1,
      bestPublicLb: null,
    });
    expect(e).toMatchObject({ type: 'RoundClosed', campaignId: 'c2', source: 'orchestrator', streamId: 'campaign-c2' });
    expect(e.data).toEqual({ round: 2, policyRevision: 1, bestPublicLb: null });
    const refused = refusal(() => eventAs(RoundClosed, 'c2', 'orchestrator', 'campaign-c2', { round: -1 } as never));
    expect(refused.issues.map((x) => x.path)).toContain('data.round');
  });
});

describe('localJobTerminal', () => {
  const spec = events.JobRequested({ campaignId: 'c3' }).data.spec;

  it('is JobSucceeded for exit 0 and JobFailed for the exit code otherwise, in the job stream, from dispatch', () => {
    const ok = localJobTerminal('c3', spec, 0, 'done');
    expect(ok).toMatchObject({ type: 'JobSucceeded', source: 'dispatch', streamId: `job:${spec.jobId}` });
    expect(ok.data).toMatchObject({ jobId: spec.jobId, exitCode: 0, logTail: 'done', executor: 'local' });
    const failed = localJobTerminal('c3', spec, 2, 'boom');
    expect(failed).toMatchObject({ type: 'JobFailed', campaignId: 'c3' });
    expect(failed.data).toMatchObject({ exitCode: 2, reason: 'exit-code', message: 'exited with 2', logTail: 'boom' });
    expect(localJobTerminal('c3', spec, null, '').data).toMatchObject({ exitCode: null, reason: 'exit-code' });
  });
});
