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
  type EventOf,
  type JobCancelled,
  type JobFailed,
  type JobSpec,
  type JobSucceeded,
  type SubmissionRequested,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { KaggleAuthError, KagglePollTimeoutError, KaggleQuotaExceededError } from '@aevo/kaggle';
import { loadSubstrate, renderEntrypoint } from '@aevo/substrate-kit';
import { deriveSecretSeed, parseHiddenSplit, promptsOnlyCsv, splitPredictions } from '../domain/hidden-split';
import { readTable } from '../domain/csv';
import {
  leaderboardDecider,
  parsePredictJobId,
  predictJobId,
  type LeaderboardCommand,
  type LeaderboardEvent,
  type LeaderboardState,
} from '../domain/leaderboard';
import { decideOnStream } from '@aevo/eventstore';
import { describeResult, runCommand } from './run-command';
import type { SealedScoreStore } from './sealed-scores';
import type { KaggleBoard } from './kaggle-board';

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
  kaggle?: {
    board: KaggleBoard | null;
    /** Why no board could be built (missing credentials or competition), reported as LeaderboardUnavailable. */
    problem: string | null;
    /** The competition's test prompts (id,prompt) that predict answers. */
    promptsPath: string | null;
  };
}

export const streamIdOf = (campaignId: string) => `leaderboard:${campaignId}`;
const KNOWN = new Set([
  'LeaderboardOpened',
  'LeaderboardUnavailable',
  'SubmissionAccepted',
  'SubmissionRejected',
  'JobRequested',
  'LeaderboardScored',
  'PrivateLeaderboardUnsealed',
]);

