import {
  type CandidateSummary,
  type DecouplingHypothesis,
  type ProbeOutcome,
  type RollingPolicy,
  type RoundEvidence,
} from '@aevo/contracts';
import { own } from './own';
import { r6, signed } from './research-shared';

/* Decoupling hypotheses: a dev/LB gap suspected, probed, then confirmed or refuted. */

export type HypothesisStep = {
  type: 'DecouplingSuspected' | 'DecouplingProbed' | 'DecouplingConfirmed' | 'DecouplingRefuted';
  hypothesis: DecouplingHypothesis;
};

export interface HypothesisRound {
  hypotheses: DecouplingHypothesis[];
  steps: HypothesisStep[];
  /** Hypotheses confirmed in this round. */
  confirmedNow: DecouplingHypothesis[];
}

const hypothesisId = (round: number, domain: string) => `decoupling-r${round}-${domain}`;

function probeVerdict(
  role: ProbeOutcome['role'],
  domainDevDelta: number | null,
  lbDelta: number | null,
  domainSigma: number,
  multiple: number,
  bar: number,
): ProbeOutcome['verdict'] {
  if (domainDevDelta === null || lbDelta === null) return 'inconclusive';
  if (role === 'pro-proxy') {
    // The suspect move again: dev of the domain should rise beyond its noise while the LB does not.
    if (lbDelta > bar || domainDevDelta <= 0) return 'contradicts';
    return domainDevDelta > multiple * domainSigma ? 'as-predicted' : 'inconclusive';
  }
  // Less of the domain: its dev should fall while the LB is not hurt.
  if (lbDelta < -bar) return 'contradicts';
  return domainDevDelta < 0 ? 'as-predicted' : 'inconclusive';
}

/**
 * Moves each hypothesis one step: probes scored this round decide a suspected hypothesis (both as predicted →
 * confirmed; any contradiction → refuted; inconclusive → probed again once, then refuted as not borne out), and
 * this round's proxy-decoupling flags open new hypotheses for domains without an open or confirmed one.
 */
