import * as fs from 'node:fs';
import * as path from 'node:path';
import { DomainError, SandboxRelativePath, type CheckedAt, type SandboxVerification } from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { collectable, forksToMake, sandboxPathFor } from '../domain/substrate';
import { removeSandbox } from '../fs/collect';
import { forkSandbox } from '../fs/fork';
import { HashCache } from '../fs/hash';
import { quarantinedCopies, sandboxesDir, type SnapshotRecord } from '../fs/snapshot-store';
import { verifySandbox, type Violation } from '../fs/verify';
import type { SubstrateConfig } from '../config';
import { SnapshotKeeper, type Logger } from './snapshot-keeper';
import { SubstrateLog, type Cause } from './substrate-log';

export { causeOf, substrateStreamId, type Cause } from './substrate-log';
export type { Logger } from './snapshot-keeper';

/**
 * The substrate service's use cases. Every decision folds the campaign's log (its own stream plus the events of
 * other services that concern sandboxes), asks the pure decider, and appends to `substrate:<campaignId>` through
 * `handle()` at the version it read (re-decided on a concurrent writer). File-system work is idempotent by
 * construction: snapshots are content-addressed and sandboxes live at deterministic paths, published by an atomic
 * rename.
 */
export class SubstrateWorkflow {
  private readonly hashCache = new HashCache();
  private readonly log: SubstrateLog;
  private readonly snapshots: SnapshotKeeper;

  constructor(
    store: EventStore,
    private readonly config: SubstrateConfig,
    private readonly logger: Logger = { log: () => undefined, warn: () => undefined },
  ) {
    this.log = new SubstrateLog(store);
    this.snapshots = new SnapshotKeeper(this.log, config, this.hashCache, logger);
  }

  /**
   * The campaign's snapshot, taken on first need (CampaignStarted, or a RoundStarted seen first), and checked against
   * its SubstrateSnapshotted before it is handed out (repaired if damaged). A substrate that breaks the contract is
   * recorded once as SubstrateRejected and yields null; so does a snapshot damaged beyond repair.
   */
  async ensureSnapshot(campaignId: string, cause: Cause = {}): Promise<SnapshotRecord | null> {
    const taken = await this.snapshots.snapshotTaken(campaignId, cause);
    if (taken === null) return null;
    return this.snapshots.withIntactSnapshot(
      campaignId,
      'snapshot',
      cause,
      async (s) => s,
      taken === 'recorded' ? undefined : taken,
    );
  }

  /** Forks one sandbox per planned candidate of `round` not yet forked; returns the candidates forked now. */
  async forkRound(campaignId: string, round: number, cause: Cause = {}): Promise<string[]> {
    const taken = await this.snapshots.snapshotTaken(campaignId, cause);
    const forked =
      taken === null
        ? null
        : await this.snapshots.withIntactSnapshot(
            campaignId,
            'fork',
            cause,
            async (snapshot) => {
              const { state } = await this.log.load(campaignId);
              const out: string[] = [];
              for (const plan of forksToMake(state, round)) {
                const sandboxPath = sandboxPathFor(sandboxesDir(this.config.home), campaignId, plan.candidateId);
                const fork = await forkSandbox(snapshot, sandboxPath, plan.standingRecipe);
                const res = await this.log.record(
                  campaignId,
                  {
                    kind: 'RecordFork',
                    candidateId: plan.candidateId,
                    sandboxPath,
                    snapshotId: snapshot.snapshotId,
                    recipeSha256: fork.recipeSha256,
                  },
                  { ...cause, commandId: `substrate:fork:${campaignId}:${plan.candidateId}` },
                );
                if (res.events.length > 0) out.push(plan.candidateId);
              }
              return out;
            },
            taken === 'recorded' ? undefined : taken,
          );
    if (forked === null) {
      const { state } = await this.log.load(campaignId);
      this.logger.warn(
        `campaign ${campaignId}: round ${round} not forked, ` +
          (state.snapshotLost !== null ? `the snapshot is lost: ${state.snapshotLost}` : 'the substrate was rejected'),
      );
      return [];
    }
    if (forked.length > 0)
      this.logger.log(`campaign ${campaignId}: round ${round} forked ${forked.length} sandbox(es)`);
    return forked;
  }

