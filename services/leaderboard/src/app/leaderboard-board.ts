import type { DataOf, SubstrateSnapshotted } from '@aevo/contracts';
import type { RejectionReason } from '../domain/leaderboard';

export type BoardKind = 'local' | 'kaggle';
export type Snapshotted = DataOf<typeof SubstrateSnapshotted>;

/** What a board contributes to LeaderboardOpened, or why it cannot open (LeaderboardUnavailable). */
export type BoardOpening =
  { ok: true; prompts: number; competition: string | null; splitSha256: string | null } | { ok: false; reason: string };

/** A private score as the sealed table keeps it; `privateScore` null while the board has not revealed it. */
export interface PrivateScore {
  privateScore: number | null;
  privateDomains: Record<string, number> | null;
}

/** A board's answer to one submission's predictions. */
export type Judgement =
  | {
      outcome: 'scored';
      publicScore: number;
      publicDomains: Record<string, number> | null;
      /** Known with the public score (sealed before that is recorded), or null: ask `privateScore` after. */
      private: PrivateScore | null;
    }
  /** Taken by the board, scored later: `poll(externalRef)` gives the verdict. */
  | { outcome: 'accepted'; externalRef: string }
  | { outcome: 'rejected'; reason: RejectionReason; message: string };

export type Verdict = Exclude<Judgement, { outcome: 'accepted' }>;

/**
 * The port the workflow judges submissions through: the local board (the snapshot's frozen generate/score) and
 * Kaggle's competition API implement it. The workflow records what a board answers; it never branches on which.
 */
export interface LeaderboardBoard {
  readonly kind: BoardKind;
  /** The board opens from the campaign's verified substrate snapshot: it waits for SubstrateSnapshotted. */
  readonly opensFromSnapshot: boolean;
  /** Prepares the campaign's board (idempotent: a second call for the same campaign reuses what the first made). */
  open(campaignId: string, snapshot: Snapshotted | null): Promise<BoardOpening>;
  /** Judges one submission's predictions (the CSV predict wrote). Failures come back as rejections, never thrown. */
  judge(campaignId: string, submissionId: string, predictions: string): Promise<Judgement>;
  /** Waits for the verdict on an accepted submission; null when this replica cannot reach the board. */
  poll(externalRef: string): Promise<Verdict> | null;
  /**
   * A scored submission's private score as the board gives it now (a private half scored after the public one,
   * Kaggle's reveal after the competition closes), or null when it has none. May throw; the workflow retries at unseal.
   */
  privateScore(
    campaignId: string,
    submission: { submissionId: string; externalRef: string | null },
  ): Promise<PrivateScore | null>;
}

export type Boards = Readonly<Record<BoardKind, LeaderboardBoard>>;

/** A board this replica cannot use (no credentials, no competition): it says why wherever it is asked. */
export class UnavailableBoard implements LeaderboardBoard {
  readonly opensFromSnapshot = false;
  constructor(
    readonly kind: BoardKind,
    readonly problem: string,
    /** Said to a submission of a campaign another replica opened the board for. */
    private readonly judgeProblem: string = problem,
  ) {}
  async open(): Promise<BoardOpening> {
    return { ok: false, reason: this.problem };
  }
  async judge(): Promise<Judgement> {
    return { outcome: 'rejected', reason: 'board-error', message: this.judgeProblem };
  }
  poll(): null {
    return null;
  }
  async privateScore(): Promise<null> {
    return null;
  }
}
