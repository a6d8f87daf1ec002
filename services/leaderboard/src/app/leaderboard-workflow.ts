import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  DevScores,
  DomainError,
  SubstrateManifest,
  describeIssues,
  sha256Hex,
  zodIssues,
  type CampaignStarted,
  type CandidateForked,
  type DataOf,
  type EventOf,
  type JobCancelled,
  type JobFailed,
  type JobSpec,
  type JobSucceeded,
  type SubmissionRequested,
  type SubstrateSnapshotted,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { frozenCommand } from '@aevo/executors';
import { KaggleAuthError, KagglePollTimeoutError, KaggleQuotaExceededError } from '@aevo/kaggle';
import { entrypointIsolation, renderEntrypoint } from '@aevo/substrate-kit';
import { deriveSecretSeed, parseHiddenSplit, promptsOnlyCsv, splitPredictions } from '../domain/hidden-split';
import { readTable } from '../domain/csv';
import {
  LEADERBOARD_EVENTS,
  leaderboardDecider,
  parsePredictJobId,
  predictJobId,
  type LeaderboardCommand,
  type LeaderboardEvent,
  type LeaderboardState,
} from '../domain/leaderboard';
import { dataEventsOf, handle, withEnvelopes } from '@aevo/eventstore';
import { describeResult, runCommand } from './run-command';
import type { SealedScoreStore } from './sealed-scores';
import type { KaggleBoard } from './kaggle-board';
import { checkFrozenSnapshot, type FrozenSnapshot } from './frozen-snapshot';

export interface LeaderboardConfig {
  /** Hidden splits live in `<aevoHome>/leaderboard/<campaignId>/`, outside every sandbox. */
  aevoHome: string;
  /** AEVO_LEADERBOARD_SECRET; when absent a random secret is kept in `<aevoHome>/leaderboard/.secret` (mode 0600). */
  secret?: string;
  /** Deadline of one generate/score command. */
  commandTimeoutMs: number;
  /** Predict job timeout when the entrypoint declares none. */
  defaultPredictTimeoutSeconds: number;
  defaultSize: string;
  /**
   * AEVO_UNSANDBOXED_JOBS set to its opt-in value: generate and score run unconfined (still from the snapshot, with a
   * clean environment). Otherwise each runs in bubblewrap, seeing only its own inputs and outputs.
   */
  unsandboxed?: boolean;
  /** bubblewrap's path (AEVO_BWRAP); default /usr/bin/bwrap. */
  bwrapPath?: string;
  kaggle?: {
    board: KaggleBoard | null;
    /** Why no board could be built (missing credentials or competition), reported as LeaderboardUnavailable. */
    problem: string | null;
    /** The competition's test prompts (id,prompt) that predict answers. */
    promptsPath: string | null;
  };
}

export const streamIdOf = (campaignId: string) => `leaderboard:${campaignId}`;
const KNOWN: ReadonlySet<string> = LEADERBOARD_EVENTS.types;

type TerminalEvent = EventOf<typeof JobSucceeded> | EventOf<typeof JobFailed> | EventOf<typeof JobCancelled>;
type Snapshotted = DataOf<typeof SubstrateSnapshotted>;
type Cause = { id: string; correlationId: string | null };
type Half = 'public' | 'private';

/** Searchable, not listable: a predict job on its own uid must reach its prompts and output directory below. */
const PASS_THROUGH = 0o711;

async function ensureDir(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  const st = await fs.stat(dir);
  if ((st.mode & 0o777) !== mode) await fs.chmod(dir, mode);
}

/**
 * The leaderboard's use cases, free of Nest and NATS. The hidden answers stay in `<aevoHome>/leaderboard/<campaign>/hidden`
 * and the sealed table; only prompts reach a predict job, only public scores reach an event.
 */
export class LeaderboardWorkflow {
  private readonly polls = new Map<string, Promise<void>>();

