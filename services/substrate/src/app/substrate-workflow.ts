import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CandidateForked,
  DomainError,
  FrozenPathViolated,
  SandboxCollected,
  SandboxRelativePath,
  SNAPSHOT_DAMAGE_FILES_MAX,
  SnapshotDamaged,
  SubstrateRejected,
  SubstrateSnapshotted,
  createEvent,
  snapshotDamageReason,
  type DataOf,
  type CheckedAt,
  type EventDefinition,
  type EventEnvelope,
  type SandboxVerification,
} from '@aevo/contracts';
import { checkFingerprint, ConcurrencyError, recordedResult, type EventStore, type StoredEvent } from '@aevo/eventstore';
import { SubstrateInvalid } from '@aevo/substrate-kit';
import {
  DEFAULT_GC_POLICY,
  RELEVANT_EVENT_TYPES,
  collectable,
  decide,
  evolve,
  forksToMake,
  initialSubstrateState,
  sandboxPathFor,
  type GcPolicy,
  type SubstrateCommand,
  type SubstrateEvent,
  type SubstrateState,
} from '../domain/substrate';
import { forkSandbox } from '../fs/fork';
import {
  inspectSnapshot,
  pinnedHashes,
  prepareSnapshot,
  publishSnapshot,
  quarantineSnapshot,
  quarantinedCopies,
  removeTree,
  sandboxesDir,
  takeSnapshot,
  withSnapshotLock,
  type ReplacedSnapshot,
  type SnapshotInspection,
  type SnapshotRecord,
} from '../fs/snapshot-store';
import type { DamagedFile } from '../fs/damage';
import { verifySandbox, type Violation } from '../fs/verify';
import { removeSandbox } from '../fs/collect';
import { HashCache } from '../fs/hash';

export interface SubstrateConfig {
  /** Root of snapshots and sandboxes (`<home>/snapshots`, `<home>/sandboxes`). Absolute. */
  home: string;
  gc: GcPolicy;
  /** Where relative `CampaignConfig.substratePath`s are resolved from (default: the process's cwd). */
  substrateRoot: string;
}

export interface Logger {
  log(message: string): void;
  warn(message: string): void;
}

const DEFINITIONS: Record<SubstrateEvent['type'], EventDefinition> = {
  SubstrateSnapshotted,
  SubstrateRejected,
  CandidateForked,
  FrozenPathViolated,
  SandboxCollected,
  SnapshotDamaged,
};

const LOAD_PAGE = 5000;

/** The stream this service writes for a campaign; its version guards every decision (optimistic concurrency). */
export const substrateStreamId = (campaignId: string) => `substrate:${campaignId}`;

interface Cause {
  causationId?: string | null;
  correlationId?: string | null;
}

/**
 * The substrate service's use cases. Every decision folds the campaign's log (its own stream plus the events of
 * other services that concern sandboxes), asks the pure decider, and appends to `substrate:<campaignId>` at the
 * version it read, retrying on a concurrent writer. File-system work is idempotent by construction: snapshots are
 * content-addressed and sandboxes live at deterministic paths, published by an atomic rename.
 */
export class SubstrateWorkflow {
  private readonly hashCache = new HashCache();

  constructor(
    private readonly store: EventStore,
    private readonly config: SubstrateConfig,
    private readonly logger: Logger = { log: () => undefined, warn: () => undefined },
  ) {}

  /** Per campaign: the state folded so far, its stream version and the last position read. */
  private readonly folded = new Map<string, { state: SubstrateState; version: number; position: number }>();

