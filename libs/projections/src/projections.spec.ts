import { contentHash } from '@aevo/contracts';
import { asStoredEvents, sampleCampaignLog } from './sample-log';
import { ProjectionSet } from './replay';
import { defaultRegistry, ProjectionRegistry, registerProjection } from './registry';
import { BUILTIN_PROJECTIONS, campaignsProjection } from './builtin';
import { defineProjection } from './projection';

const hashes = (events: ReturnType<typeof asStoredEvents>, deterministicOnly = false) =>
  Object.fromEntries(
    new ProjectionSet()
      .applyAll(events)
      .results()
      .filter((r) => !deterministicOnly || r.deterministic)
      .map((r) => [r.name, r.hash]),
  );

describe('built-in projections', () => {
  const log = asStoredEvents(sampleCampaignLog({ campaignId: 'c1', seed: 7, rounds: 3, candidatesPerRound: 5 }));
  const set = new ProjectionSet().applyAll(log);

  it('summarise the campaign', () => {
    const campaigns = set.snapshot('campaigns') as Record<string, Record<string, unknown>>;
    expect(Object.keys(campaigns)).toEqual(['c1']);
    expect(campaigns.c1).toMatchObject({
      status: 'completed',
      roundsPlanned: 3,
      roundsStarted: 3,
      roundsClosed: 3,
      currentRound: 3,
      workersPerRound: 5,
      seed: 7,
    });
    expect((campaigns.c1.completion as { reason: string }).reason).toBe('rounds-exhausted');
  });

  it('tabulate rounds and candidates', () => {
    const rounds = set.snapshot('rounds') as Record<string, Record<string, unknown>>;
    expect(Object.keys(rounds)).toEqual(['c1/0001', 'c1/0002', 'c1/0003']);
    expect(rounds['c1/0002']).toMatchObject({
      status: 'closed',
      planned: 5,
      forked: 5,
      manifestsCompleted: 5,
      submissions: 2,
      scored: 2,
      anchorSeeds: 2,
    });
    const candidates = set.snapshot('candidates') as Record<string, Record<string, unknown>>;
    expect(Object.keys(candidates)).toHaveLength(15);
    expect(candidates['c1-r1-c0']).toMatchObject({
      isAnchor: true,
      axis: 'baseline',
      status: 'completed',
      recipeChanges: 0,
    });
    expect(candidates['c1-r1-c1']).toMatchObject({ status: 'completed', submissions: ['c1-r1-s0'] });
    expect(typeof candidates['c1-r1-c1'].publicLb).toBe('number');
  });

  it('trace the dev / public / private trajectory per round', () => {
    const t = set.snapshot('trajectory') as Record<
      string,
      { bestDev: number; bestPublicLb: number; privateLbOfBestPublic: number; bestPrivateLb: number }
    >;
    expect(Object.keys(t)).toEqual(['c1/0001', 'c1/0002', 'c1/0003']);
    for (const p of Object.values(t)) {
      expect(p.bestDev).toBeGreaterThan(0);
      expect(p.bestPublicLb).toBeGreaterThan(0);
      expect(p.privateLbOfBestPublic).not.toBeNull();
      expect(p.bestPrivateLb).toBeGreaterThanOrEqual(p.privateLbOfBestPublic);
    }
    const rounds = set.snapshot('rounds') as Record<string, { bestPublicLb: number; bestDev: number }>;
    expect(t['c1/0002'].bestPublicLb).toBe(rounds['c1/0002'].bestPublicLb);
    expect(t['c1/0002'].bestDev).toBe(rounds['c1/0002'].bestDev);
  });

  it('track job status and count only deterministic event kinds', () => {
    const jobs = set.snapshot('jobs') as Record<string, { status: string }>;
    expect(Object.values(jobs).every((j) => j.status === 'succeeded')).toBe(true);
    const counts = set.snapshot('event-counts') as { total: Record<string, number> };
    expect(counts.total).toMatchObject({
      RoundStarted: 3,
      ManifestSubmitted: 15,
      CandidateForked: 15,
      LeaderboardScored: 6,
      CampaignCompleted: 1,
    });
    expect(counts.total.JobRequested).toBeUndefined();
    expect(counts.total.WorkerStarted).toBeUndefined();
  });
});

describe('projection hashes', () => {
  const opts = { campaignId: 'c1', seed: 11, rounds: 2, candidatesPerRound: 4 };

  it('do not depend on event ids, times, positions or the interleaving of streams', () => {
    const a = asStoredEvents(sampleCampaignLog({ ...opts, interleaveSeed: 1 }));
    const b = asStoredEvents(sampleCampaignLog({ ...opts, interleaveSeed: 2 }), 1000);
    expect(a.map((e) => e.type)).not.toEqual(b.map((e) => e.type)); // really another order
    expect(hashes(a)).toEqual(hashes(b));
  });

  it('of deterministic projections survive a disturbed run with the same seed; operational ones differ', () => {
    const calm = hashes(asStoredEvents(sampleCampaignLog(opts)));
    const disturbed = hashes(asStoredEvents(sampleCampaignLog({ ...opts, disturbed: true, interleaveSeed: 5 })));
    const deterministic = BUILTIN_PROJECTIONS.filter((p) => p.deterministic !== false).map((p) => p.name);
    for (const name of deterministic) expect([name, disturbed[name]]).toEqual([name, calm[name]]);
    expect(disturbed.jobs).not.toEqual(calm.jobs);
  });

  it('change when an outcome changes', () => {
    const a = hashes(asStoredEvents(sampleCampaignLog(opts)));
    const b = hashes(asStoredEvents(sampleCampaignLog({ ...opts, seed: 12 })));
    for (const name of ['campaigns', 'rounds', 'candidates', 'trajectory']) expect(b[name]).not.toEqual(a[name]);
  });

  it('are the content hash of the snapshot', () => {
    const set = new ProjectionSet().applyAll(asStoredEvents(sampleCampaignLog(opts)));
    const r = set.results().find((x) => x.name === 'campaigns');
    expect(r?.hash).toBe(contentHash(set.snapshot('campaigns')));
    // CampaignStarted, RoundStarted + RoundClosed per round, CampaignCompleted; nothing else
    expect(r?.events).toBe(1 + 2 * 2 + 1);
  });
});

describe('registry', () => {
  it('holds the built-ins sorted by name and refuses duplicates and bad names', () => {
    const reg = defaultRegistry();
    expect(reg.names()).toEqual([
      'campaigns',
      'candidates',
      'event-counts',
      'jobs',
      'policy-history',
      'round-evidence',
      'rounds',
      'trajectory',
    ]);
    expect(() => reg.register(campaignsProjection)).toThrow(/twice/);
    expect(() => new ProjectionRegistry().register({ ...campaignsProjection, name: 'Bad Name' })).toThrow(/kebab/);
    expect(reg.only(['rounds']).names()).toEqual(['rounds']);
    expect(() => reg.only(['nope'])).toThrow(/unknown projection/);
  });

  it('takes extensions from registerProjection() in later default registries', () => {
    const countRounds = defineProjection({
      name: 'test-round-count',
      description: 'rounds started',
      eventTypes: ['RoundStarted'],
      initial: () => 0,
      apply: (n) => n + 1,
      snapshot: (n) => ({ n }),
    });
    registerProjection(countRounds);
    expect(() => registerProjection(countRounds)).toThrow(/twice/);
    const set = new ProjectionSet(defaultRegistry()).applyAll(asStoredEvents(sampleCampaignLog({ rounds: 3 })));
    expect(set.snapshot('test-round-count')).toEqual({ n: 3 });
  });
});
