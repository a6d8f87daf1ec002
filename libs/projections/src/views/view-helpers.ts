import { canonicalJson, type RecipeChange } from '@aevo/contracts';
import type {
  CampaignState,
  CandidateState,
  DecouplingStep,
  PolicyRevisionState,
  SubmissionState,
  ViewsState,
} from './campaign-fold';
import { meanOf, round6 } from './stats';

/**
 * View models: what each dashboard view (and the report) shows, computed from the fold's state. Plain JSON, arrays
 * in a fixed order (round, then index, then id), so the same log always gives the same bytes.
 */

export const LOG_TAIL_CHARS = 2000;
export const r6 = (x: number | null | undefined): number | null => (x === null || x === undefined ? null : round6(x));
export const byCandidate = (a: CandidateState, b: CandidateState) =>
  a.round - b.round || a.index - b.index || a.candidateId.localeCompare(b.candidateId);

export class UnknownViewTarget extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function campaignOf(state: ViewsState, campaignId: string): CampaignState {
  const c = Object.prototype.hasOwnProperty.call(state.campaigns, campaignId) ? state.campaigns[campaignId] : undefined;
  if (!c) throw new UnknownViewTarget('campaignId', `no campaign "${campaignId}"`);
  return c;
}

export const candidatesOf = (c: CampaignState) => [...c.candidates.values()].sort(byCandidate);
export const submissionsOf = (c: CampaignState, x: CandidateState): SubmissionState[] =>
  x.submissionIds.map((id) => c.submissions.get(id)).filter((s): s is SubmissionState => s !== undefined);

/**
 * Best public score of a candidate's submissions (as the `candidates` projection), and the private score of that
 * submission once unsealed.
 */
export function candidateScores(
  c: CampaignState,
  x: CandidateState,
): { dev: number | null; publicLb: number | null; privateLb: number | null; publicScores: number[] } {
  let best: SubmissionState | null = null;
  const publicScores: number[] = [];
  for (const s of [...submissionsOf(c, x)].sort((a, b) => a.submissionId.localeCompare(b.submissionId))) {
    if (s.publicScore === null) continue;
    publicScores.push(s.publicScore);
    if (best === null || s.publicScore > (best.publicScore as number)) best = s;
  }
  const dev = x.status === 'completed' || x.status === 'invalidated' ? (x.chosen?.dev.overall ?? null) : null;
  return {
    dev,
    publicLb: best?.publicScore ?? null,
    privateLb: c.privateUnsealed && best ? best.privateScore : null,
    publicScores,
  };
}

/**
 * The anchor of a round: its dev and the mean of its public scores (seed replicates), the reference candidates are
 * paired with.
 */
export function roundAnchor(
  c: CampaignState,
  round: number,
): { candidateId: string; dev: number | null; publicLb: number | null } | null {
  const r = c.rounds.get(round);
  const a = r?.candidateIds.map((id) => c.candidates.get(id)).find((x) => x?.isAnchor);
  if (!a) return null;
  const s = candidateScores(c, a);
  return { candidateId: a.candidateId, dev: s.dev, publicLb: r6(meanOf(s.publicScores)) };
}

export const lastPolicy = (c: CampaignState): PolicyRevisionState => c.policies[c.policies.length - 1];

/** Final step reached by each decoupling hypothesis, and which candidates it marks. */
export function decouplingMarks(c: CampaignState): Map<string, DecouplingStep[]> {
  const marks = new Map<string, DecouplingStep[]>();
  const mark = (id: string, m: DecouplingStep) => {
    const xs = marks.get(id) ?? [];
    if (!xs.includes(m)) xs.push(m);
    marks.set(id, xs);
  };
  for (const d of c.decoupling) {
    mark(d.hypothesis.suspectCandidateId, d.step === 'probed' ? 'suspected' : d.step);
    for (const p of d.hypothesis.probes) mark(p.candidateId, 'probed');
  }
  return marks;
}

export function hypotheses(c: CampaignState) {
  const byId = new Map<
    string,
    {
      id: string;
      domain: string;
      status: string;
      suspectedRound: number;
      decidedRound: number | null;
      suspectCandidateId: string;
      suspectAxis: string;
      suspectDevDelta: number | null;
      suspectLbDelta: number | null;
      probes: Array<{
        candidateId: string;
        role: string;
        round: number;
        devDelta: number | null;
        lbDelta: number | null;
        verdict: string;
      }>;
      steps: Array<{ round: number; step: DecouplingStep }>;
      evidence: string[];
    }
  >();
  for (const d of c.decoupling) {
    const h = d.hypothesis;
    const prev = byId.get(h.id);
    byId.set(h.id, {
      id: h.id,
      domain: h.domain,
      status: h.status,
      suspectedRound: h.suspectedRound,
      decidedRound: h.decidedRound,
      suspectCandidateId: h.suspectCandidateId,
      suspectAxis: h.suspectAxis,
      suspectDevDelta: r6(h.suspectDevDelta),
      suspectLbDelta: r6(h.suspectLbDelta),
      probes: h.probes.map((p) => ({
        candidateId: p.candidateId,
        role: p.role,
        round: p.round,
        devDelta: r6(p.devDelta),
        lbDelta: r6(p.lbDelta),
        verdict: p.verdict,
      })),
      steps: [...(prev?.steps ?? []), { round: d.round, step: d.step }],
      evidence: h.evidence,
    });
  }
  return [...byId.values()].sort((a, b) => a.suspectedRound - b.suspectedRound || a.id.localeCompare(b.id));
}

export const jobsOf = (c: CampaignState, x: CandidateState) =>
  x.jobIds.map((id) => c.jobs.get(id)).filter((j) => j !== undefined);

export const describeChange = (ch: RecipeChange): string =>
  `${ch.path}: ${ch.from === undefined ? '(unset)' : canonicalJson(ch.from)} → ${canonicalJson(ch.to)}`;
