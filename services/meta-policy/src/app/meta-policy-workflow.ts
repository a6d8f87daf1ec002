import {
  CampaignStarted,
  ClaudeFellBack,
  DEFAULT_CLAUDE_MODEL,
  DomainError,
  PolicyRevised,
  claudeErrorFacts,
  unusableReplyFacts,
  type DataOf,
  type EventOf,
  type RoundEvidenceRecorded,
} from '@aevo/contracts';
import { handle, withEnvelopes, type EventStore } from '@aevo/eventstore';
import * as fs from 'node:fs';
import {
  constitutionSha256,
  loadConstitutionFile,
  metaPolicyDecider,
  pinnedMismatch,
  revisionFacts,
  type MetaPolicyEvent,
  type MetaPolicyState,
  type ReviseFromEvidence,
} from '@aevo/policy-engine';
import { constitutionCandidates } from '../config';
import { revisionRecordDecider } from '../domain/revision-record';
import type { MetaAgent } from './claude-meta-agent';

export const metaStreamId = (campaignId: string, round: number) => `meta-policy-${campaignId}-r${round}`;

export type RevisionOutcome = 'revised' | 'refused' | 'exists';

export interface MetaPolicyWorkflowOptions {
  constitutionsRoots: string[];
  agent: MetaAgent | null;
  log?: (level: 'log' | 'warn' | 'error', message: string) => void;
}

/**
 * The meta-policy's application core: from a RoundEvidenceRecorded, load the constitution read-only, let the
 * Claude meta agent propose when the campaign asks for it, and let the pure decider validate and decide. The
 * outcome (refusals and the revision) is recorded atomically, through `handle()`, on a one-shot stream per round.
 */
export class MetaPolicyWorkflow {
  private readonly log: NonNullable<MetaPolicyWorkflowOptions['log']>;
  constructor(
    private readonly store: EventStore,
    private readonly opts: MetaPolicyWorkflowOptions,
  ) {
    this.log = opts.log ?? (() => undefined);
  }

  async state(campaignId: string): Promise<{ state: MetaPolicyState; started: DataOf<typeof CampaignStarted> | null }> {
    const events = await this.store.readAll({ campaignId, types: [CampaignStarted.type, PolicyRevised.type] });
    const state = events.reduce(
      (s, e) => metaPolicyDecider.evolve(s, e as MetaPolicyEvent),
      metaPolicyDecider.initialState(),
    );
    const started = events.find((e) => e.type === CampaignStarted.type);
    return { state, started: started ? (started.data as DataOf<typeof CampaignStarted>) : null };
  }

  /**
   * The campaign's constitution, read-only. A relative path is looked up under each configured root; the file whose
   * bytes match the pinned hash wins (the pin makes the lookup safe), else the first that exists (and the decider
   * then refuses it as changed).
   */
  private loadConstitution(configured: string, pinned: string) {
    const existing = constitutionCandidates(this.opts.constitutionsRoots, configured).filter((p) => fs.existsSync(p));
    // None exists: loading the first throws CONSTITUTION_UNREADABLE naming the path.
    if (existing.length === 0)
      return loadConstitutionFile(constitutionCandidates(this.opts.constitutionsRoots, configured)[0]);
    const loaded = existing.map((p) => loadConstitutionFile(p));
    return loaded.find((c) => constitutionSha256(c.source) === pinned) ?? loaded[0];
  }