  constructor(
    private readonly store: EventStore,
    private readonly sealed: SealedScoreStore,
    private readonly cfg: LeaderboardConfig,
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  private get home(): string {
    return path.resolve(this.cfg.aevoHome);
  }
  boardDir(campaignId: string): string {
    return path.join(this.home, 'leaderboard', campaignId);
  }
  private hiddenDir(campaignId: string) {
    return path.join(this.boardDir(campaignId), 'hidden');
  }
  private promptsPath(campaignId: string) {
    return path.join(this.boardDir(campaignId), 'prompts.csv');
  }
  private submissionDir(campaignId: string, submissionId: string) {
    return path.join(this.boardDir(campaignId), 'submissions', submissionId);
  }
  /** The predict job's only writable directory: nothing else lives there. */
  predictionsPath(campaignId: string, submissionId: string): string {
    return path.join(this.submissionDir(campaignId, submissionId), 'predict', 'predictions.csv');
  }
  /** One half's score: its predictions (input) and a scores directory (the score command's only output). */
  private halfDir(campaignId: string, submissionId: string, half: Half) {
    return path.join(this.submissionDir(campaignId, submissionId), half);
  }
  private snapshotDir(snapshotId: string) {
    return path.join(this.home, 'snapshots', snapshotId);
  }
  /** The leaderboard's directories: every one searchable by a job's uid, none listable. */
  private async ensureBoardDirs(campaignId: string, ...below: string[]): Promise<void> {
    await ensureDir(path.join(this.home, 'leaderboard'), PASS_THROUGH);
    let dir = this.boardDir(campaignId);
    await ensureDir(dir, PASS_THROUGH);
    for (const name of below) {
      dir = path.join(dir, name);
      await ensureDir(dir, PASS_THROUGH);
    }
  }

  async state(campaignId: string): Promise<LeaderboardState> {
    const stored = await this.store.readStream(streamIdOf(campaignId));
    return stored
      .filter((x) => KNOWN.has(x.type))
      .reduce(
        (s, x) => leaderboardDecider.evolve(s, { type: x.type, data: x.data } as LeaderboardEvent),
        leaderboardDecider.initialState(),
      );
  }

  private async decide(
    campaignId: string,
    command: LeaderboardCommand,
    cause: { id: string; correlationId: string | null } | null,
  ): Promise<LeaderboardEvent[]> {
    const ctx = {
      campaignId,
      streamId: streamIdOf(campaignId),
      source: 'leaderboard' as const,
      causationId: cause?.id ?? null,
      correlationId: cause?.correlationId ?? null,
    };
    return dataEventsOf(await handle(this.store, ctx.streamId, withEnvelopes(leaderboardDecider, ctx, KNOWN), command));
  }

  // ── campaign start ────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Kaggle boards open here. A local board opens from the campaign's snapshot, so here only when the
   * SubstrateSnapshotted is already stored (otherwise its handler opens it); both paths are idempotent by state.
   */
  async onCampaignStarted(e: EventOf<typeof CampaignStarted>): Promise<LeaderboardEvent[]> {
    const cfg = e.data.config;
    const s = await this.state(e.campaignId);
    if (s.board || s.unavailable) return [];
    const cause = { id: e.id, correlationId: e.correlationId };
    const quota = cfg.budgets.submissionsPerRound;
    if (cfg.leaderboard === 'kaggle') {
      const k = this.cfg.kaggle;
      const problem = !k?.board
        ? (k?.problem ?? 'the Kaggle board is not configured')
        : !k.promptsPath
          ? 'AEVO_KAGGLE_PROMPTS (the competition’s test prompts, id,prompt) is not set'
          : null;
      if (problem)
        return this.decide(e.campaignId, { type: 'MarkUnavailable', board: 'kaggle', reason: problem }, cause);
      let prompts: number;
      try {
        const text = await fs.readFile(k!.promptsPath!, 'utf8');
        prompts = readTable(text, ['id', 'prompt'], k!.promptsPath!).length;
        await this.ensureBoardDirs(e.campaignId);
        await fs.writeFile(this.promptsPath(e.campaignId), text);
      } catch (err) {
        return this.decide(
          e.campaignId,
          { type: 'MarkUnavailable', board: 'kaggle', reason: `Kaggle prompts unusable: ${(err as Error).message}` },
          cause,
        );
      }
      return this.decide(
        e.campaignId,
        {
          type: 'OpenLeaderboard',
          opened: {
            board: 'kaggle',
            submissionsPerRound: quota,
            competition: k!.board!.competition,
            prompts,
            splitSha256: null,
          },
        },
        cause,
      );
    }
    const snapshot = await this.snapshotted(e.campaignId);
    if (!snapshot) return [];
    return this.openLocal(e.campaignId, quota, snapshot, cause);
  }

  /** The campaign's substrate was frozen: a local board opens from that snapshot (never from the source directory). */
  async onSubstrateSnapshotted(e: EventOf<typeof SubstrateSnapshotted>): Promise<LeaderboardEvent[]> {
    const s = await this.state(e.campaignId);
    if (s.board || s.unavailable) return [];
    // The snapshot is taken on CampaignStarted, which is stored before it; its handler opens the board otherwise.
    const started = (
      await this.store.readAll({ campaignId: e.campaignId, types: ['CampaignStarted'], limit: 1 })
    )[0] as EventOf<typeof CampaignStarted> | undefined;
    if (!started || started.data.config.leaderboard !== 'local') return [];
    return this.openLocal(e.campaignId, started.data.config.budgets.submissionsPerRound, e.data, {
      id: e.id,
      correlationId: e.correlationId,
    });
  }

  private readonly opening = new Map<string, Promise<LeaderboardEvent[]>>();
  /** One opening per campaign at a time in this process: CampaignStarted and SubstrateSnapshotted may arrive together. */
  private openLocal(
    campaignId: string,
    quota: number,
    snapshot: Snapshotted,
    cause: Cause,
  ): Promise<LeaderboardEvent[]> {
    const running = this.opening.get(campaignId);
    if (running) return running.then(() => []);
    const p = this.openLocalOnce(campaignId, quota, snapshot, cause).finally(() => this.opening.delete(campaignId));
    this.opening.set(campaignId, p);
    return p;
  }

  private async openLocalOnce(
    campaignId: string,
    quota: number,
    snapshot: Snapshotted,
    cause: Cause,
  ): Promise<LeaderboardEvent[]> {
    const s = await this.state(campaignId);
    if (s.board || s.unavailable) return [];
    try {
      const frozen = await this.frozenSnapshot(snapshot);
      const split = await this.generateHiddenSplit(campaignId, frozen);
      return this.decide(
        campaignId,
        {
          type: 'OpenLeaderboard',
          opened: {
            board: 'local',
            submissionsPerRound: quota,
            competition: null,
            prompts: split.prompts,
            splitSha256: split.sha256,
          },
        },
        cause,
      );
    } catch (err) {
      const reason = err instanceof DomainError ? err.message.split('\n')[0] : (err as Error).message;
      this.log(`campaign ${campaignId}: local leaderboard unavailable: ${reason}`);
      return this.decide(campaignId, { type: 'MarkUnavailable', board: 'local', reason }, cause);
    }
  }

  private readonly snapshottedCache = new Map<string, Snapshotted>();
  /** The campaign's SubstrateSnapshotted, or null while the substrate service has not announced one. */
  private async snapshotted(campaignId: string): Promise<Snapshotted | null> {
    const cached = this.snapshottedCache.get(campaignId);
    if (cached) return cached;
    const e = (await this.store.readAll({ campaignId, types: ['SubstrateSnapshotted'], limit: 1 }))[0];
    if (!e) return null;
    const data = e.data as Snapshotted;
    this.snapshottedCache.set(campaignId, data);
    return data;
  }

  private readonly verified = new Map<string, Promise<FrozenSnapshot>>();
  /**
   * The snapshot at `<AEVO_HOME>/snapshots/<id>`, once its pinned files are checked against the event's hashes: once
   * per snapshot id and process (a snapshot id names its content). A failed check is not remembered.
   */
  private frozenSnapshot(snapshot: Snapshotted): Promise<FrozenSnapshot> {
    let p = this.verified.get(snapshot.snapshotId);
    if (!p) {
      p = checkFrozenSnapshot(this.snapshotDir(snapshot.snapshotId), snapshot.snapshotId, snapshot.frozenSha256);
      p.catch(() => this.verified.delete(snapshot.snapshotId));
      this.verified.set(snapshot.snapshotId, p);
    }
    return p;
  }

  /** generate and score: the snapshot's frozen harness, each in a sandbox of its own unless the operator opted out. */
  private frozen(snapshot: FrozenSnapshot, argv: string[], io: { outputs: string[]; inputs: string[] }) {
    return frozenCommand(argv, {
      home: this.home,
      snapshotPath: snapshot.dir,
      ...io,
      unsandboxed: this.cfg.unsandboxed,
      bwrapPath: this.cfg.bwrapPath,
    });
  }

  /**
   * Runs the snapshot's `leaderboard.generate` with the secret seed into a fresh directory (its only output; the seed
   * file its only input), then publishes the prompts-only file. Re-running for the same campaign reuses the split.
   */
  private async generateHiddenSplit(
    campaignId: string,
    snapshot: FrozenSnapshot,
  ): Promise<{ prompts: number; sha256: string }> {
    if (!snapshot.manifest.leaderboard)
      throw new Error(`substrate ${snapshot.manifest.name} declares no leaderboard section`);
    const hidden = this.hiddenDir(campaignId);
    const exists = await fs.stat(path.join(hidden, 'private.csv')).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await this.ensureBoardDirs(campaignId);
      const tmp = `${hidden}.tmp-${randomBytes(4).toString('hex')}`;
      await fs.mkdir(tmp, { mode: 0o700 });
      const secretSeed = deriveSecretSeed(await this.secret(), campaignId);
      // Through a 0600 file in the board's directory: an argv is readable by every user in the process list.
      const seedFile = `${tmp}.seed`;
      await fs.writeFile(seedFile, `${secretSeed}\n`, { mode: 0o600 });
      const logFile = path.join(this.boardDir(campaignId), 'logs', 'generate.log');
      let r: Awaited<ReturnType<typeof runCommand>>;
      try {
        const argv = renderEntrypoint(snapshot.manifest, 'leaderboard.generate', {
          secret_seed: secretSeed,
          secret_seed_file: seedFile,
          out_dir: tmp,
          size: this.cfg.defaultSize,
        });
        const cmd = this.frozen(snapshot, argv, { outputs: [tmp], inputs: [seedFile] });
        r = await runCommand(cmd.argv, {
          cwd: cmd.cwd,
          env: cmd.env,
          logFile,
          timeoutMs: this.cfg.commandTimeoutMs,
          redact: [String(secretSeed)],
        });
      } catch (err) {
        await fs.rm(tmp, { recursive: true, force: true });
        throw err;
      } finally {
        await fs.rm(seedFile, { force: true });
      }
      if (r.exitCode !== 0) {
        await fs.rm(tmp, { recursive: true, force: true });
        throw new Error(describeResult('leaderboard.generate', r, logFile));
      }
      await fs.rename(tmp, hidden).catch(async (err) => {
        await fs.rm(tmp, { recursive: true, force: true });
        if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST')
          throw err;
      });
    }
    const pubText = await fs.readFile(path.join(hidden, 'public.csv'), 'utf8');
    const privText = await fs.readFile(path.join(hidden, 'private.csv'), 'utf8');
    const pub = parseHiddenSplit(pubText, 'public.csv');
    const priv = parseHiddenSplit(privText, 'private.csv');
    this.hiddenIdsCache.set(campaignId, { public: pub.map((r) => r.id), private: priv.map((r) => r.id) });
    await fs.writeFile(this.promptsPath(campaignId), promptsOnlyCsv(pub, priv), { mode: 0o644 });
    return { prompts: pub.length + priv.length, sha256: sha256Hex(`${pubText}\u0000${privText}`) };
  }

