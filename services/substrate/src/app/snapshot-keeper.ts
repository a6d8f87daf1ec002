import * as path from 'node:path';
import {
  DomainError,
  SNAPSHOT_DAMAGE_FILES_MAX,
  snapshotDamageReason,
  SnapshotDamaged,
  type DataOf,
} from '@aevo/contracts';
import { SubstrateInvalid } from '@aevo/substrate-kit';
import type { SubstrateState } from '../domain/substrate';
import type { DamagedFile } from '../fs/damage';
import type { HashCache } from '../fs/hash';
import {
  inspectSnapshot,
  pinnedHashes,
  prepareSnapshot,
  publishSnapshot,
  quarantineSnapshot,
  removeTree,
  takeSnapshot,
  withSnapshotLock,
  type ReplacedSnapshot,
  type SnapshotInspection,
  type SnapshotRecord,
} from '../fs/snapshot-store';
import type { SubstrateConfig } from '../config';
import type { Cause, SubstrateLog } from './substrate-log';

export interface Logger {
  log(message: string): void;
  warn(message: string): void;
}

/**
 * The campaign's snapshot: taken once, recorded as SubstrateSnapshotted (or the substrate rejected), and checked
 * against that record before each use; a damaged copy is quarantined and rebuilt, or recorded as lost.
 */
export class SnapshotKeeper {
  constructor(
    private readonly log: SubstrateLog,
    private readonly config: SubstrateConfig,
    private readonly hashCache: HashCache,
    private readonly logger: Logger,
  ) {}

  /**
   * Takes and records the campaign's snapshot unless the log has it: the fresh record when this call published it
   * (just hashed, so its first use need not hash it again), 'recorded' when the log already had one, null when the
   * substrate was rejected or its snapshot lost.
   */
  snapshotTaken(campaignId: string, cause: Cause): Promise<SnapshotRecord | 'recorded' | null> {
    // CampaignStarted and RoundStarted arrive together and are handled concurrently: one snapshot per campaign at a
    // time in this process (both handlers took their own before, which cost round 1 a second copy and hash).
    const inFlight = this.snapshotting.get(campaignId);
    if (inFlight) return inFlight;
    const p = this.takeSnapshotOnce(campaignId, cause).finally(() => this.snapshotting.delete(campaignId));
    this.snapshotting.set(campaignId, p);
    return p;
  }

  private readonly snapshotting = new Map<string, Promise<SnapshotRecord | 'recorded' | null>>();

  private async takeSnapshotOnce(campaignId: string, cause: Cause): Promise<SnapshotRecord | 'recorded' | null> {
    let { state } = await this.log.load(campaignId);
    if (!state.snapshot && !state.rejected) {
      if (state.substratePath === null)
        throw new DomainError('CAMPAIGN_NOT_STARTED', `no CampaignStarted for ${campaignId} in the log yet`, [
          { path: 'campaignId', message: 'unknown campaign' },
        ]);
      const dir = path.resolve(this.config.substrateRoot, state.substratePath);
      let record: SnapshotRecord;
      let replaced = null as ReplacedSnapshot | null;
      try {
        record = await takeSnapshot(dir, this.config.home, {
          hashCache: this.hashCache,
          onReplaced: (r) => (replaced = r),
        });
      } catch (err) {
        if (!(err instanceof SubstrateInvalid)) throw err;
        this.logger.warn(`campaign ${campaignId}: substrate ${dir} rejected: ${err.message}`);
        await this.log.record(
          campaignId,
          { kind: 'RejectSubstrate', substratePath: state.substratePath, issues: err.issues },
          cause,
        );
        return null;
      }
      const snapshot = {
        snapshotId: record.snapshotId,
        name: record.name,
        version: record.version,
        snapshotPath: record.snapshotPath,
        files: record.files,
        bytes: record.bytes,
        frozenSha256: pinnedHashes(record),
      };
      ({ state } = await this.log.record(campaignId, { kind: 'RecordSnapshot', snapshot }, cause));
      this.logger.log(
        `campaign ${campaignId}: substrate ${record.name}@${record.version} snapshotted as ${record.snapshotId}`,
      );
      if (state.snapshot?.snapshotId === record.snapshotId) {
        // An earlier copy of this id was damaged: this campaign got the fresh one, and the log says what was found.
        if (replaced)
          await this.recordDamage(
            campaignId,
            replaced.files,
            {
              snapshotId: record.snapshotId,
              detectedAt: 'snapshot',
              outcome: 'rebuilt',
              quarantinedAt: replaced.quarantinedAt,
              sourceSnapshotId: record.snapshotId,
            },
            cause,
          );
        return record;
      }
    }
    if (!state.snapshot || state.snapshotLost !== null) return null;
    return 'recorded';
  }

