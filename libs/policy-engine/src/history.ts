import {
  CampaignStarted,
  ConstitutionViolationRefused,
  DecouplingConfirmed,
  DecouplingProbed,
  DecouplingRefuted,
  DecouplingSuspected,
  PolicyRevised,
  RoundEvidenceRecorded,
  contentHash,
  isEvent,
  type EventEnvelope,
  type RollingPolicy,
  type RoundEvidence,
} from '@aevo/contracts';
import type { FrozenConstitution } from './constitution';
import { metaPolicyDecider, type MetaPolicyEvent, type MetaPolicyState } from './decider';
import { diffPolicies } from './diff';
import { dict, own } from './own';

export interface PolicyHistoryEntry {
  revision: number;
  /** The round whose evidence caused it (null for the initial policy). */
  round: number | null;
  forRound: number;
  policySha256: string;
  evidenceSha256: string | null;
  proposer: 'initial' | 'rules' | 'claude';
  /** diffPolicies(previous revision, this revision). */
  changes: string[];
  policy: RollingPolicy;
}

export interface CampaignPolicyHistory {
  constitutionSha256: string | null;
  revisions: PolicyHistoryEntry[];
  refusals: Array<{ round: number; rule: string; detail: string }>;
}

/** Campaign id → history; a null-prototype record (`emptyPolicyHistory()`), since ids are external. */
export type PolicyHistoryState = Record<string, CampaignPolicyHistory>;

export const emptyPolicyHistory = (): PolicyHistoryState => dict<CampaignPolicyHistory>();

type ProjectedEvent = { type: string; campaignId: string; data: unknown };

const campaignOf = (s: PolicyHistoryState, id: string): CampaignPolicyHistory =>
  own(s, id) ?? { constitutionSha256: null, revisions: [], refusals: [] };

/** Pure fold step of the policy history: every revision, diffable, tied to the evidence that caused it. */
export function applyPolicyHistory(s: PolicyHistoryState, e: ProjectedEvent): PolicyHistoryState {
  const c = campaignOf(s, e.campaignId);
  if (isEvent(e, CampaignStarted)) {
    if (c.revisions.length > 0) return s;
    const p = e.data.initialPolicy;
    s[e.campaignId] = {
      ...c,
      constitutionSha256: e.data.constitutionSha256,
      revisions: [
        {
          revision: p.revision,
          round: null,
          forRound: p.forRound,
          policySha256: contentHash(p),
          evidenceSha256: null,
          proposer: 'initial',
          changes: [],
          policy: p,
        },
      ],
    };
  } else if (isEvent(e, PolicyRevised)) {
    if (c.revisions.some((r) => r.revision === e.data.policy.revision)) return s;
    const prev = [...c.revisions].sort((a, b) => b.revision - a.revision)[0];
    s[e.campaignId] = {
      ...c,
      revisions: [
        ...c.revisions,
        {
          revision: e.data.policy.revision,
          round: e.data.round,
          forRound: e.data.policy.forRound,
          policySha256: e.data.policySha256,
          evidenceSha256: e.data.evidenceSha256,
          proposer: e.data.proposer,
          changes: prev ? diffPolicies(prev.policy, e.data.policy) : [],
          policy: e.data.policy,
        },
      ].sort((a, b) => a.revision - b.revision),
    };
  } else if (isEvent(e, ConstitutionViolationRefused)) {
    s[e.campaignId] = {
      ...c,
      refusals: [...c.refusals, { round: e.data.round, rule: e.data.rule, detail: e.data.detail }],
    };
  }
  return s;
}

/** The policy-history projection (register it with @aevo/projections). */
export const policyHistoryProjection = {
  name: 'policy-history',
  description:
    'Every rolling-policy revision per campaign, its diff to the previous one and the evidence hash that caused it.',
  eventTypes: [CampaignStarted.type, PolicyRevised.type, ConstitutionViolationRefused.type] as const,
  initial: emptyPolicyHistory,
  apply: (s: PolicyHistoryState, e: ProjectedEvent): PolicyHistoryState => applyPolicyHistory(s, e),
  snapshot: (s: PolicyHistoryState) => {
    const out = dict<CampaignPolicyHistory>();
    for (const k of Object.keys(s).sort())
      out[k] = {
        ...s[k],
        refusals: [...s[k].refusals].sort(
          (a, b) => a.round - b.round || a.rule.localeCompare(b.rule) || a.detail.localeCompare(b.detail),
        ),
      };
    return out;
  },
};