  async onEvidence(e: EventOf<typeof RoundEvidenceRecorded>): Promise<RevisionOutcome> {
    const { round } = e.data;
    const streamId = metaStreamId(e.campaignId, round);
    if ((await this.store.streamVersion(streamId)) > 0) return 'exists';
    const { state, started } = await this.state(e.campaignId);
    if (!started || !state.policy)
      throw new DomainError(
        'CAMPAIGN_NOT_STARTED',
        `campaign ${e.campaignId}: evidence of round ${round} before CampaignStarted`,
        [{ path: 'campaignId', message: 'no CampaignStarted yet' }],
      );
    if (state.revisedRounds.includes(round)) return 'exists';
    if (state.policy.forRound !== round)
      // The previous round's revision is not in the log yet: thrown, so the message is redelivered later.
      throw new DomainError(
        'POLICY_NOT_IN_FORCE',
        `campaign ${e.campaignId}: latest policy steers round ${state.policy.forRound}, evidence is of round ${round}`,
        [{ path: 'round', message: `waiting for the revision of round ${state.policy.forRound}` }],
      );

    // An unreadable file is an operational fault (retried, then dead-lettered); a changed file is a violation.
    const constitution = this.loadConstitution(started.config.constitutionPath, started.constitutionSha256);
    let proposal: ReviseFromEvidence['proposal'] = null;
    // Every way a campaign that asked for Claude ends up with the rule engine is recorded with the decision.
    let fellBack: DataOf<typeof ClaudeFellBack> | null = null;
    const pinnedOk = pinnedMismatch(constitution, started.constitutionSha256) === null;
    if (started.config.metaKind === 'claude' && pinnedOk) {
      // The campaign's model (recorded at its start); a campaign started before it was a setting gets the operator's.
      const model = started.config.claudeModel ?? this.opts.agent?.defaultModel ?? DEFAULT_CLAUDE_MODEL;
      const fallback = { round, pass: 'meta-agent', fallback: 'rules', model } as const;
      if (!this.opts.agent)
        fellBack = {
          ...fallback,
          reason: 'not-configured',
          errorClass: null,
          status: null,
          errorType: null,
          requestId: null,
          detail: 'no Claude meta agent is configured (ANTHROPIC_API_KEY)',
        };
      else {
        const facts = revisionFacts(state.policy, e.data.evidence, constitution.constitution, {
          campaignAxes: state.campaignAxes,
        });
        try {
          const proposed = await this.opts.agent.propose(state.policy, e.data.evidence, constitution, facts, model);
          // Even an unusable reply is the proposal on record: the validator refuses it, a replay re-decides the same.
          proposal = { raw: proposed.raw, turn: proposed.turn };
          if (proposed.unusable !== null) fellBack = { ...fallback, ...unusableReplyFacts(proposed.unusable) };
        } catch (err) {
          fellBack = { ...fallback, reason: 'api-error', ...claudeErrorFacts(err) };
        }
      }
      if (fellBack)
        this.log(
          'warn',
          `campaign ${e.campaignId} round ${round}: Claude meta agent fell back to the rule engine ` +
            `(${fellBack.reason}: ${fellBack.detail})`,
        );
    }
    const decided = metaPolicyDecider.decide(
      {
        type: 'ReviseFromEvidence',
        round,
        evidence: e.data.evidence,
        evidenceSha256: e.data.evidenceSha256,
        constitution,
        proposal,
      },
      state,
    );
    if (decided.length === 0) return 'exists';
    const ctx = { campaignId: e.campaignId, streamId, source: 'meta-policy' as const, causationId: e.id };
    // One id per round: a second replica racing this one finds the first outcome recorded and writes nothing.
    const recorded = await handle(
      this.store,
      streamId,
      withEnvelopes(revisionRecordDecider, ctx),
      { type: 'RecordRevision', fellBack, decided },
      { commandId: `${streamId}-once` },
    );
    if (recorded.duplicate || recorded.events.length === 0) return 'exists';
    const refused = decided.filter((d) => d.type === 'ConstitutionViolationRefused');
    for (const r of refused)
      this.log(
        'warn',
        `campaign ${e.campaignId} round ${round}: refused (${(r.data as { rule: string }).rule}): ` +
          (r.data as { detail: string }).detail,
      );
    const revised = decided.find((d) => d.type === 'PolicyRevised');
    if (!revised) return 'refused';
    this.log(
      'log',
      `campaign ${e.campaignId} round ${round}: ` +
        `policy revision ${(revised.data as DataOf<typeof PolicyRevised>).policy.revision} recorded`,
    );
    return 'revised';
  }
}
