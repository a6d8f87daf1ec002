import * as fs from 'node:fs/promises';
import { KaggleAuthError, KagglePollTimeoutError, KaggleQuotaExceededError } from '@aevo/kaggle';
import { readTable } from '../domain/csv';
import type { BoardFiles } from './board-files';
import type { KaggleSubmissions } from './kaggle-submissions';
import type { BoardOpening, Judgement, LeaderboardBoard, PrivateScore, Verdict } from './leaderboard-board';

/**
 * The Kaggle board: predictions go to the competition, which scores them later (polled); its private scores are
 * revealed only when the competition closes. The prompts predict answers are the competition's test file.
 */
export class KaggleBoard implements LeaderboardBoard {
  readonly kind = 'kaggle' as const;
  readonly opensFromSnapshot = false;

  constructor(
    private readonly competition: KaggleSubmissions,
    /** The competition's test prompts (id,prompt); null: the board cannot open (AEVO_KAGGLE_PROMPTS unset). */
    private readonly promptsPath: string | null,
    private readonly files: BoardFiles,
  ) {}

  /** Copies the competition's prompts to the board's directory, where predict jobs read them. */
  async open(campaignId: string): Promise<BoardOpening> {
    if (!this.promptsPath)
      return { ok: false, reason: 'AEVO_KAGGLE_PROMPTS (the competition’s test prompts, id,prompt) is not set' };
    try {
      const text = await fs.readFile(this.promptsPath, 'utf8');
      const prompts = readTable(text, ['id', 'prompt'], this.promptsPath).length;
      await this.files.ensureBoardDirs(campaignId);
      await fs.writeFile(this.files.promptsPath(campaignId), text);
      return { ok: true, prompts, competition: this.competition.competition, splitSha256: null };
    } catch (err) {
      return { ok: false, reason: `Kaggle prompts unusable: ${(err as Error).message}` };
    }
  }

  async judge(campaignId: string, submissionId: string, predictions: string): Promise<Judgement> {
    try {
      const { ref } = await this.competition.submit(campaignId, submissionId, Buffer.from(predictions));
      return { outcome: 'accepted', externalRef: ref };
    } catch (err) {
      const reject = (reason: 'quota-exceeded' | 'board-error', message: string): Judgement => ({
        outcome: 'rejected',
        reason,
        message,
      });
      if (err instanceof KaggleQuotaExceededError)
        return reject('quota-exceeded', `Kaggle refused the submission (allowance used up): ${err.serverMessage}`);
      if (err instanceof KaggleAuthError)
        return reject('board-error', `Kaggle refused the credentials (HTTP ${err.status}): ${err.serverMessage}`);
      return reject('board-error', (err as Error).message);
    }
  }

  /** Bounded by the poll options: a submission Kaggle never finishes is rejected as a board error. */
  poll(ref: string): Promise<Verdict> {
    return this.waitFor(ref);
  }

  private async waitFor(ref: string): Promise<Verdict> {
    let done;
    try {
      done = await this.competition.wait(ref);
    } catch (err) {
      const message =
        err instanceof KagglePollTimeoutError
          ? `Kaggle did not score submission ${ref}: ${err.message}`
          : `polling Kaggle submission ${ref} failed: ${(err as Error).message}`;
      return { outcome: 'rejected', reason: 'board-error', message };
    }
    if (done.status === 'ERROR')
      return {
        outcome: 'rejected',
        reason: 'invalid-predictions',
        message: `Kaggle scored submission ${ref} as ERROR: ${done.errorDescription ?? 'no description'}`,
      };
    if (done.publicScore === null)
      return {
        outcome: 'rejected',
        reason: 'board-error',
        message: `Kaggle marked submission ${ref} COMPLETE without a public score`,
      };
    return {
      outcome: 'scored',
      publicScore: done.publicScore,
      publicDomains: null,
      private: { privateScore: done.privateScore, privateDomains: null },
    };
  }

  /** Kaggle reveals private scores only after the competition closes: the latest the API shows. */
  async privateScore(_campaignId: string, s: { externalRef: string | null }): Promise<PrivateScore | null> {
    if (!s.externalRef) return null;
    const latest = await this.competition.get(s.externalRef);
    return latest.privateScore == null ? null : { privateScore: latest.privateScore, privateDomains: null };
  }
}