  private async secret(): Promise<string> {
    if (this.cfg.secret) return this.cfg.secret;
    const file = path.join(path.resolve(this.cfg.aevoHome), 'leaderboard', '.secret');
    try {
      return (await fs.readFile(file, 'utf8')).trim();
    } catch {
      await ensureDir(path.dirname(file), PASS_THROUGH);
      // 'wx': two replicas racing both end up reading the one secret that won.
      await fs.writeFile(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' }).catch((err) => {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      });
      return (await fs.readFile(file, 'utf8')).trim();
    }
  }

  // ── submissions ───────────────────────────────────────────────────────────────────────────────────────────

  async onSubmissionRequested(e: EventOf<typeof SubmissionRequested>): Promise<LeaderboardEvent[]> {
    const s = await this.state(e.campaignId);
    if (s.submissions[e.data.submissionId]) return [];
    const violation = (await this.store.readAll({ campaignId: e.campaignId, types: ['FrozenPathViolated'] })).find(
      (v) => (v.data as { candidateId: string }).candidateId === e.data.candidateId,
    );
    const invalidated = violation
      ? `${(violation.data as { path: string }).path}: ${(violation.data as { kind: string }).kind}`
      : null;
    const predict =
      s.board && !invalidated ? await this.buildPredictJob(e) : { ok: false as const, problem: 'not built' };
    return this.decide(
      e.campaignId,
      { type: 'RequestSubmission', request: e.data, predict, invalidated },
      { id: e.id, correlationId: e.correlationId },
    );
  }

  /**
   * The predict job, rendered from the manifest of the snapshot the candidate was forked from (never the sandbox's):
   * it may read the prompts file and write only a predictions directory of its own; the answers are not in its view.
   */
  private async buildPredictJob(
    e: EventOf<typeof SubmissionRequested>,
  ): Promise<{ ok: true; job: JobSpec } | { ok: false; problem: string }> {
    const r = e.data;
    const sandbox = path.resolve(r.sandboxPath);
    const checkpoint = path.resolve(sandbox, r.checkpoint);
    if (checkpoint !== sandbox && !checkpoint.startsWith(sandbox + path.sep))
      return { ok: false, problem: `checkpoint: expected a path inside the sandbox ${sandbox}, got ${r.checkpoint}` };
    if (
      !(await fs.stat(checkpoint).then(
        (st) => st.isDirectory(),
        () => false,
      ))
    )
      return { ok: false, problem: `checkpoint: ${r.checkpoint} is not a directory of the sandbox ${sandbox}` };
    const fork = (await this.store.readAll({ campaignId: e.campaignId, types: ['CandidateForked'] }))
      .map((x) => x.data as DataOf<typeof CandidateForked>)
      .find((d) => d.candidateId === r.candidateId);
    if (!fork)
      return {
        ok: false,
        problem: `candidate ${r.candidateId} has no CandidateForked: the snapshot its sandbox came from is unknown`,
      };
    if (path.resolve(fork.sandboxPath) !== sandbox)
      return {
        ok: false,
        problem: `sandboxPath: expected candidate ${r.candidateId}'s sandbox ${fork.sandboxPath}, got ${r.sandboxPath}`,
      };
    const snapshotDir = this.snapshotDir(fork.snapshotId);
    let manifest: SubstrateManifest;
    try {
      const parsed = SubstrateManifest.safeParse(
        parseYaml(await fs.readFile(path.join(snapshotDir, 'substrate.yaml'), 'utf8')),
      );
      if (!parsed.success)
        return {
          ok: false,
          problem: `snapshot ${fork.snapshotId} substrate.yaml does not validate: ${describeIssues(zodIssues(parsed.error))}`,
        };
      manifest = parsed.data;
    } catch (err) {
      return {
        ok: false,
        problem: `snapshot ${fork.snapshotId} has no readable substrate.yaml in ${snapshotDir}: ${(err as Error).message}`,
      };
    }
    await this.ensureBoardDirs(e.campaignId, 'submissions', r.submissionId);
    const predictions = this.predictionsPath(e.campaignId, r.submissionId);
    await fs.mkdir(path.dirname(predictions), { recursive: true, mode: 0o755 });
    await fs.rm(predictions, { force: true });
    const info = await fs
      .readFile(path.join(checkpoint, 'checkpoint.json'), 'utf8')
      .then((t) => JSON.parse(t) as { size?: unknown; seed?: unknown })
      .catch(() => null);
    const values = {
      sandbox,
      recipe: path.join(sandbox, manifest.recipe),
      checkpoint,
      prompts: this.promptsPath(e.campaignId),
      predictions,
      seed: typeof info?.seed === 'number' ? info.seed : 0,
      size: typeof info?.size === 'string' ? info.size : this.cfg.defaultSize,
      device: manifest.resources.predict.gpu > 0 ? 'cuda' : 'cpu',
    };
    let argv: string[];
    let isolation: JobSpec['isolation'];
    try {
      argv = renderEntrypoint(manifest, 'predict', values);
      // No value for {answers} is ever given: a predict entrypoint that declares it cannot be rendered.
      isolation = { snapshotId: fork.snapshotId, ...entrypointIsolation(manifest, 'predict', values) };
    } catch (err) {
      return { ok: false, problem: `predict entrypoint cannot be rendered: ${(err as Error).message}` };
    }
    return {
      ok: true,
      job: {
        jobId: predictJobId(r.submissionId),
        candidateId: r.candidateId,
        round: r.round,
        entrypoint: 'predict',
        sandboxPath: sandbox,
        argv,
        env: {},
        resources: manifest.resources.predict,
        timeoutSeconds: manifest.entrypoints.predict.timeoutSeconds ?? this.cfg.defaultPredictTimeoutSeconds,
        priority: 'high',
        isolation,
      },
    };
  }

  async onJobTerminal(e: TerminalEvent): Promise<LeaderboardEvent[]> {
    const submissionId = parsePredictJobId(e.data.jobId);
    if (!submissionId) return [];
    const s = await this.state(e.campaignId);
    const sub = s.submissions[submissionId];
    if (!s.board || !sub || sub.outcome !== 'pending') return [];
    const cause = { id: e.id, correlationId: e.correlationId };
    const reject = (reason: 'invalid-predictions' | 'board-error' | 'quota-exceeded', message: string) =>
      this.decide(e.campaignId, { type: 'RecordRejection', submissionId, reason, message }, cause);

    if (e.type === 'JobFailed') {
      const d = e.data as EventOf<typeof JobFailed>['data'];
      return reject(
        'invalid-predictions',
        `predict job ${d.jobId} failed (${d.reason}${d.exitCode !== null ? `, exit ${d.exitCode}` : ''}): ${d.message}`,
      );
    }
    if (e.type === 'JobCancelled')
      return reject(
        'board-error',
        `predict job ${e.data.jobId} was cancelled: ${(e.data as EventOf<typeof JobCancelled>['data']).reason}`,
      );

    const predictionsPath = this.predictionsPath(e.campaignId, submissionId);
    const predictions = await fs.readFile(predictionsPath, 'utf8').catch(() => null);
    if (predictions === null)
      return reject('invalid-predictions', `predict exited 0 but wrote no predictions file at ${predictionsPath}`);

    if (s.board.board === 'kaggle')
      return this.submitToKaggle(e.campaignId, submissionId, Buffer.from(predictions), cause);
    return this.scoreLocally(e.campaignId, submissionId, predictions, cause, reject);
  }

  private async scoreLocally(
    campaignId: string,
    submissionId: string,
    predictions: string,
    cause: Cause,
    reject: (reason: 'invalid-predictions' | 'board-error', message: string) => Promise<LeaderboardEvent[]>,
  ): Promise<LeaderboardEvent[]> {
    const hidden = this.hiddenDir(campaignId);
    const ids = await this.hiddenIds(campaignId);
    let halves: { publicCsv: string; privateCsv: string };
    try {
      halves = splitPredictions(predictions, ids.public, ids.private);
    } catch (err) {
      return reject('invalid-predictions', (err as Error).message);
    }
    let snapshot: FrozenSnapshot;
    try {
      const snapshotted = await this.snapshotted(campaignId);
      if (!snapshotted) throw new Error(`campaign ${campaignId} has no SubstrateSnapshotted`);
      snapshot = await this.frozenSnapshot(snapshotted);
    } catch (err) {
      return reject('board-error', `the campaign's snapshot cannot judge: ${(err as Error).message.split('\n')[0]}`);
    }
    const dir = this.submissionDir(campaignId, submissionId);
    await this.ensureBoardDirs(campaignId, 'submissions', submissionId);
    // The two halves are independent processes, each seeing only its own predictions and answers and writing only
    // its own scores directory: run them together, since a round's last submission is scored while the GPU slots
    // wait for the next round (bench/campaign). Checked public first.
    const runs = await Promise.all(
      (['public', 'private'] as const).map(async (half) => {
        const logFile = path.join(dir, `score-${half}.log`);
        const halfDir = this.halfDir(campaignId, submissionId, half);
        const scoresDir = path.join(halfDir, 'scores');
        const predFile = path.join(halfDir, 'predictions.csv');
        const scoresFile = path.join(scoresDir, 'scores.json');
        try {
          await fs.rm(halfDir, { recursive: true, force: true });
          await fs.mkdir(scoresDir, { recursive: true, mode: 0o700 });
          await fs.writeFile(predFile, half === 'public' ? halves.publicCsv : halves.privateCsv, { mode: 0o600 });
          const answers = path.join(hidden, `${half}.csv`);
          const argv = renderEntrypoint(snapshot.manifest, 'leaderboard.score', {
            predictions: predFile,
            answers,
            scores: scoresFile,
            split: half,
            size: this.cfg.defaultSize,
          });
          const cmd = this.frozen(snapshot, argv, { outputs: [scoresDir], inputs: [predFile, answers] });
          const r = await runCommand(cmd.argv, {
            cwd: cmd.cwd,
            env: cmd.env,
            logFile,
            timeoutMs: this.cfg.commandTimeoutMs,
          });
          return {
            half,
            problem: r.exitCode !== 0 ? describeResult(`leaderboard.score (${half} half)`, r, logFile) : null,
            scoresFile,
          };
        } catch (err) {
          return {
            half,
            problem: `leaderboard.score (${half} half) could not run: ${(err as Error).message.split('\n')[0]}`,
            scoresFile,
          };
        }
      }),
    );
    const scores: Record<Half, DevScores> = {} as never;
    for (const { half, problem, scoresFile } of runs) {
      if (problem) return reject('board-error', problem);
      const parsed = DevScores.safeParse(await fs.readFile(scoresFile, 'utf8').then(JSON.parse, () => undefined));
      if (!parsed.success)
        return reject(
          'board-error',
          `leaderboard.score wrote invalid ${half} scores: ${describeIssues(zodIssues(parsed.error))}`,
        );
      scores[half] = parsed.data;
    }
    const domains = (d: DevScores) => Object.fromEntries(Object.entries(d.domains).map(([k, v]) => [k, v.score]));
    // Sealed before the public score is recorded: a crash in between re-scores and re-seals the same value.
    await this.sealed.seal({
      campaignId,
      submissionId,
      board: 'local',
      privateScore: scores.private.overall,
      privateDomains: domains(scores.private),
    });
    return this.decide(
      campaignId,
      {
        type: 'RecordPublicScore',
        submissionId,
        publicScore: scores.public.overall,
        publicDomains: domains(scores.public),
      },
      cause,
    );
  }

  private readonly hiddenIdsCache = new Map<string, { public: string[]; private: string[] }>();
  /**
   * The ids of each hidden half; the split never changes once published, so it is parsed once per campaign (when
   * it is generated, or on the first submission a restarted process scores).
   */
  private async hiddenIds(campaignId: string): Promise<{ public: string[]; private: string[] }> {
    const cached = this.hiddenIdsCache.get(campaignId);
    if (cached) return cached;
    const hidden = this.hiddenDir(campaignId);
    const ids = {
      public: parseHiddenSplit(await fs.readFile(path.join(hidden, 'public.csv'), 'utf8'), 'public.csv').map(
        (r) => r.id,
      ),
      private: parseHiddenSplit(await fs.readFile(path.join(hidden, 'private.csv'), 'utf8'), 'private.csv').map(
        (r) => r.id,
      ),
    };
    this.hiddenIdsCache.set(campaignId, ids);
    return ids;
  }

  // ── Kaggle ─────────────────────────────────────────────────────────────────────────────────────────────────

  private async submitToKaggle(
    campaignId: string,
    submissionId: string,
    content: Buffer,
    cause: { id: string; correlationId: string | null },
  ): Promise<LeaderboardEvent[]> {
    const board = this.cfg.kaggle?.board;
    const reject = (reason: 'quota-exceeded' | 'board-error', message: string) =>
      this.decide(campaignId, { type: 'RecordRejection', submissionId, reason, message }, cause);
    if (!board)
      return reject('board-error', this.cfg.kaggle?.problem ?? 'the Kaggle board is not configured in this replica');
    let ref: string;
    try {
      ref = (await board.submit(campaignId, submissionId, content)).ref;
    } catch (err) {
      if (err instanceof KaggleQuotaExceededError)
        return reject('quota-exceeded', `Kaggle refused the submission (allowance used up): ${err.serverMessage}`);
      if (err instanceof KaggleAuthError)
        return reject('board-error', `Kaggle refused the credentials (HTTP ${err.status}): ${err.serverMessage}`);
      return reject('board-error', (err as Error).message);
    }
    const events = await this.decide(
      campaignId,
      { type: 'RecordBoardAccepted', submissionId, externalRef: ref },
      cause,
    );
    this.startPolling(campaignId, submissionId, ref);
    return events;
  }

  /** Polls one Kaggle submission in the background until it is scored or rejected (bounded by the poll options). */
  startPolling(campaignId: string, submissionId: string, ref: string): Promise<void> {
    const key = `${campaignId}/${submissionId}`;
    const running = this.polls.get(key);
    if (running) return running;
    const p = this.pollKaggle(campaignId, submissionId, ref)
      .catch((err) => this.log(`polling Kaggle submission ${ref} (${key}) failed: ${String(err)}`))
      .finally(() => this.polls.delete(key));
    this.polls.set(key, p);
    return p;
  }

  /** Resumes polling for every Kaggle submission accepted but not yet scored (after a restart). */
  async resumeKagglePolls(): Promise<number> {
    if (!this.cfg.kaggle?.board) return 0;
    const opened = await this.store.readAll({ types: ['LeaderboardOpened'] });
    let n = 0;
    for (const o of opened) {
      if ((o.data as { board: string }).board !== 'kaggle') continue;
      const s = await this.state(o.campaignId);
      for (const sub of Object.values(s.submissions))
        if (sub.accepted && sub.outcome === 'pending' && sub.externalRef) {
          void this.startPolling(o.campaignId, sub.submissionId, sub.externalRef);
          n++;
        }
    }
    return n;
  }

  async idle(): Promise<void> {
    await Promise.all([...this.polls.values()]);
  }

  private async pollKaggle(campaignId: string, submissionId: string, ref: string): Promise<void> {
    const board = this.cfg.kaggle!.board!;
    const record = (command: LeaderboardCommand) => this.decide(campaignId, command, null);
    let done;
    try {
      done = await board.wait(ref);
    } catch (err) {
      const msg =
        err instanceof KagglePollTimeoutError
          ? `Kaggle did not score submission ${ref}: ${err.message}`
          : `polling Kaggle submission ${ref} failed: ${(err as Error).message}`;
      await record({ type: 'RecordRejection', submissionId, reason: 'board-error', message: msg });
      return;
    }
    if (done.status === 'ERROR') {
      await record({
        type: 'RecordRejection',
        submissionId,
        reason: 'invalid-predictions',
        message: `Kaggle scored submission ${ref} as ERROR: ${done.errorDescription ?? 'no description'}`,
      });
      return;
    }
    if (done.publicScore === null) {
      await record({
        type: 'RecordRejection',
        submissionId,
        reason: 'board-error',
        message: `Kaggle marked submission ${ref} COMPLETE without a public score`,
      });
      return;
    }
    await this.sealed.seal({
      campaignId,
      submissionId,
      board: 'kaggle',
      privateScore: done.privateScore,
      privateDomains: null,
    });
    await record({ type: 'RecordPublicScore', submissionId, publicScore: done.publicScore, publicDomains: null });
  }

  // ── final audit ────────────────────────────────────────────────────────────────────────────────────────────

  /** Reveals the sealed private scores (idempotent: a second call returns the scores already revealed). */
  async unseal(campaignId: string, commandId: string): Promise<{ alreadyUnsealed: boolean; scores: unknown[] }> {
    const s = await this.state(campaignId);
    if (!s.board && !s.unavailable)
      throw new DomainError('UNKNOWN_CAMPAIGN', `no leaderboard was opened for campaign ${campaignId}`, [
        { path: 'payload.campaignId', message: 'no LeaderboardOpened for it' },
      ]);
    if (!s.unsealed && s.board?.board === 'kaggle' && this.cfg.kaggle?.board) {
      // Kaggle reveals private scores only after the competition closes; fetch the latest before unsealing.
      for (const sub of Object.values(s.submissions)) {
        if (sub.outcome !== 'scored' || !sub.externalRef) continue;
        const latest = await this.cfg.kaggle.board.get(sub.externalRef).catch(() => null);
        if (latest?.privateScore != null)
          await this.sealed.seal({
            campaignId,
            submissionId: sub.submissionId,
            board: 'kaggle',
            privateScore: latest.privateScore,
            privateDomains: null,
          });
      }
    }
    const rows = (await this.sealed.list(campaignId)).filter((r) => r.privateScore !== null);
    const events = await this.decide(
      campaignId,
      {
        type: 'Unseal',
        sealed: rows.map((r) => ({
          submissionId: r.submissionId,
          privateScore: r.privateScore!,
          privateDomains: r.privateDomains,
        })),
      },
      { id: commandId, correlationId: null },
    );
    if (events.length > 0) return { alreadyUnsealed: false, scores: (events[0].data as { scores: unknown[] }).scores };
    const prior = (await this.store.readStream(streamIdOf(campaignId))).find(
      (x) => x.type === 'PrivateLeaderboardUnsealed',
    );
    return { alreadyUnsealed: true, scores: prior ? (prior.data as { scores: unknown[] }).scores : [] };
  }
}