/** Readable changes between any two revisions of a campaign's history. */
export function diffRevisions(h: CampaignPolicyHistory, from: number, to: number): string[] {
  const a = h.revisions.find((r) => r.revision === from);
  const b = h.revisions.find((r) => r.revision === to);
  if (!a || !b)
    throw new Error(
      `revision ${a ? to : from} is not in the history (have ${h.revisions.map((r) => r.revision).join(', ')})`,
    );
  return diffPolicies(a.policy, b.policy);
}

export interface PolicyReplayResult {
  round: number;
  revision: number;
  recordedSha256: string;
  replayedSha256: string | null;
  refusalsEqual: boolean;
  /** The DecouplingSuspected/Probed/Confirmed/Refuted events of the round, re-decided, equal the recorded ones. */
  stepsEqual: boolean;
  equal: boolean;
}

const DECOUPLING_STEPS = new Set<string>([
  DecouplingSuspected.type,
  DecouplingProbed.type,
  DecouplingConfirmed.type,
  DecouplingRefuted.type,
]);

/**
 * Re-decides every PolicyRevised of a campaign from the log: the recorded evidence, the constitution (checked
 * against the pin) and, for an LLM turn, the proposal recorded in the event — no LLM is called. Compares the
 * content hash of the whole event data, and the refusals that preceded it.
 */
export function replayPolicyRevisions(
  campaignId: string,
  events: readonly EventEnvelope[],
  constitution: FrozenConstitution,
): PolicyReplayResult[] {
  let state: MetaPolicyState = metaPolicyDecider.initialState();
  const evidenceByRound = new Map<number, { evidence: RoundEvidence; sha: string }>();
  const refusalsByRound = new Map<number, unknown[]>();
  const stepsByRound = new Map<number, unknown[]>();
  const out: PolicyReplayResult[] = [];
  for (const e of events) {
    if (e.campaignId !== campaignId) continue;
    if (isEvent(e, RoundEvidenceRecorded))
      evidenceByRound.set(e.data.round, { evidence: e.data.evidence, sha: e.data.evidenceSha256 });
    if (isEvent(e, ConstitutionViolationRefused))
      refusalsByRound.set(e.data.round, [...(refusalsByRound.get(e.data.round) ?? []), e.data]);
    if (DECOUPLING_STEPS.has(e.type)) {
      const round = (e.data as { round: number }).round;
      stepsByRound.set(round, [...(stepsByRound.get(round) ?? []), { type: e.type, data: e.data }]);
    }
    if (isEvent(e, PolicyRevised)) {
      const ev = evidenceByRound.get(e.data.round);
      const recordedSha256 = contentHash(e.data);
      let replayed: MetaPolicyEvent[] = [];
      if (ev && ev.sha === e.data.evidenceSha256) {
        const llm = e.data.llm;
        replayed = metaPolicyDecider.decide(
          {
            type: 'ReviseFromEvidence',
            round: e.data.round,
            evidence: ev.evidence,
            evidenceSha256: ev.sha,
            constitution,
            proposal: llm
              ? {
                  raw: llm.proposal,
                  turn: {
                    model: llm.model,
                    inputTokens: llm.inputTokens,
                    outputTokens: llm.outputTokens,
                    cacheReadTokens: llm.cacheReadTokens,
                    ...(llm.cacheCreationTokens !== undefined ? { cacheCreationTokens: llm.cacheCreationTokens } : {}),
                    stopReason: llm.stopReason,
                  },
                }
              : null,
          },
          state,
        );
      }
      const revised = replayed.find((x) => x.type === 'PolicyRevised');
      const replayedSha256 = revised ? contentHash(revised.data) : null;
      const replayedRefusals = replayed.filter((x) => x.type === 'ConstitutionViolationRefused').map((x) => x.data);
      const refusalsEqual = contentHash(replayedRefusals) === contentHash(refusalsByRound.get(e.data.round) ?? []);
      // The decoupling hypothesis steps recorded with the revision are decisions too: re-decided, compared whole.
      const replayedSteps = replayed
        .filter((x) => DECOUPLING_STEPS.has(x.type))
        .map((x) => ({ type: x.type, data: x.data }));
      const stepsEqual = contentHash(replayedSteps) === contentHash(stepsByRound.get(e.data.round) ?? []);
      out.push({
        round: e.data.round,
        revision: e.data.policy.revision,
        recordedSha256,
        replayedSha256,
        refusalsEqual,
        stepsEqual,
        equal: refusalsEqual && stepsEqual && replayedSha256 === recordedSha256,
      });
    }
    if (e.type === CampaignStarted.type || e.type === PolicyRevised.type)
      state = metaPolicyDecider.evolve(state, e as MetaPolicyEvent);
  }
  return out;
}