  /**
   * Checks a candidate's sandbox and records each new violation (FrozenPathViolated invalidates the candidate;
   * the others are untouched). Asked before every evaluation (VerifySandbox) and when a worker submits its
   * manifest (round close). The snapshot is checked (and repaired) first, and the sandbox's pinned files are
   * compared with the pins of SubstrateSnapshotted.
   */
  async verify(
    campaignId: string,
    candidateId: string,
    checkedAt: CheckedAt,
    paths: readonly string[] = [],
    opts: Cause & { commandId?: string; fingerprint?: string } = {},
  ): Promise<SandboxVerification> {
    return (await this.verifyOutcome(campaignId, candidateId, checkedAt, paths, opts)).result;
  }

  /** verify, also saying whether the answer is the recorded one of an earlier command with the same id. */
  async verifyOutcome(
    campaignId: string,
    candidateId: string,
    checkedAt: CheckedAt,
    paths: readonly string[] = [],
    opts: Cause & { commandId?: string; fingerprint?: string } = {},
  ): Promise<{ result: SandboxVerification; duplicate: boolean }> {
    // A path that leaves the sandbox is the caller's error, refused before anything is checked or recorded: judged
    // as the candidate's, it would invalidate an intact candidate for good.
    const bad = paths.flatMap((p, i) => {
      const parsed = SandboxRelativePath.safeParse(p);
      return parsed.success ? [] : [{ path: `paths.${i}`, message: parsed.error.issues[0]?.message ?? 'invalid' }];
    });
    if (bad.length > 0)
      throw new DomainError(
        'INVALID_ARGUMENT',
        `VerifySandbox: ${bad.length} path(s) do not stay inside the sandbox`,
        bad,
      );
    const { state } = await this.log.load(campaignId);
    const c = state.candidates[candidateId];
    if (!c)
      throw new DomainError('CANDIDATE_NOT_FOUND', `no candidate ${candidateId} in campaign ${campaignId}`, [
        { path: 'candidateId', message: 'not planned by any RoundStarted of this campaign' },
      ]);
    if (c.status === 'planned' || c.sandboxPath === null || !state.snapshot)
      throw new DomainError('NOT_FORKED', `candidate ${candidateId} has no sandbox yet`, [
        { path: 'candidateId', message: 'not forked yet' },
      ]);
    if (c.status === 'collected')
      throw new DomainError('SANDBOX_COLLECTED', `the sandbox of ${candidateId} was garbage-collected`, [
        { path: 'candidateId', message: 'sandbox collected' },
      ]);
    const sandboxPath = c.sandboxPath;
    const pins = state.snapshot.frozenSha256;
    const checked = await this.snapshots.withIntactSnapshot(campaignId, 'verify', opts, async (snapshot) => ({
      snapshot,
      violations: this.explainDamagedLinks(
        snapshot.snapshotId,
        sandboxPath,
        await verifySandbox(sandboxPath, snapshot, { paths, hashCache: this.hashCache, pins }),
      ),
    }));
    if (!checked) {
      const lost = (await this.log.load(campaignId)).state.snapshotLost ?? 'unknown damage';
      throw new DomainError(
        'SNAPSHOT_DAMAGED',
        `the snapshot of campaign ${campaignId} is damaged beyond repair: ${lost}`,
        [{ path: 'campaignId', message: 'its snapshot no longer matches SubstrateSnapshotted and cannot be rebuilt' }],
      );
    }
    const { snapshot, violations } = checked;
    const wasInvalid = c.status === 'invalidated';
    const out = await this.log.record<SandboxVerification>(
      campaignId,
      { kind: 'RecordVerification', candidateId, checkedAt, violations },
      {
        ...opts,
        result: (events) => ({
          candidateId,
          sandboxPath,
          snapshotId: snapshot.snapshotId,
          valid: violations.length === 0 && !wasInvalid,
          violations,
          recorded: events.length,
        }),
      },
    );
    if (out.events.length > 0)
      this.logger.warn(
        `campaign ${campaignId}: ${candidateId} invalidated: ` +
          violations.map((v) => `${v.kind} ${v.path}`).join(', '),
      );
    return { result: out.result, duplicate: out.duplicate };
  }

