import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import {
  CampaignCompleted,
  CampaignReportRecorded,
  ClaudeFellBack,
  RoundCollectionClaimed,
  RoundCollectionDeadlineSet,
  RoundEvidenceRecorded,
  RoundStarted,
  claudeErrorFacts,
  unusableReplyFacts,
  createEvent,
  type DataOf,
  type Decider,
  isEvent,
  type EventEnvelope,
  type LlmUsage,
} from '@aevo/contracts';
import { handle, withEnvelopes, type EnvelopeContext, type EventStore } from '@aevo/eventstore';
import {
  LEDGER_EVENT_TYPES,
  collectRoundEvidence,
  deadlinePassed,
  evidenceHash,
  evidenceInputs,
  foldLedger,
  roundReadiness,
  withProse,
  type CampaignLedger,
} from '@aevo/evidence';
import { ONE_SHOT_EVENT_TYPES, oneShotDecider, type OneShotEvent } from '../domain/one-shot-record';
import { holdsClaim, roundClaimDecider, type ClaimRound, type RoundClaimState } from '../domain/round-claim';
import { chartJsUmdSource, completedCampaignReport, readCampaignLog } from '@aevo/projections';
import type { ProseWriter } from './prose-writer';

export const evidenceStreamId = (campaignId: string, round: number) => `collector-${campaignId}-r${round}`;
export const deadlineStreamId = (campaignId: string, round: number) => `collector-deadline-${campaignId}-r${round}`;
export const claimStreamId = (campaignId: string, round: number) => `collector-claim-${campaignId}-r${round}`;
/** The campaign's report record. Not the campaign stream itself: that one is the orchestrator's aggregate. */
export const reportStreamId = (campaignId: string) => `collector-report-${campaignId}`;

export type CollectOutcome = 'recorded' | 'exists' | 'waiting';

export interface CollectorWorkflowOptions {
  deadlineSeconds: number;
  prose: ProseWriter | null;
  /** How long a replica's claim on a round's prose pass holds before another replica may take over. */
  claimSeconds?: number;
  log?: (level: 'log' | 'warn' | 'error', message: string) => void;
  now?: () => Date;
  /** The chart library inlined into the campaign report (default: the installed Chart.js UMD build). */
  chartJs?: () => string;
}

/**
 * The collector's use cases. Every decision is taken on the store of record, not on message order: any event of a
 * round re-reads the round's facts and checks readiness. Records go to one-shot streams through `handle()` with a
 * command id derived from the stream, so redeliveries and racing replicas record each fact once.
 */
export class CollectorWorkflow {
  private readonly log: NonNullable<CollectorWorkflowOptions['log']>;
  private readonly now: () => Date;
  /** Names this replica in its claims. */
  readonly replicaId = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly inFlight = new Map<string, Promise<CollectOutcome>>();

  constructor(
    private readonly store: EventStore,
    private readonly opts: CollectorWorkflowOptions,
  ) {
    this.log = opts.log ?? (() => undefined);
    this.now = opts.now ?? (() => new Date());
  }

  async ledger(campaignId: string): Promise<CampaignLedger> {
    return foldLedger(campaignId, await this.store.readAll({ campaignId, types: [...LEDGER_EVENT_TYPES] }));
  }

  /** Any fact of a campaign: fix the round's deadline when it starts, then collect every round that is ready. */
  async onEvent(e: EventEnvelope): Promise<void> {
    let ledger = await this.ledger(e.campaignId);
    if (isEvent(e, RoundStarted)) {
      await this.ensureDeadline(ledger, e.data.round);
      ledger = await this.ledger(e.campaignId);
    }
    const round = (e.data as { round?: unknown }).round;
    const rounds = typeof round === 'number' ? [round] : openRounds(ledger);
    for (const r of rounds) await this.collect(ledger, r, 'all-in', e.id);
  }

  /** Records when the collector stops waiting for round `round` (once; RoundStarted time + the configured delay). */
  async ensureDeadline(ledger: CampaignLedger, round: number): Promise<void> {
    const r = ledger.rounds[round];
    if (!r?.started || r.deadline) return;
    const deadlineAt = new Date(Date.parse(r.started.time) + this.opts.deadlineSeconds * 1000).toISOString();
    const data = { round, deadlineAt, afterSeconds: this.opts.deadlineSeconds };
    await this.recordOnce(
      { campaignId: ledger.campaignId, streamId: deadlineStreamId(ledger.campaignId, round), source: 'collector' },
      r.started.eventId,
      [{ type: RoundCollectionDeadlineSet.type, data }],
    );
  }