export function advanceHypotheses(previous: RollingPolicy, evidence: RoundEvidence, bar: number): HypothesisRound {
  const round = evidence.round;
  const noise = evidence.calibration.noise;
  const multiple = noise.multiple;
  const anchor = evidence.candidateSummaries.find((s) => s.candidateId === evidence.anchorCandidateId);
  const steps: HypothesisStep[] = [];
  const confirmedNow: DecouplingHypothesis[] = [];
  const hypotheses: DecouplingHypothesis[] = [];

  for (const h0 of previous.decouplingHypotheses ?? []) {
    if (h0.status !== 'suspected' && h0.status !== 'probing') {
      hypotheses.push(h0);
      continue;
    }
    const runs = evidence.candidateSummaries.filter((s) => s.prescribed?.kind === 'probe' && s.prescribed.of === h0.id);
    if (runs.length === 0) {
      // Never probed (no free slot): a hypothesis nobody can test for two rounds is dropped as untested.
      if (round - h0.suspectedRound >= 2) {
        const h = {
          ...h0,
          status: 'refuted' as const,
          decidedRound: round,
          evidence: [...h0.evidence, `round ${round}: never probed (no free worker slot); dropped untested`],
        };
        hypotheses.push(h);
        steps.push({ type: 'DecouplingRefuted', hypothesis: h });
      } else hypotheses.push(h0);
      continue;
    }
    const sigma = own(noise.domainDevStd, h0.domain) ?? Math.max(noise.devStd, noise.floor);
    const outcomes: ProbeOutcome[] = runs.map((s) => {
      const role = s.prescribed?.role ?? 'pro-proxy';
      const d = own(s.dev?.domains, h0.domain);
      const a = own(anchor?.dev?.domains, h0.domain);
      const domainDevDelta = s.status === 'completed' && d !== undefined && a !== undefined ? r6(d - a) : null;
      const lbDelta = s.status === 'completed' ? s.lbDelta : null;
      return {
        candidateId: s.candidateId,
        role,
        round,
        devDelta: s.status === 'completed' ? s.devDelta : null,
        domainDevDelta,
        lbDelta,
        verdict: probeVerdict(role, domainDevDelta, lbDelta, sigma, multiple, bar),
      };
    });
    const line = outcomes
      .map(
        (o) =>
          `${o.role} ${o.candidateId}: ${h0.domain} dev ${signed(o.domainDevDelta)}, LB ${signed(o.lbDelta)} ` +
          `→ ${o.verdict}`,
      )
      .join('; ');
    const probed: DecouplingHypothesis = {
      ...h0,
      status: 'probing',
      probes: [...h0.probes, ...outcomes],
      evidence: [...h0.evidence, `round ${round}: ${line}`],
    };
    steps.push({ type: 'DecouplingProbed', hypothesis: probed });
    const roles = new Map(outcomes.map((o) => [o.role, o.verdict]));
    let decided: DecouplingHypothesis | null = null;
    if (outcomes.some((o) => o.verdict === 'contradicts'))
      decided = {
        ...probed,
        status: 'refuted',
        decidedRound: round,
        evidence: [...probed.evidence, `round ${round}: refuted — a probe contradicted the prediction`],
      };
    else if (roles.get('pro-proxy') === 'as-predicted' && roles.get('down-weight') === 'as-predicted')
      decided = {
        ...probed,
        status: 'confirmed',
        decidedRound: round,
        evidence: [
          ...probed.evidence,
          `round ${round}: confirmed — the suspect move raised ${h0.domain} dev without the LB, and ` +
            `less ${h0.domain} lowered dev without hurting the LB`,
        ],
      };
    else if (h0.probes.length > 0)
      decided = {
        ...probed,
        status: 'refuted',
        decidedRound: round,
        evidence: [...probed.evidence, `round ${round}: not borne out after two probe rounds`],
      };
    if (decided) {
      steps.push({
        type: decided.status === 'confirmed' ? 'DecouplingConfirmed' : 'DecouplingRefuted',
        hypothesis: decided,
      });
      if (decided.status === 'confirmed') confirmedNow.push(decided);
      hypotheses.push(decided);
    } else hypotheses.push({ ...probed, status: 'suspected' });
  }

  // New suspicions from this round's flags: a domain whose dev gain stands out of the suspect's other domains (a
  // gain spread evenly over every domain says nothing about one domain's proxy). One hypothesis per domain; a
  // probe's own flag is its verdict, not a new suspicion.
  // A suspicion needs measured dev noise: against a floor, a domain's 100-row sampling noise looks like a signal.
  const pd = evidence.calibration.proxyDecoupling;
  if (pd.flagged && anchor?.dev && noise.devDf > 0) {
    const covered = new Set(hypotheses.filter((h) => h.status !== 'refuted').map((h) => h.domain));
    const flaggedDomains = new Set(pd.domains);
    const suspects = pd.candidates
      .map((id) => evidence.candidateSummaries.find((c) => c.candidateId === id))
      .filter((s): s is CandidateSummary => !!s && !s.prescribed && s.recipeChanges.length > 0 && s.dev !== null);
    for (const s of suspects) {
      const gains = Object.keys(anchor.dev.domains)
        .filter((d) => own(s.dev?.domains, d) !== undefined)
        .map((d) => ({ d, g: (own(s.dev?.domains, d) as number) - (own(anchor.dev?.domains, d) as number) }))
        .sort((a, b) => b.g - a.g || a.d.localeCompare(b.d));
      if (gains.length < 2) continue;
      const top = gains[0];
      const rest = gains.slice(1).reduce((a, b) => a + b.g, 0) / (gains.length - 1);
      const sigma = own(noise.domainDevStd, top.d) ?? Math.max(noise.devStd, noise.floor);
      if (!flaggedDomains.has(top.d) || covered.has(top.d) || top.g - rest <= multiple * sigma) continue;
      const h: DecouplingHypothesis = {
        id: hypothesisId(round, top.d),
        domain: top.d,
        status: 'suspected',
        suspectedRound: round,
        suspectCandidateId: s.candidateId,
        suspectAxis: s.axis,
        suspectChanges: s.recipeChanges,
        suspectDevDelta: s.devDelta,
        suspectLbDelta: s.lbDelta,
        probes: [],
        decidedRound: null,
        evidence: [
          `round ${round}: ${s.candidateId} (${s.axis}) raised ${top.d} dev by ${signed(r6(top.g))} (other ` +
            `domains ${signed(r6(rest))} on average; overall ${signed(s.devDelta)}) while the public LB ` +
            `moved ${signed(s.lbDelta)}; probes scheduled for round ${round + 1}`,
        ],
      };
      covered.add(top.d);
      hypotheses.push(h);
      steps.push({ type: 'DecouplingSuspected', hypothesis: h });
    }
  }
  return { hypotheses, steps, confirmedNow };
}
