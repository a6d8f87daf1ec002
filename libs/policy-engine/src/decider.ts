import {
  CampaignStarted,
  ConstitutionViolationRefused,
  DecouplingConfirmed,
  DecouplingProbed,
  DecouplingRefuted,
  DecouplingSuspected,
  DomainError,
  PolicyRevised,
  contentHash,
  isEvent,
  type Axis,
  type DataOf,
  type Decider,
  type RollingPolicy,
  type RoundEvidence,
} from '@aevo/contracts';
import { pinnedMismatch, type FrozenConstitution } from './constitution';
import { validateProposal } from './proposal';
import { revisePolicy, revisionFacts } from './revise';

/** Usage of the LLM turn that produced a proposal (recorded with it). */
export interface ProposalTurn {
  model: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  /**
   * Input tokens written to the prompt cache; absent on turns recorded before it was counted (so their replay is
   * unchanged).
   */
  cacheCreationTokens?: number;
  stopReason: string | null;
}

export interface ReviseFromEvidence {
  type: 'ReviseFromEvidence';
  round: number;
  evidence: RoundEvidence;
  evidenceSha256: string;
  /** The constitution as loaded now; checked against the hash pinned in CampaignStarted before anything else. */
  constitution: FrozenConstitution;
  /** A meta agent's proposal, verbatim, or null for the rule engine alone. */
  proposal: { raw: unknown; turn: ProposalTurn } | null;
}

export type MetaPolicyEvent =
  | { type: 'CampaignStarted'; data: DataOf<typeof CampaignStarted> }
  | { type: 'PolicyRevised'; data: DataOf<typeof PolicyRevised> }
  | { type: 'ConstitutionViolationRefused'; data: DataOf<typeof ConstitutionViolationRefused> }
  | { type: 'DecouplingSuspected'; data: DataOf<typeof DecouplingSuspected> }
  | { type: 'DecouplingProbed'; data: DataOf<typeof DecouplingProbed> }
  | { type: 'DecouplingConfirmed'; data: DataOf<typeof DecouplingConfirmed> }
  | { type: 'DecouplingRefuted'; data: DataOf<typeof DecouplingRefuted> };

export interface MetaPolicyState {
  pinnedSha256: string | null;
  campaignAxes: Axis[];
  policy: RollingPolicy | null;
  revisedRounds: number[];
}

function decide(cmd: ReviseFromEvidence, s: MetaPolicyState): MetaPolicyEvent[] {
  if (s.pinnedSha256 === null || s.policy === null)
    throw new DomainError(
      'CAMPAIGN_NOT_STARTED',
      'no CampaignStarted: nothing pins a constitution or an initial policy',
      [{ path: 'campaignId', message: 'campaign has not started' }],
    );
  if (s.revisedRounds.includes(cmd.round)) return [];
  if (cmd.evidence.round !== cmd.round)
    throw new DomainError('EVIDENCE_ROUND_MISMATCH', `evidence is for round ${cmd.evidence.round}, not ${cmd.round}`, [
      { path: 'evidence.round', message: `expected ${cmd.round}` },
    ]);
  if (contentHash(cmd.evidence) !== cmd.evidenceSha256)
    throw new DomainError(
      'EVIDENCE_HASH_MISMATCH',
      `round ${cmd.round} evidence does not hash to ${cmd.evidenceSha256}`,
      [{ path: 'evidenceSha256', message: 'does not match the evidence' }],
    );
  if (s.policy.forRound !== cmd.round)
    throw new DomainError(
      'POLICY_NOT_IN_FORCE',
      `the latest policy (revision ${s.policy.revision}) steers round ${s.policy.forRound}, not round ${cmd.round}`,
      [{ path: 'round', message: `expected ${s.policy.forRound}` }],
    );

  const mismatch = pinnedMismatch(cmd.constitution, s.pinnedSha256);
  if (mismatch !== null)
    return [
      {
        type: 'ConstitutionViolationRefused',
        data: {
          round: cmd.round,
          rule: 'constitution-pinned',
          detail: `${mismatch}; no revision is made`,
          proposal: cmd.proposal?.raw ?? null,
        },
      },
    ];

  const constitution = cmd.constitution.constitution;
  const ctx = { campaignAxes: s.campaignAxes };
  const facts = revisionFacts(s.policy, cmd.evidence, constitution, ctx);
  const base = {
    round: cmd.round,
    previousRevision: s.policy.revision,
    evidenceSha256: cmd.evidenceSha256,
    constitutionSha256: s.pinnedSha256,
  };
  // Each step a decoupling hypothesis took this round is a fact of its own, recorded with the revision.
  const steps = facts.hypothesisSteps.map(
    (x) => ({ type: x.type, data: { round: cmd.round, hypothesis: x.hypothesis } }) as MetaPolicyEvent,
  );
  return [...steps, ...revise(cmd, s.policy, constitution, ctx, facts, base)];
}