  /**
   * Collects round `round` when it is ready ('all-in') or its recorded deadline has passed ('deadline').
   * The evidence is computed from the ledger as read, and the ids of exactly those input events are recorded.
   */
  async collect(
    ledger: CampaignLedger,
    round: number,
    trigger: 'all-in' | 'deadline',
    causationId: string | null = null,
  ): Promise<CollectOutcome> {
    // Handlers of different event types run concurrently in one replica: collections of a round run one after
    // the other (a later one then finds the record, or is the one that sees the round ready).
    const key = `${ledger.campaignId}#${round}`;
    const before = this.inFlight.get(key) ?? Promise.resolve<CollectOutcome>('waiting');
    const p = before.catch(() => 'waiting' as const).then(() => this.collectNow(ledger, round, trigger, causationId));
    this.inFlight.set(key, p);
    return p.finally(() => {
      if (this.inFlight.get(key) === p) this.inFlight.delete(key);
    });
  }

  private async collectNow(
    ledger: CampaignLedger,
    round: number,
    trigger: 'all-in' | 'deadline',
    causationId: string | null,
  ): Promise<CollectOutcome> {
    const r = ledger.rounds[round];
    if (!r?.started || !ledger.campaign) return 'waiting';
    if (r.recorded) return 'exists';
    const readiness = roundReadiness(ledger, round);
    let used: 'all-in' | 'deadline';
    if (readiness.ready) used = 'all-in';
    else if (trigger === 'deadline' && deadlinePassed(ledger, round, this.now())) used = 'deadline';
    else return 'waiting';
    const streamId = evidenceStreamId(ledger.campaignId, round);
    // Another replica may have recorded it since the read; skip the (possibly paid) prose pass then.
    if ((await this.store.streamVersion(streamId)) > 0) return 'exists';
    // With a prose pass, one replica claims the round first, so racing replicas do not each pay for a call.
    if (this.opts.prose && !(await this.claim(ledger.campaignId, round))) return 'waiting';

    const { inputs, inputEventIds } = evidenceInputs(ledger, round);
    let evidence = collectRoundEvidence(inputs);
    let llm: LlmUsage | null = null;
    // A prose pass that yields no prose is recorded with the evidence it left without prose, not only logged.
    let fellBack: DataOf<typeof ClaudeFellBack> | null = null;
    if (this.opts.prose) {
      // The campaign's model (recorded at its start); a campaign started before it was a setting gets the operator's.
      const model = ledger.campaign.data.config.claudeModel ?? this.opts.prose.defaultModel;
      const fallback = { round, pass: 'evidence-prose', fallback: 'numbers-without-prose', model } as const;
      try {
        const res = await this.opts.prose.write(evidence, model);
        llm = res.llm;
        if (res.prose) evidence = withProse(evidence, res.prose);
        if (res.problem) fellBack = { ...fallback, ...unusableReplyFacts(res.problem) };
      } catch (err) {
        fellBack = { ...fallback, reason: 'api-error', ...claudeErrorFacts(err) };
      }
      if (fellBack)
        this.log(
          'warn',
          `round ${round} of ${ledger.campaignId}: prose pass fell back (${fellBack.reason}: ` +
            `${fellBack.detail}); numbers recorded without prose`,
        );
    }
    const recorded: OneShotEvent = {
      type: RoundEvidenceRecorded.type,
      data: { round, evidence, evidenceSha256: evidenceHash(evidence), trigger: used, inputEventIds, llm },
    };
    const written = await this.recordOnce(
      { campaignId: ledger.campaignId, streamId, source: 'collector' },
      used === 'deadline' ? (r.deadline?.eventId ?? causationId) : causationId,
      fellBack ? [{ type: ClaudeFellBack.type, data: fellBack }, recorded] : [recorded],
    );
    if (written) {
      const waited = used === 'deadline' ? ` (deadline; still missing: ${readiness.waitingFor.join('; ')})` : '';
      this.log('log', `round ${round} of ${ledger.campaignId}: evidence recorded${waited}`);
    }
    return written ? 'recorded' : 'exists';
  }

  /**
   * Renders a completed campaign's report from the log alone (its events up to and including CampaignCompleted:
   * the same log gives the same bytes) and records its hash once. 'waiting' while the campaign has not completed.
   */
  async recordReport(campaignId: string): Promise<CollectOutcome> {
    const streamId = reportStreamId(campaignId);
    if ((await this.store.streamVersion(streamId)) > 0) return 'exists';
    const log = await readCampaignLog(this.store, campaignId, await this.store.headPosition());
    const report = completedCampaignReport(log, campaignId, (this.opts.chartJs ?? chartJsUmdSource)());
    if (!report) return 'waiting';
    const data = {
      reportSha256: report.sha256,
      throughEventId: report.through.id,
      throughPosition: report.through.position,
      events: report.events,
      bytes: report.bytes,
      rendererVersion: report.rendererVersion,
    };
    const written = await this.recordOnce({ campaignId, streamId, source: 'collector' }, report.through.id, [
      { type: CampaignReportRecorded.type, data },
    ]);
    if (written) this.log('log', `${campaignId}: report recorded (sha256 ${report.sha256}, ${report.bytes} bytes)`);
    return written ? 'recorded' : 'exists';
  }