  /**
   * Runs `use` on the campaign's snapshot once it matches its SubstrateSnapshotted (pins from the event, never from
   * a file), holding this process's lock on the snapshot id so that no repair moves it in the meantime. A damaged
   * snapshot is quarantined and rebuilt first; one that cannot be rebuilt yields null and `use` does not run.
   * `fresh`: a copy this call just published (hashed moments ago), used without a second look.
   */
  async withIntactSnapshot<T>(
    campaignId: string,
    detectedAt: DataOf<typeof SnapshotDamaged>['detectedAt'],
    cause: Cause,
    use: (snapshot: SnapshotRecord) => Promise<T>,
    fresh?: SnapshotRecord,
  ): Promise<T | null> {
    const { state } = await this.log.load(campaignId);
    const ref = state.snapshot;
    if (!ref || state.snapshotLost !== null) return null;
    return withSnapshotLock(ref.snapshotId, async () => {
      if (fresh?.snapshotId === ref.snapshotId) return use(fresh);
      // Re-read under the lock: a repair that ran while this call waited may have found the snapshot lost.
      const now = (await this.log.load(campaignId)).state;
      if (now.snapshotLost !== null) return null;
      const found = await inspectSnapshot(this.config.home, ref.snapshotId, ref.frozenSha256, this.hashCache);
      const intact =
        found.damage.length === 0 ? found.record : await this.repair(campaignId, now, found, detectedAt, cause);
      return intact ? use(intact) : null;
    });
  }

  /**
   * Quarantines a damaged snapshot and rebuilds it from the campaign's source directory. Same id = same bytes, so
   * the campaign carries on from the rebuilt copy. Another id (the source changed) or none (it no longer loads)
   * means the pinned snapshot cannot come back: SnapshotDamaged unrecoverable, and the orchestrator aborts the
   * campaign. Runs under the snapshot's lock.
   */
  private async repair(
    campaignId: string,
    state: SubstrateState,
    found: SnapshotInspection,
    detectedAt: DataOf<typeof SnapshotDamaged>['detectedAt'],
    cause: Cause,
  ): Promise<SnapshotRecord | null> {
    const snapshotId = state.snapshot!.snapshotId;
    const quarantinedAt = quarantineSnapshot(this.config.home, snapshotId, { rootId: found.rootId });
    let rebuilt: SnapshotRecord | null = null;
    let sourceSnapshotId: string | null = null;
    if (state.substratePath !== null) {
      const source = path.resolve(this.config.substrateRoot, state.substratePath);
      try {
        const prepared = await prepareSnapshot(source, this.config.home, this.hashCache);
        try {
          sourceSnapshotId = prepared.record.snapshotId;
          if (sourceSnapshotId === snapshotId)
            rebuilt = await publishSnapshot(prepared, this.config.home, { hashCache: this.hashCache });
        } finally {
          removeTree(prepared.tmp);
        }
      } catch (err) {
        if (!(err instanceof SubstrateInvalid)) throw err;
        this.logger.warn(`campaign ${campaignId}: substrate ${source} no longer loads: ${err.message}`);
      }
    }
    await this.recordDamage(
      campaignId,
      found.damage,
      { snapshotId, detectedAt, outcome: rebuilt ? 'rebuilt' : 'unrecoverable', quarantinedAt, sourceSnapshotId },
      cause,
    );
    return rebuilt;
  }

  private async recordDamage(
    campaignId: string,
    files: readonly DamagedFile[],
    rest: Omit<DataOf<typeof SnapshotDamaged>, 'files' | 'moreFiles'>,
    cause: Cause,
  ): Promise<void> {
    const damage = {
      ...rest,
      files: files.slice(0, SNAPSHOT_DAMAGE_FILES_MAX),
      moreFiles: Math.max(0, files.length - SNAPSHOT_DAMAGE_FILES_MAX),
    };
    await this.log.record(
      campaignId,
      { kind: 'RecordSnapshotDamage', damage },
      { causationId: cause.causationId, correlationId: cause.correlationId },
    );
    this.logger.warn(
      `campaign ${campaignId}: ${snapshotDamageReason(damage)}` +
        (damage.quarantinedAt ? `; the damaged copy is kept at ${damage.quarantinedAt}` : ''),
    );
  }
}
