import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export type Half = 'public' | 'private';

/** Searchable, not listable: a predict job on its own uid must reach its prompts and output directory below. */
export const PASS_THROUGH = 0o711;

export async function ensureDir(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  const st = await fs.stat(dir);
  if ((st.mode & 0o777) !== mode) await fs.chmod(dir, mode);
}

/**
 * Where a campaign's board keeps its files under `<AEVO_HOME>/leaderboard/<campaignId>/`, outside every sandbox: the
 * hidden split, the prompts predict reads, each submission's predictions and scores. Shared by both boards and the
 * workflow (which hands predict its prompts and predictions paths).
 */
export class BoardFiles {
  readonly home: string;
  constructor(aevoHome: string) {
    this.home = path.resolve(aevoHome);
  }

  boardDir(campaignId: string): string {
    return path.join(this.home, 'leaderboard', campaignId);
  }
  hiddenDir(campaignId: string): string {
    return path.join(this.boardDir(campaignId), 'hidden');
  }
  promptsPath(campaignId: string): string {
    return path.join(this.boardDir(campaignId), 'prompts.csv');
  }
  submissionDir(campaignId: string, submissionId: string): string {
    return path.join(this.boardDir(campaignId), 'submissions', submissionId);
  }
  /** The predict job's only writable directory: nothing else lives there. */
  predictionsPath(campaignId: string, submissionId: string): string {
    return path.join(this.submissionDir(campaignId, submissionId), 'predict', 'predictions.csv');
  }
  /** One half's score: its predictions (input) and a scores directory (the score command's only output). */
  halfDir(campaignId: string, submissionId: string, half: Half): string {
    return path.join(this.submissionDir(campaignId, submissionId), half);
  }
  snapshotDir(snapshotId: string): string {
    return path.join(this.home, 'snapshots', snapshotId);
  }
  /** The secret the hidden splits' seeds derive from when the operator configured none. */
  secretFile(): string {
    return path.join(this.home, 'leaderboard', '.secret');
  }

  /** The leaderboard's directories: every one searchable by a job's uid, none listable. */
  async ensureBoardDirs(campaignId: string, ...below: string[]): Promise<void> {
    await ensureDir(path.join(this.home, 'leaderboard'), PASS_THROUGH);
    let dir = this.boardDir(campaignId);
    await ensureDir(dir, PASS_THROUGH);
    for (const name of below) {
      dir = path.join(dir, name);
      await ensureDir(dir, PASS_THROUGH);
    }
  }
}