  /** One pass over every open round of every campaign: missing deadlines, readiness, passed deadlines. */
  async tick(): Promise<void> {
    const marks = await this.store.readAll({ types: [RoundStarted.type, RoundEvidenceRecorded.type] });
    const open = new Map<string, Set<number>>();
    for (const e of marks) {
      const round = (e.data as { round: number }).round;
      const set = open.get(e.campaignId) ?? new Set<number>();
      if (e.type === RoundStarted.type) set.add(round);
      else set.delete(round);
      open.set(e.campaignId, set);
    }
    for (const [campaignId, rounds] of open) {
      if (rounds.size === 0) continue;
      let ledger = await this.ledger(campaignId);
      for (const round of [...rounds].sort((a, b) => a - b)) {
        if (!ledger.rounds[round]?.deadline) {
          await this.ensureDeadline(ledger, round);
          ledger = await this.ledger(campaignId);
        }
        await this.collect(ledger, round, 'deadline');
      }
    }
    await this.tickReports();
  }

  /** Completed campaigns whose report is not recorded yet (a lost CampaignCompleted message, a crash mid-way). */
  private async tickReports(): Promise<void> {
    const marks = await this.store.readAll({ types: [CampaignCompleted.type, CampaignReportRecorded.type] });
    const pending = new Set<string>();
    for (const e of marks)
      if (e.type === CampaignCompleted.type) pending.add(e.campaignId);
      else pending.delete(e.campaignId);
    for (const campaignId of [...pending].sort())
      await this.recordReport(campaignId).catch((err: Error) =>
        this.log('warn', `${campaignId}: report not recorded: ${err.message}`),
      );
  }

  /** Takes (or re-takes after expiry) the round's claim; false while another replica's claim holds. */
  private async claim(campaignId: string, round: number): Promise<boolean> {
    const streamId = claimStreamId(campaignId, round);
    const command: ClaimRound = {
      type: 'ClaimRound',
      round,
      replicaId: this.replicaId,
      nowMs: this.now().getTime(),
      holdMs: (this.opts.claimSeconds ?? 300) * 1000,
    };
    // A racing replica's claim makes handle() re-decide on it: then it holds, and this replica answers false.
    const outcome = await handle(
      this.store,
      streamId,
      claimOnEnvelopes({ campaignId, streamId, source: 'collector' }),
      command,
    );
    return holdsClaim(outcome.state, this.replicaId);
  }

  /**
   * Records `events` on a one-shot stream unless it already holds a record; false when another writer (a racing
   * replica, an earlier delivery) got there first. The command id is the stream's, so a retry writes nothing.
   */
  async recordOnce(ctx: EnvelopeContext, causationId: string | null, events: OneShotEvent[]): Promise<boolean> {
    const outcome = await handle(
      this.store,
      ctx.streamId,
      withEnvelopes(oneShotDecider, { ...ctx, causationId }, ONE_SHOT_EVENT_TYPES),
      { type: 'RecordOnce', events },
      { commandId: `${ctx.streamId}-once` },
    );
    return !outcome.duplicate && outcome.events.length > 0;
  }
}

/** The claim decider over envelopes: evolve reads the claim's time from the envelope, decide stamps it. */
function claimOnEnvelopes(ctx: EnvelopeContext): Decider<ClaimRound, EventEnvelope, RoundClaimState> {
  return {
    initialState: roundClaimDecider.initialState,
    evolve: (s, e) =>
      isEvent(e, RoundCollectionClaimed)
        ? roundClaimDecider.evolve(s, { type: e.type, data: e.data, atMs: Date.parse(e.time) })
        : s,
    decide: (c, s) =>
      roundClaimDecider
        .decide(c, s)
        .map((e) => createEvent(RoundCollectionClaimed, e.data, { ...ctx, now: () => new Date(e.atMs) })),
  };
}

function openRounds(l: CampaignLedger): number[] {
  return Object.values(l.rounds)
    .filter((r) => r.started && !r.recorded)
    .map((r) => r.round)
    .sort((a, b) => a - b);
}