  /**
   * The campaign's state, folded incrementally: only events after the last position read are fetched and folded
   * (positions become visible in position order, so nothing is skipped; evolve never mutates, so a folded state is
   * safe to share). Re-reading the whole campaign for every decision made a 64-worker × 20-round campaign
   * quadratic (bench/campaign/scale.js). The log stays the record: a new process folds from position 0.
   */
  async load(campaignId: string): Promise<{ state: SubstrateState; version: number }> {
    const streamId = substrateStreamId(campaignId);
    let { state, version, position } = this.folded.get(campaignId) ?? { state: initialSubstrateState(), version: 0, position: 0 };
    for (;;) {
      const page = await this.store.readAll({ campaignId, types: RELEVANT_EVENT_TYPES, fromPosition: position, limit: LOAD_PAGE });
      for (const e of page) {
        state = evolve(state, e);
        if (e.streamId === streamId) version = e.streamVersion;
        position = e.position;
      }
      if (page.length < LOAD_PAGE) break;
    }
    const cached = this.folded.get(campaignId);
    if (!cached || cached.position < position) this.folded.set(campaignId, { state, version, position });
    return { state: state.campaignId === null ? { ...state, campaignId } : state, version };
  }

  /** decide → append at the version read; re-decides on a concurrent append. `commandId` makes it idempotent. */
  async execute<R = null>(
    campaignId: string,
    command: SubstrateCommand,
    opts: Cause & { commandId?: string; fingerprint?: string; result?: (events: SubstrateEvent[], state: SubstrateState) => R } = {},
  ): Promise<{ events: SubstrateEvent[]; state: SubstrateState; result: R; duplicate: boolean }> {
    const streamId = substrateStreamId(campaignId);
    if (opts.commandId && this.store.commandOutcome) {
      const earlier = await this.store.commandOutcome(opts.commandId);
      if (earlier) checkFingerprint(opts.commandId, earlier, opts.fingerprint);
      if (earlier) return { events: [], state: (await this.load(campaignId)).state, result: ((earlier.commandResult as { value?: R })?.value ?? null) as R, duplicate: true };
    }
    for (let attempt = 1; ; attempt++) {
      const { state, version } = await this.load(campaignId);
      const decided = decide(command, state);
      const after = decided.reduce((s, e) => evolve(s, { ...e, campaignId }), state);
      const result = (opts.result ? opts.result(decided, after) : null) as R;
      const envelopes: EventEnvelope[] = decided.map((e) =>
        createEvent(DEFINITIONS[e.type], e.data as never, {
          campaignId,
          streamId,
          source: 'substrate',
          causationId: opts.causationId ?? null,
          correlationId: opts.correlationId ?? null,
        }),
      );
      if (envelopes.length === 0 && opts.commandId === undefined) return { events: [], state: after, result, duplicate: false };
      try {
        const appended = await this.store.append(streamId, version, envelopes, {
          commandId: opts.commandId,
          commandResult: opts.commandId !== undefined ? recordedResult(result, opts.fingerprint) : undefined,
        });
        if (appended.duplicate) checkFingerprint(opts.commandId, appended, opts.fingerprint);
        if (appended.duplicate) return { events: [], state: after, result: ((appended.commandResult as { value?: R })?.value ?? result) as R, duplicate: true };
        return { events: decided, state: after, result, duplicate: false };
      } catch (err) {
        if (err instanceof ConcurrencyError && attempt < 8) continue;
        throw err;
      }
    }
  }

  /**
   * The campaign's snapshot, taken on first need (CampaignStarted, or a RoundStarted seen first), and checked against
   * its SubstrateSnapshotted before it is handed out (repaired if damaged). A substrate that breaks the contract is
   * recorded once as SubstrateRejected and yields null; so does a snapshot damaged beyond repair.
   */
  async ensureSnapshot(campaignId: string, cause: Cause = {}): Promise<SnapshotRecord | null> {
    const taken = await this.snapshotTaken(campaignId, cause);
    if (taken === null) return null;
    return this.withIntactSnapshot(campaignId, 'snapshot', cause, async (s) => s, taken === 'recorded' ? undefined : taken);
  }

