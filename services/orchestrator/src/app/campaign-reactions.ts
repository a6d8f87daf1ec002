import { Logger } from '@nestjs/common';
import {
  CancelJob,
  JobCancelled,
  JobFailed,
  JobRequested,
  JobSucceeded,
  UnsealPrivateLeaderboard,
  type CommandReply,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import type { CommandClient } from '@aevo/messaging';
import type { OrchestratorWorkflow } from './orchestrator-workflow';

/** The command ids the orchestrator sends with, so a resend is applied once by the receiving service. */
export const unsealCommandId = (campaignId: string) => `unseal-${campaignId}`;
export const cancelCommandId = (jobId: string) => `abort-${jobId}`;

/** Transport failures and not-yet-ready answers: worth a retry (the event is redelivered, the tick tries again). */
class RetryLater extends Error {}

/**
 * What the orchestrator does besides appending to its own stream: it asks the leaderboard to unseal the private
 * scores at the final audit, and cancels an aborted campaign's jobs. Both commands carry deterministic ids.
 */
export class CampaignReactions {
  private readonly log = new Logger('CampaignReactions');
  private readonly lastUnseal = new Map<string, number>();

  constructor(
    private readonly campaigns: OrchestratorWorkflow,
    private readonly store: EventStore,
    private readonly client: Pick<CommandClient, 'send'>,
    private readonly opts: { unsealTimeoutMs?: number; unsealRetryMs?: number } = {},
  ) {}

  /** Runs the campaign's next steps and logs what they appended. */
  async advance(campaignId: string, causationId: string | null, why: string): Promise<string[]> {
    const { appended } = await this.campaigns.advance(campaignId, { causationId });
    if (appended.length > 0) this.log.log(`${campaignId}: ${why} → ${appended.join(', ')}`);
    return appended;
  }

  /**
   * Final audit: UnsealPrivateLeaderboard (idempotent on the leaderboard), then completion from the revealed scores.
   */
  async unseal(campaignId: string, causationId: string | null): Promise<void> {
    this.lastUnseal.set(campaignId, Date.now());
    const reply: CommandReply = await this.client.send(
      UnsealPrivateLeaderboard,
      { campaignId },
      {
        commandId: unsealCommandId(campaignId),
        correlationId: causationId ?? undefined,
        timeoutMs: this.opts.unsealTimeoutMs ?? 120_000,
      },
    );
    if (!reply.ok)
      throw new RetryLater(`UnsealPrivateLeaderboard for ${campaignId}: ${reply.error.code} ${reply.error.message}`);
    await this.advance(campaignId, causationId, 'private leaderboard unsealed');
  }

  /** Whether a pending audit's unseal is due again (the tick resends it, at most every unsealRetryMs). */
  unsealDue(campaignId: string, now = Date.now()): boolean {
    const last = this.lastUnseal.get(campaignId);
    return last === undefined || now - last >= (this.opts.unsealRetryMs ?? 30_000);
  }

  /**
   * Cancels every job of the campaign that has no terminal event yet (a job that finished meanwhile is left alone).
   * `reason` is recorded with each cancellation, e.g. "campaign aborted: …" or "budget exhausted: …".
   */
  async cancelJobs(campaignId: string, reason: string): Promise<number> {
    const events = await this.store.readAll({
      campaignId,
      types: [JobRequested.type, JobSucceeded.type, JobFailed.type, JobCancelled.type],
    });
    const open = new Set<string>();
    for (const e of events) {
      if (e.type === JobRequested.type) open.add((e.data as { spec: { jobId: string } }).spec.jobId);
      else open.delete((e.data as { jobId: string }).jobId);
    }
    let cancelled = 0;
    for (const jobId of [...open].sort()) {
      const reply = await this.client.send(
        CancelJob,
        { campaignId, jobId, reason: reason.slice(0, 500) },
        { commandId: cancelCommandId(jobId), timeoutMs: 30_000 },
      );
      if (reply.ok) cancelled++;
      else if (reply.error.code === 'TIMEOUT' || reply.error.code === 'NO_RESPONDERS')
        throw new RetryLater(`CancelJob ${jobId}: ${reply.error.code}`);
      // Other refusals (unknown or finished job) leave nothing to cancel.
    }
    if (open.size > 0)
      this.log.log(`${campaignId}: ${reason.split(':')[0]}, cancelled ${cancelled} of ${open.size} open job(s)`);
    return cancelled;
  }
}
