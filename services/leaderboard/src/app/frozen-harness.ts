import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { DevScores, describeIssues, zodIssues } from '@aevo/contracts';
import { frozenCommand } from '@aevo/executors';
import { renderEntrypoint } from '@aevo/substrate-kit';
import { PASS_THROUGH, ensureDir, type BoardFiles, type Half } from './board-files';
import { checkFrozenSnapshot, type FrozenSnapshot } from './frozen-snapshot';
import type { Snapshotted } from './leaderboard-board';
import { describeResult, runCommand } from './run-command';

export interface FrozenHarnessSettings {
  /** AEVO_LEADERBOARD_SECRET; when absent a random secret is kept in `<aevoHome>/leaderboard/.secret` (mode 0600). */
  secret?: string;
  /** Deadline of one generate/score command. */
  commandTimeoutMs: number;
  defaultSize: string;
  /** generate and score unconfined (still from the snapshot, clean environment): the operator's explicit opt-out. */
  unsandboxed?: boolean;
  bwrapPath?: string;
  /** The service's configured secrets, scrubbed from the commands' logs. */
  ownSecrets?: readonly string[];
}

/**
 * The substrate's `leaderboard.generate` and `leaderboard.score`, run only from a campaign's snapshot once its pinned
 * files match SubstrateSnapshotted, each in bubblewrap seeing only its own inputs and writing only its own output
 * (unless the operator opted out). The secret seed goes to generate alone, through a 0600 file.
 */
export class FrozenHarness {
  private readonly verified = new Map<string, Promise<FrozenSnapshot>>();

  constructor(
    private readonly files: BoardFiles,
    private readonly settings: FrozenHarnessSettings,
  ) {}

  /**
   * The snapshot at `<AEVO_HOME>/snapshots/<id>`, once its pinned files are checked against the event's hashes: once
   * per snapshot id and process (a snapshot id names its content). A failed check is not remembered.
   */
  verify(snapshot: Snapshotted): Promise<FrozenSnapshot> {
    let p = this.verified.get(snapshot.snapshotId);
    if (!p) {
      p = checkFrozenSnapshot(this.files.snapshotDir(snapshot.snapshotId), snapshot.snapshotId, snapshot.frozenSha256);
      p.catch(() => this.verified.delete(snapshot.snapshotId));
      this.verified.set(snapshot.snapshotId, p);
    }
    return p;
  }

  private command(snapshot: FrozenSnapshot, argv: string[], io: { outputs: string[]; inputs: string[] }) {
    return frozenCommand(argv, {
      home: this.files.home,
      snapshotPath: snapshot.dir,
      ...io,
      unsandboxed: this.settings.unsandboxed,
      bwrapPath: this.settings.bwrapPath,
    });
  }

  /**
   * Runs `leaderboard.generate` with the seed into `outDir` (its only output; the seed file its only input). Throws
   * naming the log when it fails.
   */
  async generate(snapshot: FrozenSnapshot, secretSeed: number, outDir: string, logFile: string): Promise<void> {
    // Through a 0600 file beside the output: an argv is readable by every user in the process list.
    const seedFile = `${outDir}.seed`;
    await fs.writeFile(seedFile, `${secretSeed}\n`, { mode: 0o600 });
    let r: Awaited<ReturnType<typeof runCommand>>;
    try {
      const argv = renderEntrypoint(snapshot.manifest, 'leaderboard.generate', {
        secret_seed: secretSeed,
        secret_seed_file: seedFile,
        out_dir: outDir,
        size: this.settings.defaultSize,
      });
      const cmd = this.command(snapshot, argv, { outputs: [outDir], inputs: [seedFile] });
      r = await runCommand(cmd.argv, {
        cwd: cmd.cwd,
        env: cmd.env,
        logFile,
        timeoutMs: this.settings.commandTimeoutMs,
        ownSecrets: this.settings.ownSecrets,
        redact: [String(secretSeed)],
      });
    } finally {
      await fs.rm(seedFile, { force: true });
    }
    if (r.exitCode !== 0) throw new Error(describeResult('leaderboard.generate', r, logFile));
  }

  /**
   * Scores one half: its predictions against its answers, into `<halfDir>/scores/` (emptied first: the command's
   * only output holds nothing else). Throws a one-line problem when the command fails or writes invalid scores.
   */
  async score(snapshot: FrozenSnapshot, half: Half, io: { halfDir: string; answers: string; logFile: string }) {
    const scoresDir = path.join(io.halfDir, 'scores');
    const predFile = path.join(io.halfDir, 'predictions.csv');
    const scoresFile = path.join(scoresDir, 'scores.json');
    try {
      await fs.rm(scoresDir, { recursive: true, force: true });
      await fs.mkdir(scoresDir, { recursive: true, mode: 0o700 });
      const argv = renderEntrypoint(snapshot.manifest, 'leaderboard.score', {
        predictions: predFile,
        answers: io.answers,
        scores: scoresFile,
        split: half,
        size: this.settings.defaultSize,
      });
      const cmd = this.command(snapshot, argv, { outputs: [scoresDir], inputs: [predFile, io.answers] });
      const r = await runCommand(cmd.argv, {
        cwd: cmd.cwd,
        env: cmd.env,
        logFile: io.logFile,
        timeoutMs: this.settings.commandTimeoutMs,
        ownSecrets: this.settings.ownSecrets,
      });
      if (r.exitCode !== 0) throw new ScoreProblem(describeResult(`leaderboard.score (${half} half)`, r, io.logFile));
    } catch (err) {
      if (err instanceof ScoreProblem) throw err;
      throw new ScoreProblem(
        `leaderboard.score (${half} half) could not run: ${(err as Error).message.split('\n')[0]}`,
      );
    }
    const parsed = DevScores.safeParse(await fs.readFile(scoresFile, 'utf8').then(JSON.parse, () => undefined));
    if (!parsed.success)
      throw new ScoreProblem(
        `leaderboard.score wrote invalid ${half} scores: ${describeIssues(zodIssues(parsed.error))}`,
      );
    return parsed.data;
  }

  /** The configured secret, or the one kept in `<AEVO_HOME>/leaderboard/.secret` (created on first use). */
  async secret(): Promise<string> {
    if (this.settings.secret) return this.settings.secret;
    const file = this.files.secretFile();
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
}

/** A score run that failed or wrote invalid scores: the message names the half and the log. */
export class ScoreProblem extends Error {
  override name = 'ScoreProblem';
}