function revise(
  cmd: ReviseFromEvidence,
  policy: RollingPolicy,
  constitution: FrozenConstitution['constitution'],
  ctx: { campaignAxes: Axis[] },
  facts: ReturnType<typeof revisionFacts>,
  base: { round: number; previousRevision: number; evidenceSha256: string; constitutionSha256: string },
): MetaPolicyEvent[] {
  if (cmd.proposal) {
    const check = validateProposal(policy, cmd.evidence, constitution, cmd.proposal.raw, ctx, facts);
    const llm = { ...cmd.proposal.turn, proposal: cmd.proposal.raw ?? null, refused: !check.ok };
    if (check.ok)
      return [
        {
          type: 'PolicyRevised',
          data: {
            ...base,
            policy: check.policy,
            policySha256: contentHash(check.policy),
            proposer: 'claude',
            changes: check.changes,
            llm,
          },
        },
      ];
    const fallback = revisePolicy(policy, cmd.evidence, constitution, ctx);
    return [
      ...check.violations.map((v): MetaPolicyEvent => ({
        type: 'ConstitutionViolationRefused',
        data: { round: cmd.round, rule: v.rule, detail: v.detail, proposal: cmd.proposal?.raw ?? null },
      })),
      {
        type: 'PolicyRevised',
        data: {
          ...base,
          policy: fallback.policy,
          policySha256: contentHash(fallback.policy),
          proposer: 'rules',
          changes: fallback.changes,
          llm,
        },
      },
    ];
  }
  const r = revisePolicy(policy, cmd.evidence, constitution, ctx);
  return [
    {
      type: 'PolicyRevised',
      data: {
        ...base,
        policy: r.policy,
        policySha256: contentHash(r.policy),
        proposer: 'rules',
        changes: r.changes,
        llm: null,
      },
    },
  ];
}

function evolve(s: MetaPolicyState, e: { type: string; data: unknown }): MetaPolicyState {
  if (isEvent(e, CampaignStarted)) {
    if (s.pinnedSha256 !== null) return s;
    return {
      ...s,
      pinnedSha256: e.data.constitutionSha256,
      campaignAxes: [...e.data.config.axes],
      policy: e.data.initialPolicy,
    };
  }
  if (isEvent(e, PolicyRevised)) {
    if (s.revisedRounds.includes(e.data.round)) return s;
    return { ...s, policy: e.data.policy, revisedRounds: [...s.revisedRounds, e.data.round].sort((a, b) => a - b) };
  }
  return s;
}

/** The meta-policy's pure core: decide(ReviseFromEvidence, state) → [ConstitutionViolationRefused…, PolicyRevised]. */
export const metaPolicyDecider: Decider<ReviseFromEvidence, MetaPolicyEvent, MetaPolicyState> = {
  initialState: () => ({ pinnedSha256: null, campaignAxes: [], policy: null, revisedRounds: [] }),
  decide,
  evolve: evolve as (s: MetaPolicyState, e: MetaPolicyEvent) => MetaPolicyState,
};