  /**
   * Takes and records the campaign's snapshot unless the log has it: the fresh record when this call published it
   * (just hashed, so its first use need not hash it again), 'recorded' when the log already had one, null when the
   * substrate was rejected or its snapshot lost.
   */
  private snapshotTaken(campaignId: string, cause: Cause): Promise<SnapshotRecord | 'recorded' | null> {
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
    let { state } = await this.load(campaignId);
    if (!state.snapshot && !state.rejected) {
      if (state.substratePath === null)
        throw new DomainError('CAMPAIGN_NOT_STARTED', `no CampaignStarted for ${campaignId} in the log yet`, [{ path: 'campaignId', message: 'unknown campaign' }]);
      const dir = path.resolve(this.config.substrateRoot, state.substratePath);
      let record: SnapshotRecord;
      let replaced = null as ReplacedSnapshot | null;
      try {
        record = await takeSnapshot(dir, this.config.home, { hashCache: this.hashCache, onReplaced: (r) => (replaced = r) });
      } catch (err) {
        if (!(err instanceof SubstrateInvalid)) throw err;
        this.logger.warn(`campaign ${campaignId}: substrate ${dir} rejected: ${err.message}`);
        await this.execute(campaignId, { kind: 'RejectSubstrate', substratePath: state.substratePath, issues: err.issues }, cause);
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
      ({ state } = await this.execute(campaignId, { kind: 'RecordSnapshot', snapshot }, cause));
      this.logger.log(`campaign ${campaignId}: substrate ${record.name}@${record.version} snapshotted as ${record.snapshotId}`);
      if (state.snapshot?.snapshotId === record.snapshotId) {
        // An earlier copy of this id was damaged: this campaign got the fresh one, and the log says what was found.
        if (replaced)
          await this.recordDamage(
            campaignId,
            replaced.files,
            { snapshotId: record.snapshotId, detectedAt: 'snapshot', outcome: 'rebuilt', quarantinedAt: replaced.quarantinedAt, sourceSnapshotId: record.snapshotId },
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
  private async withIntactSnapshot<T>(
    campaignId: string,
    detectedAt: DataOf<typeof SnapshotDamaged>['detectedAt'],
    cause: Cause,
    use: (snapshot: SnapshotRecord) => Promise<T>,
    fresh?: SnapshotRecord,
  ): Promise<T | null> {
    const { state } = await this.load(campaignId);
    const ref = state.snapshot;
    if (!ref || state.snapshotLost !== null) return null;
    return withSnapshotLock(ref.snapshotId, async () => {
      if (fresh?.snapshotId === ref.snapshotId) return use(fresh);
      // Re-read under the lock: a repair that ran while this call waited may have found the snapshot lost.
      const now = (await this.load(campaignId)).state;
      if (now.snapshotLost !== null) return null;
      const found = await inspectSnapshot(this.config.home, ref.snapshotId, ref.frozenSha256, this.hashCache);
      const intact = found.damage.length === 0 ? found.record : await this.repair(campaignId, now, found, detectedAt, cause);
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
          if (sourceSnapshotId === snapshotId) rebuilt = await publishSnapshot(prepared, this.config.home, { hashCache: this.hashCache });
        } finally {
          removeTree(prepared.tmp);
        }
      } catch (err) {
        if (!(err instanceof SubstrateInvalid)) throw err;
        this.logger.warn(`campaign ${campaignId}: substrate ${source} no longer loads: ${err.message}`);
      }
    }
    await this.recordDamage(campaignId, found.damage, { snapshotId, detectedAt, outcome: rebuilt ? 'rebuilt' : 'unrecoverable', quarantinedAt, sourceSnapshotId }, cause);
    return rebuilt;
  }

  private async recordDamage(
    campaignId: string,
    files: readonly DamagedFile[],
    rest: Omit<DataOf<typeof SnapshotDamaged>, 'files' | 'moreFiles'>,
    cause: Cause,
  ): Promise<void> {
    const damage = { ...rest, files: files.slice(0, SNAPSHOT_DAMAGE_FILES_MAX), moreFiles: Math.max(0, files.length - SNAPSHOT_DAMAGE_FILES_MAX) };
    await this.execute(campaignId, { kind: 'RecordSnapshotDamage', damage }, { causationId: cause.causationId, correlationId: cause.correlationId });
    this.logger.warn(`campaign ${campaignId}: ${snapshotDamageReason(damage)}${damage.quarantinedAt ? `; the damaged copy is kept at ${damage.quarantinedAt}` : ''}`);
  }

  /** Forks one sandbox per planned candidate of `round` not yet forked; returns the candidates forked now. */
  async forkRound(campaignId: string, round: number, cause: Cause = {}): Promise<string[]> {
    const taken = await this.snapshotTaken(campaignId, cause);
    const forked =
      taken === null
        ? null
        : await this.withIntactSnapshot(
            campaignId,
            'fork',
            cause,
            async (snapshot) => {
              const { state } = await this.load(campaignId);
              const out: string[] = [];
              for (const plan of forksToMake(state, round)) {
                const sandboxPath = sandboxPathFor(sandboxesDir(this.config.home), campaignId, plan.candidateId);
                const fork = await forkSandbox(snapshot, sandboxPath, plan.standingRecipe);
                const res = await this.execute(
                  campaignId,
                  { kind: 'RecordFork', candidateId: plan.candidateId, sandboxPath, snapshotId: snapshot.snapshotId, recipeSha256: fork.recipeSha256 },
                  { ...cause, commandId: `substrate:fork:${campaignId}:${plan.candidateId}` },
                );
                if (res.events.length > 0) out.push(plan.candidateId);
              }
              return out;
            },
            taken === 'recorded' ? undefined : taken,
          );
    if (forked === null) {
      const { state } = await this.load(campaignId);
      this.logger.warn(`campaign ${campaignId}: round ${round} not forked, ${state.snapshotLost !== null ? `the snapshot is lost: ${state.snapshotLost}` : 'the substrate was rejected'}`);
      return [];
    }
    if (forked.length > 0) this.logger.log(`campaign ${campaignId}: round ${round} forked ${forked.length} sandbox(es)`);
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
    if (bad.length > 0) throw new DomainError('INVALID_ARGUMENT', `VerifySandbox: ${bad.length} path(s) do not stay inside the sandbox`, bad);
    const { state } = await this.load(campaignId);
    const c = state.candidates[candidateId];
    if (!c)
      throw new DomainError('CANDIDATE_NOT_FOUND', `no candidate ${candidateId} in campaign ${campaignId}`, [
        { path: 'candidateId', message: 'not planned by any RoundStarted of this campaign' },
      ]);
    if (c.status === 'planned' || c.sandboxPath === null || !state.snapshot)
      throw new DomainError('NOT_FORKED', `candidate ${candidateId} has no sandbox yet`, [{ path: 'candidateId', message: 'not forked yet' }]);
    if (c.status === 'collected')
      throw new DomainError('SANDBOX_COLLECTED', `the sandbox of ${candidateId} was garbage-collected`, [{ path: 'candidateId', message: 'sandbox collected' }]);
    const sandboxPath = c.sandboxPath;
    const pins = state.snapshot.frozenSha256;
    const checked = await this.withIntactSnapshot(campaignId, 'verify', opts, async (snapshot) => ({
      snapshot,
      violations: this.explainDamagedLinks(snapshot.snapshotId, sandboxPath, await verifySandbox(sandboxPath, snapshot, { paths, hashCache: this.hashCache, pins })),
    }));
    if (!checked) {
      const lost = (await this.load(campaignId)).state.snapshotLost ?? 'unknown damage';
      throw new DomainError('SNAPSHOT_DAMAGED', `the snapshot of campaign ${campaignId} is damaged beyond repair: ${lost}`, [
        { path: 'campaignId', message: 'its snapshot no longer matches SubstrateSnapshotted and cannot be rebuilt' },
      ]);
    }
    const { snapshot, violations } = checked;
    const wasInvalid = c.status === 'invalidated';
    const out = await this.execute<SandboxVerification>(
      campaignId,
      { kind: 'RecordVerification', candidateId, checkedAt, violations },
      {
        ...opts,
        result: (events) => ({ candidateId, sandboxPath, snapshotId: snapshot.snapshotId, valid: violations.length === 0 && !wasInvalid, violations, recorded: events.length }),
      },
    );
    if (out.events.length > 0) this.logger.warn(`campaign ${campaignId}: ${candidateId} invalidated: ${violations.map((v) => `${v.kind} ${v.path}`).join(', ')}`);
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
        : { ...v, detail: `${v.detail}; it is a hard link to the damaged snapshot copy quarantined at ${q} (SnapshotDamaged): the snapshot was rebuilt, this sandbox was forked before` };
    });
  }

  /** The round-close check: a candidate's sandbox as it is when its worker hands in the manifest. */
  async verifyAtRoundClose(campaignId: string, candidateId: string, cause: Cause = {}): Promise<SandboxVerification | null> {
    const { state } = await this.load(campaignId);
    const c = state.candidates[candidateId];
    if (!c || c.status === 'planned' || c.status === 'collected') {
      this.logger.warn(`campaign ${campaignId}: manifest of ${candidateId} arrived but it has no sandbox to verify (${c?.status ?? 'unknown'})`);
      return null;
    }
    if (state.snapshotLost !== null) {
      // Retrying would not help: the campaign is being aborted for it.
      this.logger.warn(`campaign ${campaignId}: ${candidateId} not checked at round close, the snapshot is lost: ${state.snapshotLost}`);
      return null;
    }
    try {
      return await this.verify(campaignId, candidateId, 'round-close', [], { ...cause, commandId: `substrate:verify-close:${campaignId}:${candidateId}` });
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
    const { state } = await this.load(campaignId);
    for (const candidateId of collectable(state, this.config.gc).collect) {
      const fresh = (await this.load(campaignId)).state;
      if (!collectable(fresh, this.config.gc).collect.includes(candidateId)) continue;
      const sandboxPath = fresh.candidates[candidateId].sandboxPath!;
      const bytesFreed = removeSandbox(sandboxPath);
      await this.execute(campaignId, { kind: 'CollectSandbox', candidateId, bytesFreed }, { ...cause, commandId: `substrate:collect:${campaignId}:${candidateId}` });
      collected.push(candidateId);
    }
    if (collected.length > 0) this.logger.log(`campaign ${campaignId}: collected ${collected.length} sandbox(es): ${collected.join(', ')}`);
    return collected;
  }
}

export function causeOf(e: StoredEvent | EventEnvelope): Cause {
  return { causationId: e.id, correlationId: e.correlationId ?? e.id };
}

export function substrateConfigFromEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SubstrateConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) problems.push(`${name}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const bool = (name: string, fallback: boolean) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    problems.push(`${name}: expected true or false, got ${JSON.stringify(raw)}`);
    return fallback;
  };
  const config: SubstrateConfig = {
    home: path.resolve(cwd, env.AEVO_HOME || '.aevo'),
    substrateRoot: path.resolve(cwd, env.AEVO_SUBSTRATE_ROOT || '.'),
    gc: {
      keepLastRounds: int('AEVO_GC_KEEP_ROUNDS', DEFAULT_GC_POLICY.keepLastRounds, 1),
      keepWinners: bool('AEVO_GC_KEEP_WINNERS', DEFAULT_GC_POLICY.keepWinners),
      keepInvalidated: bool('AEVO_GC_KEEP_INVALIDATED', DEFAULT_GC_POLICY.keepInvalidated),
    },
  };
  if (problems.length > 0) throw new Error(`substrate service configuration: ${problems.join('; ')}`);
  return config;
}
