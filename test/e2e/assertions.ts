import type { PrescribedRun, RollingPolicy } from '@aevo/contracts';
import type { StoredEvent } from '@aevo/eventstore';
import { prescribedRuns } from '@aevo/policy-engine';
import type { E2eControlPlane } from './harness';

type D = Record<string, unknown>;
const data = (e: StoredEvent) => e.data as D;

/**
 * What every finished campaign must satisfy, read from the store: each round started, submitted, scored, collected,
 * revised and closed exactly once, in order; every candidate has exactly one manifest; every submission exactly one
 * outcome; the campaign result is the best public score and its private score; nothing was dead-lettered.
 */
export async function expectCompletedCampaign(
  plane: E2eControlPlane,
  campaignId: string,
  rounds: number,
  workers: number,
  quota: number,
): Promise<void> {
  const of = (type: string) => plane.events(campaignId, [type]);
  const started = await of('RoundStarted');
  expect(started.map((e) => data(e).round)).toEqual(Array.from({ length: rounds }, (_, i) => i + 1));
  for (const e of started) expect((data(e).candidates as unknown[]).length).toBe(workers);
  expect((await of('RoundClosed')).map((e) => data(e).round)).toEqual(Array.from({ length: rounds }, (_, i) => i + 1));
  expect(await plane.count(campaignId, 'RoundEvidenceRecorded')).toBe(rounds);
  const revised = await of('PolicyRevised');
  expect(revised.map((e) => data(e).round).sort()).toEqual(Array.from({ length: rounds }, (_, i) => i + 1));
  // Round r+1 runs under the revision derived from round r's evidence.
  for (const e of started.slice(1)) {
    const r = data(e).round as number;
    const rev = revised.find((x) => data(x).round === r - 1);
    expect(data(e).policyRevision).toBe((data(rev as StoredEvent).policy as { revision: number }).revision);
  }

  // The runs the policy in force prescribed (confirmation runs, decoupling probes) were planned, forked with their
  // prescription, and run exactly: the manifest records the prescribed changes and hypothesis.
  const forks = await of('CandidateForked');
  const manifestsAll = await of('ManifestSubmitted');
  for (const e of started) {
    const r = data(e).round as number;
    const inForce =
      r === 1 ? null : (data(revised.find((x) => data(x).round === r - 1) as StoredEvent).policy as RollingPolicy);
    const expected = inForce ? prescribedRuns(inForce).slice(0, workers >= 3 ? workers - 2 : workers - 1) : [];
    const plannedRuns = (data(e).candidates as Array<{ candidateId: string; prescribed?: PrescribedRun }>).filter(
      (c) => c.prescribed,
    );
    expect(plannedRuns.map((c) => c.prescribed)).toEqual(expected.map((x) => x.prescribed));
    for (const c of plannedRuns) {
      expect(data(forks.find((f) => data(f).candidateId === c.candidateId) as StoredEvent).prescribed).toEqual(
        c.prescribed,
      );
      const m = data(manifestsAll.find((x) => data(x).candidateId === c.candidateId) as StoredEvent).manifest as {
        status: string;
        hypothesis: string;
        recipeChanges: Array<{ path: string; to: unknown }>;
      };
      if (m.status !== 'completed') continue;
      expect(m.recipeChanges.map((x) => [x.path, x.to])).toEqual(c.prescribed?.changes.map((x) => [x.path, x.to]));
      expect(m.hypothesis).toBe(c.prescribed?.hypothesis);
    }
  }

  const manifests = manifestsAll;
  const planned = started.flatMap((e) =>
    (data(e).candidates as Array<{ candidateId: string }>).map((c) => c.candidateId),
  );
  expect(manifests.map((e) => data(e).candidateId).sort()).toEqual([...planned].sort());
  const violations = new Set((await of('FrozenPathViolated')).map((e) => data(e).candidateId));
  const requested = await of('SubmissionRequested');
  for (let r = 1; r <= rounds; r++) {
    const submittable = manifests.filter(
      (e) =>
        data(e).round === r &&
        (data(e).manifest as { status: string }).status === 'completed' &&
        !violations.has(data(e).candidateId),
    ).length;
    expect({ round: r, submissions: requested.filter((e) => data(e).round === r).length }).toEqual({
      round: r,
      submissions: Math.min(quota, submittable),
    });
  }
  const scored = await of('LeaderboardScored');
  const rejected = await of('SubmissionRejected');
  const outcomes = [...scored, ...rejected].map((e) => data(e).submissionId).sort();
  expect(outcomes).toEqual(requested.map((e) => data(e).submissionId).sort());

  const [completed, ...more] = await of('CampaignCompleted');
  expect(more).toHaveLength(0);
  expect(await plane.count(campaignId, 'FinalAuditStarted')).toBe(1);
  const [unsealed] = await of('PrivateLeaderboardUnsealed');
  const scores = (
    data(unsealed).scores as Array<{
      submissionId: string;
      candidateId: string;
      publicScore: number;
      privateScore: number;
      round: number;
    }>
  ).sort((a, b) => b.publicScore - a.publicScore || a.round - b.round || a.submissionId.localeCompare(b.submissionId));
  expect(scores).toHaveLength(scored.length);
  expect(data(completed)).toMatchObject({
    rounds,
    reason: 'rounds-exhausted',
    bestCandidateId: scores[0]?.candidateId ?? null,
    bestPublicLb: scores[0]?.publicScore ?? null,
    bestPrivateLb: scores[0]?.privateScore ?? null,
  });
  const bestPublic = Math.max(...scored.map((e) => data(e).publicScore as number));
  expect(data(completed).bestPublicLb).toBe(bestPublic);
  expect(await plane.store.readAll({ types: ['MessageDeadLettered'] })).toEqual([]);
}

/** `aevo audit replay --verify` through the binary: both replays agree and the recorded hashes recompute. */
export async function expectAuditVerifies(plane: E2eControlPlane, rounds: number): Promise<void> {
  const audit = await plane.cli(['audit', 'replay', '--verify'], 300_000);
  expect({ code: audit.code, stderr: audit.stderr }).toEqual({ code: 0, stderr: '' });
  expect(audit.stdout).toMatch(/verified: two replays of positions 1\.\.\d+ agree on all \d+ projection hashes/);
  const recorded = /verified: (\d+) hash\(es\) recorded in events/.exec(audit.stdout);
  expect(recorded).not.toBeNull();
  // At least: per round the evidence recomputed, the revision re-decided, its policy hash, RoundStarted and
  // RoundClosed.
  expect(Number(recorded?.[1])).toBeGreaterThanOrEqual(5 * rounds);
  expect(audit.stdout).not.toMatch(/skipped:/);
}
