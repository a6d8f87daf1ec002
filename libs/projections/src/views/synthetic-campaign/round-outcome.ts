import {
  DecouplingConfirmed,
  DecouplingProbed,
  DecouplingSuspected,
  LeaderboardScored,
  SubmissionAccepted,
  SubmissionRequested,
  type DecouplingHypothesis,
} from '@aevo/contracts';
import type { CampaignProgress, CandidateResult, PlannedCandidate, SyntheticContext } from './context';
import { clamp01, r3 } from './surface';

export interface RoundSubmissions {
  anchor: CandidateResult | undefined;
  submitted: CandidateResult[];
  /** The best public leaderboard score of the round, null when nothing was submitted. */
  roundBest: number | null;
}

/**
 * Submissions: the anchor and the two explorers with the best dev (in a probing round: the probes and the best other),
 * each accepted, scored in public and given a sealed private score; the campaign's best submission follows.
 */
export function submitRound(
  ctx: SyntheticContext,
  progress: CampaignProgress,
  round: number,
  planned: PlannedCandidate[],
  results: CandidateResult[],
  probing: boolean,
): RoundSubmissions {
  const { ev, rnd, campaignStream } = ctx;
  const anchor = results.find((x) => x.isAnchor);
  const explorers = results
    .filter((x) => !x.isAnchor)
    .sort((a, b) => (b.dev ?? 0) - (a.dev ?? 0) || a.candidateId.localeCompare(b.candidateId));
  const probeIds = new Set(planned.filter((c) => c.prescribed).map((c) => c.candidateId));
  const probes = explorers.filter((x) => probeIds.has(x.candidateId));
  const submitted: CandidateResult[] = [
    ...(anchor ? [anchor] : []),
    ...probes,
    ...explorers.filter((x) => !probeIds.has(x.candidateId)).slice(0, probing ? 1 : 2),
  ];
  let roundBest: number | null = null;
  submitted.forEach((x, k) => {
    const submissionId = `${x.candidateId}-s${k}`;
    ev(
      SubmissionRequested,
      {
        round,
        submissionId,
        candidateId: x.candidateId,
        checkpoint: x.checkpoint,
        sandboxPath: `/sandboxes/${x.candidateId}`,
        reason: x.isAnchor ? 'anchor' : 'top dev',
      },
      campaignStream,
      'orchestrator',
    );
    ev(
      SubmissionAccepted,
      {
        submissionId,
        candidateId: x.candidateId,
        round,
        board: 'local',
        externalRef: null,
        quotaUsed: k + 1,
        quotaLimit: 4,
      },
      `submission-${submissionId}`,
      'leaderboard',
    );
    ev(
      LeaderboardScored,
      { submissionId, candidateId: x.candidateId, round, publicScore: x.lb, publicDomains: null },
      `submission-${submissionId}`,
      'leaderboard',
    );
    const privateScore = r3(clamp01(x.lb - 0.01 + 0.02 * rnd()));
    progress.unsealed.push({ submissionId, candidateId: x.candidateId, round, publicScore: x.lb, privateScore });
    roundBest = roundBest === null ? x.lb : Math.max(roundBest, x.lb);
    if (!progress.best || x.lb > progress.best.publicLb)
      progress.best = { candidateId: x.candidateId, round, submissionId, publicLb: x.lb, privateLb: privateScore };
  });
  return { anchor, submitted, roundBest };
}

/**
 * Decoupling: the first synthetic-data explorer whose dev gain did not reach the leaderboard becomes a suspect; in the
 * next round its two probes both come out as predicted, and the hypothesis is probed and confirmed.
 */
export function trackDecoupling(
  ctx: SyntheticContext,
  progress: CampaignProgress,
  round: number,
  planned: PlannedCandidate[],
  results: CandidateResult[],
  outcome: RoundSubmissions,
  probing: boolean,
): void {
  const { ev, campaignId, rounds } = ctx;
  const { anchor, submitted } = outcome;
  const metaStream = `meta-policy-${campaignId}-r${round}`;
  const hypothesis = progress.hypothesis;
  if (!hypothesis && anchor && round < rounds) {
    const suspect: CandidateResult | undefined = submitted.find(
      (x) => x.axis === 'synthetic-data' && x.dev !== null && anchor.dev !== null && x.dev - anchor.dev > 0.02,
    );
    if (suspect && anchor.dev !== null && suspect.dev !== null) {
      const suspected: DecouplingHypothesis = {
        id: `decoupling-equation-r${round}`,
        domain: 'equation',
        status: 'suspected',
        suspectedRound: round,
        suspectCandidateId: suspect.candidateId,
        suspectAxis: suspect.axis,
        suspectChanges: suspect.changes,
        suspectDevDelta: r3(suspect.dev - anchor.dev),
        suspectLbDelta: r3(suspect.lb - anchor.lb),
        probes: [],
        decidedRound: null,
        evidence: [`round ${round}: ${suspect.candidateId} raised dev equation, the leaderboard did not follow`],
      };
      progress.hypothesis = suspected;
      ev(DecouplingSuspected, { round, hypothesis: suspected }, metaStream, 'meta-policy');
    }
  } else if (hypothesis && probing && anchor) {
    const probes = planned
      .filter((c) => c.prescribed)
      .map((c) => {
        const x = results.find((r) => r.candidateId === c.candidateId);
        return {
          candidateId: c.candidateId,
          role: c.prescribed?.role ?? 'pro-proxy',
          round,
          devDelta: x && x.dev !== null && anchor.dev !== null ? r3(x.dev - anchor.dev) : null,
          domainDevDelta: x ? r3(x.domains.equation - anchor.domains.equation) : null,
          lbDelta: x ? r3(x.lb - anchor.lb) : null,
          verdict: 'as-predicted' as const,
        };
      });
    const probed: DecouplingHypothesis = {
      ...hypothesis,
      status: 'probing',
      probes,
      evidence: [...hypothesis.evidence, `round ${round}: both probes as predicted`],
    };
    ev(DecouplingProbed, { round, hypothesis: probed }, metaStream, 'meta-policy');
    progress.hypothesis = { ...probed, status: 'confirmed', decidedRound: round };
    ev(DecouplingConfirmed, { round, hypothesis: progress.hypothesis }, metaStream, 'meta-policy');
  }
}
