import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  PolicyRevised,
  RoundEvidenceRecorded,
  RoundStarted,
  canonicalJson,
  isEvent,
  type DataOf,
  type DecouplingHypothesis,
} from '@aevo/contracts';
import { replayRoundEvidence, roundEvidenceProjection } from '@aevo/evidence';
import { ProjectionRegistry, ProjectionSet } from '@aevo/projections';
import {
  loadConstitutionFile,
  policyHistoryProjection,
  replayPolicyRevisions,
  type PolicyHistoryState,
} from '@aevo/policy-engine';
import { SimulatedCampaign } from './sim-campaign';
import { hitsDeadEnd } from './sim-proposals';

jest.setTimeout(900_000);

const REPO = path.resolve(__dirname, '../../..');
const SUBSTRATE = path.join(REPO, 'substrate/simulated');
const CONSTITUTION = path.join(REPO, 'deploy/constitutions/default.yaml');

/**
 * Six rounds on the simulated substrate, whose response surface has a dev/LB decoupling region (synthetic
 * equation data lifts dev equation but not the leaderboard). Nothing here names the round where it shows: the
 * loop explores the policy's active axes, rotates when the leaderboard plateaus, and the test looks for the flag
 * wherever it appears and for the revision that answered it.
 */
describe('a 6-round campaign on the simulated substrate', () => {
  let work: string;
  let campaign: SimulatedCampaign;
  const evidenceOf = () =>
    campaign.log
      .filter((e) => isEvent(e, RoundEvidenceRecorded))
      .map((e) => e.data as DataOf<typeof RoundEvidenceRecorded>);
  const revisionsOf = () =>
    campaign.log.filter((e) => isEvent(e, PolicyRevised)).map((e) => e.data as DataOf<typeof PolicyRevised>);

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-sim-campaign-'));
    campaign = new SimulatedCampaign({
      substrateDir: SUBSTRATE,
      workDir: work,
      constitution: loadConstitutionFile(CONSTITUTION),
      constitutionPath: CONSTITUTION,
      campaignId: 'sim6',
      seed: 11,
      axes: ['learning-rate', 'schedule', 'warmup', 'data-mix', 'synthetic-data'],
      explorersPerRound: 3,
      anchorSeeds: 3,
      size: 'cpu',
    });
    await campaign.start();
    for (let round = 1; round <= 6; round++) await campaign.round(round);
  });

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('records one five-section evidence record and one policy revision per round', () => {
    expect(evidenceOf().map((e) => e.round)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(revisionsOf().map((r) => [r.round, r.policy.revision])).toEqual([1, 2, 3, 4, 5, 6].map((r) => [r, r]));
  });

  const stepsOf = (type: string) =>
    campaign.log
      .filter((e) => e.type === type)
      .map((e) => e.data as { round: number; hypothesis: DecouplingHypothesis });

  it('suspects a decoupling from a flag, probes it next round; only confirmation changes the evidence', () => {
    const flagged = evidenceOf().filter((e) => e.evidence.calibration.proxyDecoupling.flagged);
    expect(flagged.length).toBeGreaterThan(0);
    const suspected = stepsOf('DecouplingSuspected');
    expect(suspected.length).toBeGreaterThan(0);
    const confirmed = stepsOf('DecouplingConfirmed');
    expect(confirmed.map((c) => c.hypothesis.domain)).toContain('equation');
    const c = confirmed.find((x) => x.hypothesis.domain === 'equation') as {
      round: number;
      hypothesis: DecouplingHypothesis;
    };
    const s = suspected.find((x) => x.hypothesis.id === c.hypothesis.id) as {
      round: number;
      hypothesis: DecouplingHypothesis;
    };
    // Probed in the round after the suspicion, by both single-variable probes, as predicted.
    expect(c.round).toBe(s.round + 1);
    expect(c.hypothesis.probes.map((p) => [p.role, p.verdict]).sort()).toEqual([
      ['down-weight', 'as-predicted'],
      ['pro-proxy', 'as-predicted'],
    ]);
    const probeRound = evidenceOf().find((e) => e.round === c.round);
    expect(
      probeRound?.evidence.candidateSummaries
        .filter((x) => x.prescribed?.kind === 'probe')
        .map((x) => x.prescribed?.role)
        .sort(),
    ).toEqual(['down-weight', 'pro-proxy']);

    const revisions = revisionsOf();
    // The suspicion itself changed nothing of the objective.
    expect(revisions.find((r) => r.round === s.round)?.policy.objective).toBe('raise-dev-and-lb');
    const reaction = revisions.find((r) => r.round === c.round);
    const after = reaction?.policy as NonNullable<typeof reaction>['policy'];
    expect(after.objective).toBe('transfer-to-lb');
    expect(after.evidenceRules.map((r) => r.id)).toEqual(
      expect.arrayContaining(['raw-dev-suspect', 'prefer-lb-over-dev', 'rebalance-domains', 'reweighted-selection']),
    );
    expect(after.evidenceRules.find((r) => r.id === 'rebalance-domains')?.rule).toMatch(/equation/);
    expect(after.selectionCriterion.kind).toBe('reweighted');
    expect(reaction?.changes).toContain('objective: raise-dev-and-lb → transfer-to-lb');
    // The suspect move is a dead end by now: registered by the confirmation, unless its LB loss already put it there.
    for (const ch of c.hypothesis.suspectChanges)
      expect(
        hitsDeadEnd(
          ch,
          after.deadEnds.filter((d) => d.round <= c.round),
        ),
      ).toBe(true);
    expect(after.rationale).toMatch(/Proxy decoupling confirmed in equation/);
  });

  it('later rounds follow the revised policy: no dead end repeated, reweighted checkpoint criterion', () => {
    const revisions = revisionsOf();
    const confirmedRound = stepsOf('DecouplingConfirmed')[0].round;
    for (const e of evidenceOf().filter((x) => x.round > confirmedRound)) {
      const policy = revisions.find((r) => r.policy.revision === e.evidence.policyRevision)?.policy;
      expect(policy?.objective).toBe('transfer-to-lb');
      for (const c of e.evidence.candidateSummaries.filter((x) => !x.prescribed))
        for (const ch of c.recipeChanges) expect(hitsDeadEnd(ch, policy?.deadEnds ?? [])).toBe(false);
    }
    const manifests = campaign.log
      .filter((e) => e.type === 'ManifestSubmitted')
      .map((e) => e.data as { round: number; manifest: { chosenCheckpoint: { criterion: string } | null } });
    for (const m of manifests.filter((x) => x.round > confirmedRound && x.manifest.chosenCheckpoint))
      expect(m.manifest.chosenCheckpoint?.criterion).toBe('reweighted');
  });

  it('promotes only gains confirmed on another seed', () => {
    const revisions = revisionsOf();
    for (let k = 1; k < revisions.length; k++) {
      const [a, b] = [revisions[k - 1].policy, revisions[k].policy];
      if (canonicalJson(a.standingRecipe) === canonicalJson(b.standingRecipe)) continue;
      // Every promoted change was awaiting confirmation and its confirmation run is in that round's evidence.
      const ev = evidenceOf().find((e) => e.round === revisions[k].round)?.evidence;
      const confirmations = ev?.candidateSummaries.filter((x) => x.prescribed?.kind === 'confirmation') ?? [];
      expect(confirmations.length).toBeGreaterThan(0);
      expect((a.pendingConfirmations ?? []).length).toBeGreaterThan(0);
    }
  });

  it('keeps the meta-rules: dead ends only grow, the threshold stays above its minimum, plateaus rotate', () => {
    const revisions = revisionsOf();
    const started = campaign.log.find((e) => e.type === RoundStarted.type);
    expect(started).toBeDefined();
    for (let k = 1; k < revisions.length; k++) {
      const [a, b] = [revisions[k - 1].policy, revisions[k].policy];
      expect(b.deadEnds.slice(0, a.deadEnds.length)).toEqual(a.deadEnds);
      expect(b.promotionThreshold).toBeGreaterThanOrEqual(2 * Math.max(b.noiseBand.lbStd, 0.005) - 1e-9);
      // Two rounds without a promotion rotate the category, unless no other category has axes left (said so).
      if (
        a.plateauRounds + 1 >= 2 &&
        canonicalJson(b.standingRecipe) === canonicalJson(a.standingRecipe) &&
        b.activeCategory === a.activeCategory
      )
        expect(b.rationale).toMatch(/no other category has axes left/);
    }
    // The campaign left the optimisation category it started in.
    expect(new Set(revisions.map((r) => r.policy.activeCategory)).size).toBeGreaterThan(1);
  });

  it('folds into the policy-history and round-evidence projections, independent of how streams interleave', () => {
    const stored = (events: typeof campaign.log) => events.map((e, i) => ({ ...e, position: i + 1, streamVersion: 1 }));
    const hashes = (events: typeof campaign.log) =>
      new ProjectionSet(new ProjectionRegistry([policyHistoryProjection, roundEvidenceProjection]))
        .applyAll(stored(events))
        .results()
        .map((r) => [r.name, r.hash]);
    // Another legal interleaving: each stream's own order kept, streams concatenated.
    const byStream = [...campaign.log].sort((a, b) => a.streamId.localeCompare(b.streamId));
    expect(hashes(byStream)).toEqual(hashes(campaign.log));
    const set = new ProjectionSet(new ProjectionRegistry([policyHistoryProjection])).applyAll(stored(campaign.log));
    const history = (set.snapshot('policy-history') as PolicyHistoryState).sim6;
    expect(history.revisions.map((r) => r.revision)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(history.revisions.slice(1).map((r) => r.evidenceSha256)).toEqual(evidenceOf().map((e) => e.evidenceSha256));
  });

  it('replays every evidence record and policy revision byte for byte', () => {
    const evidence = replayRoundEvidence('sim6', campaign.log);
    expect(evidence.map((r) => r.equal)).toEqual([true, true, true, true, true, true]);
    const policies = replayPolicyRevisions('sim6', campaign.log, loadConstitutionFile(CONSTITUTION));
    expect(policies.map((r) => r.equal)).toEqual([true, true, true, true, true, true]);
    expect(policies.map((r) => r.stepsEqual)).toEqual([true, true, true, true, true, true]);
  });
});