type TerminalEvent = EventOf<typeof JobSucceeded> | EventOf<typeof JobFailed> | EventOf<typeof JobCancelled>;

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

  boardDir(campaignId: string): string {
    return path.join(path.resolve(this.cfg.aevoHome), 'leaderboard', campaignId);
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

  async state(campaignId: string): Promise<LeaderboardState> {
    const stored = await this.store.readStream(streamIdOf(campaignId));
    return stored
      .filter((x) => KNOWN.has(x.type))
      .reduce((s, x) => leaderboardDecider.evolve(s, { type: x.type, data: x.data } as LeaderboardEvent), leaderboardDecider.initialState());
  }

  private decide(campaignId: string, command: LeaderboardCommand, cause: { id: string; correlationId: string | null } | null): Promise<LeaderboardEvent[]> {
    const ctx = { campaignId, streamId: streamIdOf(campaignId), source: 'leaderboard' as const, causationId: cause?.id ?? null, correlationId: cause?.correlationId ?? null };
    return decideOnStream(this.store, leaderboardDecider, ctx, command, { knownTypes: KNOWN });
  }

  // ── campaign start ────────────────────────────────────────────────────────────────────────────────────────

  async onCampaignStarted(e: EventOf<typeof CampaignStarted>): Promise<LeaderboardEvent[]> {
    const cfg = e.data.config;
    const s = await this.state(e.campaignId);
    if (s.board || s.unavailable) return [];
    const cause = { id: e.id, correlationId: e.correlationId };
    const quota = cfg.budgets.submissionsPerRound;
    if (cfg.leaderboard === 'kaggle') {
      const k = this.cfg.kaggle;
      const problem = !k?.board ? (k?.problem ?? 'the Kaggle board is not configured') : !k.promptsPath ? 'AEVO_KAGGLE_PROMPTS (the competition’s test prompts, id,prompt) is not set' : null;
      if (problem) return this.decide(e.campaignId, { type: 'MarkUnavailable', board: 'kaggle', reason: problem }, cause);
      let prompts: number;
      try {
        const text = await fs.readFile(k!.promptsPath!, 'utf8');
        prompts = readTable(text, ['id', 'prompt'], k!.promptsPath!).length;
        await fs.mkdir(this.boardDir(e.campaignId), { recursive: true });
        await fs.writeFile(this.promptsPath(e.campaignId), text);
      } catch (err) {
        return this.decide(e.campaignId, { type: 'MarkUnavailable', board: 'kaggle', reason: `Kaggle prompts unusable: ${(err as Error).message}` }, cause);
      }
      return this.decide(
        e.campaignId,
        { type: 'OpenLeaderboard', opened: { board: 'kaggle', submissionsPerRound: quota, competition: k!.board!.competition, prompts, splitSha256: null } },
        cause,
      );
    }
    try {
      const split = await this.generateHiddenSplit(e.campaignId, cfg.substratePath);
      return this.decide(
        e.campaignId,
        { type: 'OpenLeaderboard', opened: { board: 'local', submissionsPerRound: quota, competition: null, prompts: split.prompts, splitSha256: split.sha256 } },
        cause,
      );
    } catch (err) {
      const reason = err instanceof DomainError ? err.message.split('\n')[0] : (err as Error).message;
      this.log(`campaign ${e.campaignId}: local leaderboard unavailable: ${reason}`);
      return this.decide(e.campaignId, { type: 'MarkUnavailable', board: 'local', reason }, cause);
    }
  }

  /**
   * Runs the substrate's `leaderboard.generate` with the secret seed into a fresh directory outside every sandbox,
   * then publishes the prompts-only file. Re-running for the same campaign reuses the split already made.
   */
  private async generateHiddenSplit(campaignId: string, substratePath: string): Promise<{ prompts: number; sha256: string }> {
    const substrate = loadSubstrate(substratePath);
    if (!substrate.manifest.leaderboard) throw new Error(`substrate ${substrate.manifest.name} declares no leaderboard section`);
    const hidden = this.hiddenDir(campaignId);
    const exists = await fs.stat(path.join(hidden, 'private.csv')).then(() => true, () => false);
    if (!exists) {
      await fs.mkdir(this.boardDir(campaignId), { recursive: true, mode: 0o700 });
      const tmp = `${hidden}.tmp-${randomBytes(4).toString('hex')}`;
      await fs.mkdir(tmp, { mode: 0o700 });
      const secretSeed = deriveSecretSeed(await this.secret(), campaignId);
      // Through a 0600 file in the board's 0700 directory: an argv is readable by every user in the process list.
      const seedFile = `${tmp}.seed`;
      await fs.writeFile(seedFile, `${secretSeed}\n`, { mode: 0o600 });
      const logFile = path.join(this.boardDir(campaignId), 'logs', 'generate.log');
      let r: Awaited<ReturnType<typeof runCommand>>;
      try {
        const argv = renderEntrypoint(substrate.manifest, 'leaderboard.generate', {
          secret_seed: secretSeed,
          secret_seed_file: seedFile,
          out_dir: tmp,
          size: this.cfg.defaultSize,
        });
        r = await runCommand(argv, { cwd: substrate.dir, logFile, timeoutMs: this.cfg.commandTimeoutMs, redact: [String(secretSeed)] });
      } finally {
        await fs.rm(seedFile, { force: true });
      }
      if (r.exitCode !== 0) {
        await fs.rm(tmp, { recursive: true, force: true });
        throw new Error(describeResult('leaderboard.generate', r, logFile));
      }
      await fs.rename(tmp, hidden).catch(async (err) => {
        await fs.rm(tmp, { recursive: true, force: true });
        if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      });
    }
    const pubText = await fs.readFile(path.join(hidden, 'public.csv'), 'utf8');
    const privText = await fs.readFile(path.join(hidden, 'private.csv'), 'utf8');
    const pub = parseHiddenSplit(pubText, 'public.csv');
    const priv = parseHiddenSplit(privText, 'private.csv');
    this.hiddenIdsCache.set(campaignId, { public: pub.map((r) => r.id), private: priv.map((r) => r.id) });
    await fs.writeFile(this.promptsPath(campaignId), promptsOnlyCsv(pub, priv));
    return { prompts: pub.length + priv.length, sha256: sha256Hex(`${pubText}\u0000${privText}`) };
  }

  private async secret(): Promise<string> {
    if (this.cfg.secret) return this.cfg.secret;
    const file = path.join(path.resolve(this.cfg.aevoHome), 'leaderboard', '.secret');
    try {
      return (await fs.readFile(file, 'utf8')).trim();
    } catch {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
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
    const invalidated = violation ? `${(violation.data as { path: string }).path}: ${(violation.data as { kind: string }).kind}` : null;
    const predict = s.board && !invalidated ? await this.buildPredictJob(e) : { ok: false as const, problem: 'not built' };
    return this.decide(e.campaignId, { type: 'RequestSubmission', request: e.data, predict, invalidated }, { id: e.id, correlationId: e.correlationId });
  }

  private async buildPredictJob(e: EventOf<typeof SubmissionRequested>): Promise<{ ok: true; job: JobSpec } | { ok: false; problem: string }> {
    const r = e.data;
    const sandbox = path.resolve(r.sandboxPath);
    const checkpoint = path.resolve(sandbox, r.checkpoint);
    if (checkpoint !== sandbox && !checkpoint.startsWith(sandbox + path.sep))
      return { ok: false, problem: `checkpoint: expected a path inside the sandbox ${sandbox}, got ${r.checkpoint}` };
    if (!(await fs.stat(checkpoint).then((st) => st.isDirectory(), () => false)))
      return { ok: false, problem: `checkpoint: ${r.checkpoint} is not a directory of the sandbox ${sandbox}` };
    let manifest: SubstrateManifest;
    try {
      const parsed = SubstrateManifest.safeParse(parseYaml(await fs.readFile(path.join(sandbox, 'substrate.yaml'), 'utf8')));
      if (!parsed.success) return { ok: false, problem: `sandbox substrate.yaml does not validate: ${describeIssues(zodIssues(parsed.error))}` };
      manifest = parsed.data;
    } catch (err) {
      return { ok: false, problem: `sandbox ${sandbox} has no readable substrate.yaml: ${(err as Error).message}` };
    }
    const outDir = this.submissionDir(e.campaignId, r.submissionId);
    await fs.mkdir(outDir, { recursive: true });
    const predictions = path.join(outDir, 'predictions.csv');
    await fs.rm(predictions, { force: true });
    const info = await fs
      .readFile(path.join(checkpoint, 'checkpoint.json'), 'utf8')
      .then((t) => JSON.parse(t) as { size?: unknown; seed?: unknown })
      .catch(() => null);
    let argv: string[];
    try {
      argv = renderEntrypoint(manifest, 'predict', {
        sandbox,
        recipe: path.join(sandbox, manifest.recipe),
        checkpoint,
        prompts: this.promptsPath(e.campaignId),
        predictions,
        seed: typeof info?.seed === 'number' ? info.seed : 0,
        size: typeof info?.size === 'string' ? info.size : this.cfg.defaultSize,
        device: manifest.resources.predict.gpu > 0 ? 'cuda' : 'cpu',
      });
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
      return reject('invalid-predictions', `predict job ${d.jobId} failed (${d.reason}${d.exitCode !== null ? `, exit ${d.exitCode}` : ''}): ${d.message}`);
    }
    if (e.type === 'JobCancelled') return reject('board-error', `predict job ${e.data.jobId} was cancelled: ${(e.data as EventOf<typeof JobCancelled>['data']).reason}`);

    const predictionsPath = path.join(this.submissionDir(e.campaignId, submissionId), 'predictions.csv');
    const predictions = await fs.readFile(predictionsPath, 'utf8').catch(() => null);
    if (predictions === null) return reject('invalid-predictions', `predict exited 0 but wrote no predictions file at ${predictionsPath}`);

    if (s.board.board === 'kaggle') return this.submitToKaggle(e.campaignId, submissionId, Buffer.from(predictions), cause);
    return this.scoreLocally(e.campaignId, submissionId, predictions, cause, reject);
  }

  private async scoreLocally(
    campaignId: string,
    submissionId: string,
    predictions: string,
    cause: { id: string; correlationId: string | null },
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
    const campaign = await this.campaignSubstrate(campaignId);
    const dir = this.submissionDir(campaignId, submissionId);
    // The two halves are independent processes writing their own files: run them together, since a round's last
    // submission is scored while the GPU slots wait for the next round (bench/campaign). Checked public first.
    const runs = await Promise.all(
      (['public', 'private'] as const).map(async (half) => {
        const predFile = path.join(dir, `predictions-${half}.csv`);
        const scoresFile = path.join(dir, `scores-${half}.json`);
        await fs.writeFile(predFile, half === 'public' ? halves.publicCsv : halves.privateCsv);
        await fs.rm(scoresFile, { force: true });
        const argv = renderEntrypoint(campaign.manifest, 'leaderboard.score', {
          predictions: predFile,
          answers: path.join(hidden, `${half}.csv`),
          scores: scoresFile,
          split: half,
          size: this.cfg.defaultSize,
        });
        const logFile = path.join(dir, `score-${half}.log`);
        const r = await runCommand(argv, { cwd: campaign.dir, logFile, timeoutMs: this.cfg.commandTimeoutMs });
        return { half, r, logFile, scoresFile };
      }),
    );
    const scores: Record<'public' | 'private', DevScores> = {} as never;
    for (const { half, r, logFile, scoresFile } of runs) {
      if (r.exitCode !== 0) return reject('board-error', describeResult(`leaderboard.score (${half} half)`, r, logFile));
      const parsed = DevScores.safeParse(await fs.readFile(scoresFile, 'utf8').then(JSON.parse, () => undefined));
      if (!parsed.success) return reject('board-error', `leaderboard.score wrote invalid ${half} scores: ${describeIssues(zodIssues(parsed.error))}`);
      scores[half] = parsed.data;
    }
    const domains = (d: DevScores) => Object.fromEntries(Object.entries(d.domains).map(([k, v]) => [k, v.score]));
    // Sealed before the public score is recorded: a crash in between re-scores and re-seals the same value.
    await this.sealed.seal({ campaignId, submissionId, board: 'local', privateScore: scores.private.overall, privateDomains: domains(scores.private) });
    return this.decide(campaignId, { type: 'RecordPublicScore', submissionId, publicScore: scores.public.overall, publicDomains: domains(scores.public) }, cause);
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
      public: parseHiddenSplit(await fs.readFile(path.join(hidden, 'public.csv'), 'utf8'), 'public.csv').map((r) => r.id),
      private: parseHiddenSplit(await fs.readFile(path.join(hidden, 'private.csv'), 'utf8'), 'private.csv').map((r) => r.id),
    };
    this.hiddenIdsCache.set(campaignId, ids);
    return ids;
  }

  private campaignSubstrateCache = new Map<string, { dir: string; manifest: SubstrateManifest }>();
  /** The campaign's substrate (from CampaignStarted), whose leaderboard.score judges predictions. */
  private async campaignSubstrate(campaignId: string): Promise<{ dir: string; manifest: SubstrateManifest }> {
    const cached = this.campaignSubstrateCache.get(campaignId);
    if (cached) return cached;
    const started = (await this.store.readAll({ campaignId, types: ['CampaignStarted'], limit: 1 }))[0];
    if (!started) throw new Error(`campaign ${campaignId} has no CampaignStarted`);
    const sub = loadSubstrate((started.data as EventOf<typeof CampaignStarted>['data']).config.substratePath);
    const v = { dir: sub.dir, manifest: sub.manifest };
    this.campaignSubstrateCache.set(campaignId, v);
    return v;
  }

  // ── Kaggle ─────────────────────────────────────────────────────────────────────────────────────────────────

  private async submitToKaggle(campaignId: string, submissionId: string, content: Buffer, cause: { id: string; correlationId: string | null }): Promise<LeaderboardEvent[]> {
    const board = this.cfg.kaggle?.board;
    const reject = (reason: 'quota-exceeded' | 'board-error', message: string) => this.decide(campaignId, { type: 'RecordRejection', submissionId, reason, message }, cause);
    if (!board) return reject('board-error', this.cfg.kaggle?.problem ?? 'the Kaggle board is not configured in this replica');
    let ref: string;
    try {
      ref = (await board.submit(campaignId, submissionId, content)).ref;
    } catch (err) {
      if (err instanceof KaggleQuotaExceededError) return reject('quota-exceeded', `Kaggle refused the submission (allowance used up): ${err.serverMessage}`);
      if (err instanceof KaggleAuthError) return reject('board-error', `Kaggle refused the credentials (HTTP ${err.status}): ${err.serverMessage}`);
      return reject('board-error', (err as Error).message);
    }
    const events = await this.decide(campaignId, { type: 'RecordBoardAccepted', submissionId, externalRef: ref }, cause);
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
      const msg = err instanceof KagglePollTimeoutError ? `Kaggle did not score submission ${ref}: ${err.message}` : `polling Kaggle submission ${ref} failed: ${(err as Error).message}`;
      await record({ type: 'RecordRejection', submissionId, reason: 'board-error', message: msg });
      return;
    }
    if (done.status === 'ERROR') {
      await record({ type: 'RecordRejection', submissionId, reason: 'invalid-predictions', message: `Kaggle scored submission ${ref} as ERROR: ${done.errorDescription ?? 'no description'}` });
      return;
    }
    if (done.publicScore === null) {
      await record({ type: 'RecordRejection', submissionId, reason: 'board-error', message: `Kaggle marked submission ${ref} COMPLETE without a public score` });
      return;
    }
    await this.sealed.seal({ campaignId, submissionId, board: 'kaggle', privateScore: done.privateScore, privateDomains: null });
    await record({ type: 'RecordPublicScore', submissionId, publicScore: done.publicScore, publicDomains: null });
  }

  // ── final audit ────────────────────────────────────────────────────────────────────────────────────────────

  /** Reveals the sealed private scores (idempotent: a second call returns the scores already revealed). */
  async unseal(campaignId: string, commandId: string): Promise<{ alreadyUnsealed: boolean; scores: unknown[] }> {
    const s = await this.state(campaignId);
    if (!s.board && !s.unavailable) throw new DomainError('UNKNOWN_CAMPAIGN', `no leaderboard was opened for campaign ${campaignId}`, [{ path: 'payload.campaignId', message: 'no LeaderboardOpened for it' }]);
    if (!s.unsealed && s.board?.board === 'kaggle' && this.cfg.kaggle?.board) {
      // Kaggle reveals private scores only after the competition closes; fetch the latest before unsealing.
      for (const sub of Object.values(s.submissions)) {
        if (sub.outcome !== 'scored' || !sub.externalRef) continue;
        const latest = await this.cfg.kaggle.board.get(sub.externalRef).catch(() => null);
        if (latest?.privateScore != null) await this.sealed.seal({ campaignId, submissionId: sub.submissionId, board: 'kaggle', privateScore: latest.privateScore, privateDomains: null });
      }
    }
    const rows = (await this.sealed.list(campaignId)).filter((r) => r.privateScore !== null);
    const events = await this.decide(
      campaignId,
      { type: 'Unseal', sealed: rows.map((r) => ({ submissionId: r.submissionId, privateScore: r.privateScore!, privateDomains: r.privateDomains })) },
      { id: commandId, correlationId: null },
    );
    if (events.length > 0) return { alreadyUnsealed: false, scores: (events[0].data as { scores: unknown[] }).scores };
    const prior = (await this.store.readStream(streamIdOf(campaignId))).find((x) => x.type === 'PrivateLeaderboardUnsealed');
    return { alreadyUnsealed: true, scores: prior ? (prior.data as { scores: unknown[] }).scores : [] };
  }
}