  /**
   * A sandbox forked before its snapshot was found damaged still hard-links the damaged inodes (now in quarantine):
   * its pinned file fails verification and the candidate is invalidated, not the campaign. Say so in the detail.
   */
  private explainDamagedLinks(snapshotId: string, sandboxPath: string, violations: Violation[]): Violation[] {
    const copies = quarantinedCopies(this.config.home, snapshotId);
    if (copies.length === 0) return violations;
    const inode = (p: string) => {
      try {
        const st = fs.lstatSync(p);
        return `${st.dev}:${st.ino}`;
      } catch {
        return null;
      }
    };
    return violations.map((v) => {
      if (v.kind !== 'frozen-modified') return v;
      const mine = inode(path.join(sandboxPath, v.path));
      const q = mine === null ? undefined : copies.find((dir) => inode(path.join(dir, v.path)) === mine);
      return q === undefined
        ? v
        : {
            ...v,
            detail:
              `${v.detail}; it is a hard link to the damaged snapshot copy quarantined at ${q} (SnapshotDamaged): ` +
              'the snapshot was rebuilt, this sandbox was forked before',
          };
    });
  }

  /** The round-close check: a candidate's sandbox as it is when its worker hands in the manifest. */
  async verifyAtRoundClose(
    campaignId: string,
    candidateId: string,
    cause: Cause = {},
  ): Promise<SandboxVerification | null> {
    const { state } = await this.log.load(campaignId);
    const c = state.candidates[candidateId];
    if (!c || c.status === 'planned' || c.status === 'collected') {
      this.logger.warn(
        `campaign ${campaignId}: manifest of ${candidateId} arrived but it has no sandbox to verify ` +
          `(${c?.status ?? 'unknown'})`,
      );
      return null;
    }
    if (state.snapshotLost !== null) {
      // Retrying would not help: the campaign is being aborted for it.
      this.logger.warn(
        `campaign ${campaignId}: ${candidateId} not checked at round close, ` +
          `the snapshot is lost: ${state.snapshotLost}`,
      );
      return null;
    }
    try {
      return await this.verify(campaignId, candidateId, 'round-close', [], {
        ...cause,
        commandId: `substrate:verify-close:${campaignId}:${candidateId}`,
      });
    } catch (err) {
      if (err instanceof DomainError && err.code === 'SNAPSHOT_DAMAGED') return null; // recorded as SnapshotDamaged
      throw err;
    }
  }

  /**
   * Removes the sandboxes the retention policy lets go. A sandbox is never removed while a job uses it: the log is
   * re-read right before each removal, and a sandbox still in use is retried when its job's terminal event arrives.
   */
  async collectGarbage(campaignId: string, cause: Cause = {}): Promise<string[]> {
    const collected: string[] = [];
    const { state } = await this.log.load(campaignId);
    for (const candidateId of collectable(state, this.config.gc).collect) {
      const fresh = (await this.log.load(campaignId)).state;
      if (!collectable(fresh, this.config.gc).collect.includes(candidateId)) continue;
      const sandboxPath = fresh.candidates[candidateId].sandboxPath!;
      const bytesFreed = removeSandbox(sandboxPath);
      await this.log.record(
        campaignId,
        { kind: 'CollectSandbox', candidateId, bytesFreed },
        { ...cause, commandId: `substrate:collect:${campaignId}:${candidateId}` },
      );
      collected.push(candidateId);
    }
    if (collected.length > 0)
      this.logger.log(`campaign ${campaignId}: collected ${collected.length} sandbox(es): ${collected.join(', ')}`);
    return collected;
  }
}
