import {
  DomainError,
  type CampaignStarted,
  type EventOf,
  type JobCancelled,
  type JobFailed,
  type JobSucceeded,
  type SubmissionRequested,
  type SubstrateSnapshotted,
} from '@aevo/contracts';
import { dataEventsOf, foldDataEvents, handle, withEnvelopes, type EventStore } from '@aevo/eventstore';
import * as fs from 'node:fs/promises';
import {
  LEADERBOARD_EVENTS,
  leaderboardDecider,
  parsePredictJobId,
  type LeaderboardCommand,
  type LeaderboardEvent,
  type LeaderboardState,
  type SubmissionState,
} from '../domain/leaderboard';
import type { BoardFiles } from './board-files';
import type { CampaignSnapshots } from './campaign-snapshots';
import type { BoardKind, Boards, LeaderboardBoard, PrivateScore, Verdict } from './leaderboard-board';
import type { PredictJobs } from './predict-job';
import type { SealedScoreStore } from './sealed-scores';

export const streamIdOf = (campaignId: string) => `leaderboard:${campaignId}`;
const KNOWN: ReadonlySet<string> = LEADERBOARD_EVENTS.types;

type TerminalEvent = EventOf<typeof JobSucceeded> | EventOf<typeof JobFailed> | EventOf<typeof JobCancelled>;
type Cause = { id: string; correlationId: string | null };

/** What the workflow works with besides the store: the boards (one per kind) and its collaborators. */
export interface LeaderboardParts {
  boards: Boards;
  files: BoardFiles;
  snapshots: CampaignSnapshots;
  predictJobs: PredictJobs;
}

/**
 * The leaderboard's use cases, free of Nest and NATS: opens each campaign's board, takes submissions within the
 * quota (a predict job each), hands the predictions to the campaign's board and records its verdict, unseals at the
 * final audit. Which board judges is the campaign's choice (`config.leaderboard`); the workflow only talks to the
 * port. The hidden answers and private scores stay with the boards and the sealed table; only public scores reach
 * an event.
 */
export class LeaderboardWorkflow {
  private readonly polls = new Map<string, Promise<void>>();
  private readonly opening = new Map<string, Promise<LeaderboardEvent[]>>();
  /** Per campaign: private halves being scored after their public score was recorded (the unseal waits for them). */
  private readonly privateScoring = new Map<string, Set<Promise<void>>>();

  constructor(
    private readonly store: EventStore,
    private readonly sealed: SealedScoreStore,
    private readonly parts: LeaderboardParts,
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  private board(kind: BoardKind): LeaderboardBoard {
    return this.parts.boards[kind];
  }

  async state(campaignId: string): Promise<LeaderboardState> {
    const stored = await this.store.readStream(streamIdOf(campaignId));
    return foldDataEvents(leaderboardDecider, stored, KNOWN);
  }

  private async decide(
    campaignId: string,
    command: LeaderboardCommand,
    cause: Cause | null,
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
   * The campaign's board opens here, unless it opens from the campaign's snapshot and that is not stored yet (then
   * SubstrateSnapshotted's handler opens it); both paths are idempotent by state.
   */
  async onCampaignStarted(e: EventOf<typeof CampaignStarted>): Promise<LeaderboardEvent[]> {
    const board = this.board(e.data.config.leaderboard);
    const snapshot = board.opensFromSnapshot ? await this.parts.snapshots.of(e.campaignId) : null;
    if (board.opensFromSnapshot && !snapshot) return [];
    return this.open(e.campaignId, board, e.data.config.budgets.submissionsPerRound, {
      id: e.id,
      correlationId: e.correlationId,
    });
  }

  /** The campaign's substrate was frozen: a board that opens from that snapshot opens now (never from the source). */
  async onSubstrateSnapshotted(e: EventOf<typeof SubstrateSnapshotted>): Promise<LeaderboardEvent[]> {
    const s = await this.state(e.campaignId);
    if (s.board || s.unavailable) return [];
    // The snapshot is taken on CampaignStarted, which is stored before it; its handler opens the board otherwise.
    const started = (
      await this.store.readAll({ campaignId: e.campaignId, types: ['CampaignStarted'], limit: 1 })
    )[0] as EventOf<typeof CampaignStarted> | undefined;
    if (!started) return [];
    const board = this.board(started.data.config.leaderboard);
    if (!board.opensFromSnapshot) return [];
    return this.open(e.campaignId, board, started.data.config.budgets.submissionsPerRound, {
      id: e.id,
      correlationId: e.correlationId,
    });
  }

  /** One opening per campaign at a time here: CampaignStarted and SubstrateSnapshotted may arrive together. */
  private open(campaignId: string, board: LeaderboardBoard, quota: number, cause: Cause): Promise<LeaderboardEvent[]> {
    const running = this.opening.get(campaignId);
    if (running) return running.then(() => []);
    const p = this.openOnce(campaignId, board, quota, cause).finally(() => this.opening.delete(campaignId));
    this.opening.set(campaignId, p);
    return p;
  }

  private async openOnce(
    campaignId: string,
    board: LeaderboardBoard,
    quota: number,
    cause: Cause,
  ): Promise<LeaderboardEvent[]> {
    const s = await this.state(campaignId);
    if (s.board || s.unavailable) return [];
    const snapshot = board.opensFromSnapshot ? await this.parts.snapshots.of(campaignId) : null;
    const opening = await board.open(campaignId, snapshot);
    if (!opening.ok)
      return this.decide(campaignId, { type: 'MarkUnavailable', board: board.kind, reason: opening.reason }, cause);
    const { prompts, competition, splitSha256 } = opening;
    return this.decide(
      campaignId,
      {
        type: 'OpenLeaderboard',
        opened: { board: board.kind, submissionsPerRound: quota, competition, prompts, splitSha256 },
      },
      cause,
    );
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
      s.board && !invalidated ? await this.parts.predictJobs.build(e) : { ok: false as const, problem: 'not built' };
    return this.decide(
      e.campaignId,
      { type: 'RequestSubmission', request: e.data, predict, invalidated },
      { id: e.id, correlationId: e.correlationId },
    );
  }

  /** A predict job ended: its predictions go to the campaign's board, whose judgement is recorded. */
  async onJobTerminal(e: TerminalEvent): Promise<LeaderboardEvent[]> {
    const submissionId = parsePredictJobId(e.data.jobId);
    if (!submissionId) return [];
    const s = await this.state(e.campaignId);
    const sub = s.submissions[submissionId];
    if (!s.board || !sub || sub.outcome !== 'pending') return [];
    const cause = { id: e.id, correlationId: e.correlationId };
    const reject = (reason: 'invalid-predictions' | 'board-error', message: string) =>
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

    const predictionsPath = this.parts.files.predictionsPath(e.campaignId, submissionId);
    const predictions = await fs.readFile(predictionsPath, 'utf8').catch(() => null);
    if (predictions === null)
      return reject('invalid-predictions', `predict exited 0 but wrote no predictions file at ${predictionsPath}`);

    const board = this.board(s.board.board);
    const judgement = await board.judge(e.campaignId, submissionId, predictions);
    if (judgement.outcome !== 'accepted') return this.record(e.campaignId, board, sub, judgement, cause);
    const events = await this.decide(
      e.campaignId,
      { type: 'RecordBoardAccepted', submissionId, externalRef: judgement.externalRef },
      cause,
    );
    this.startPolling(e.campaignId, submissionId, judgement.externalRef, board);
    return events;
  }

  /**
   * Records a board's verdict. A private score known with the public one is sealed before the public score is
   * recorded (a crash in between re-judges and re-seals the same value); one the board scores afterwards is sealed
   * after, and a submission left without one (a crash, a failed private run) is asked again at the unseal.
   */
  private async record(
    campaignId: string,
    board: LeaderboardBoard,
    sub: Pick<SubmissionState, 'submissionId' | 'externalRef'>,
    verdict: Verdict,
    cause: Cause | null,
  ): Promise<LeaderboardEvent[]> {
    const { submissionId } = sub;
    if (verdict.outcome === 'rejected')
      return this.decide(
        campaignId,
        { type: 'RecordRejection', submissionId, reason: verdict.reason, message: verdict.message },
        cause,
      );
    if (verdict.private) await this.seal(campaignId, board.kind, submissionId, verdict.private);
    const events = await this.decide(
      campaignId,
      {
        type: 'RecordPublicScore',
        submissionId,
        publicScore: verdict.publicScore,
        publicDomains: verdict.publicDomains,
      },
      cause,
    );
    if (!verdict.private) this.scorePrivateLater(campaignId, board, sub);
    return events;
  }

  /**
   * Scores a private half in the background: the round's result waits for the public score only, and the next
   * submission's judgement does not wait behind this one. The unseal waits for what is still running; a score lost
   * with the process (a crash) is asked again there.
   */
  private scorePrivateLater(
    campaignId: string,
    board: LeaderboardBoard,
    sub: Pick<SubmissionState, 'submissionId' | 'externalRef'>,
  ): void {
    const running = this.privateScoring.get(campaignId) ?? new Set<Promise<void>>();
    this.privateScoring.set(campaignId, running);
    const p: Promise<void> = board
      .privateScore(campaignId, sub)
      .then(
        (s) => (s ? this.seal(campaignId, board.kind, sub.submissionId, s) : undefined),
        (err) =>
          this.log(
            `campaign ${campaignId}: private score of ${sub.submissionId} deferred to the unseal: ${String(err)}`,
          ),
      )
      .catch((err) => this.log(`campaign ${campaignId}: sealing ${sub.submissionId} failed: ${String(err)}`))
      .finally(() => {
        running.delete(p);
        if (running.size === 0 && this.privateScoring.get(campaignId) === running)
          this.privateScoring.delete(campaignId);
      });
    running.add(p);
  }

  /** Waits for the campaign's private halves still being scored (their failures are logged, never thrown). */
  private async privateScored(campaignId: string): Promise<void> {
    for (
      let running = this.privateScoring.get(campaignId);
      running?.size;
      running = this.privateScoring.get(campaignId)
    )
      await Promise.all([...running]);
  }

  private seal(campaignId: string, board: BoardKind, submissionId: string, p: PrivateScore): Promise<void> {
    return this.sealed.seal({ campaignId, submissionId, board, ...p });
  }

  /** Polls one accepted submission in the background until the board scores or rejects it (bounded by the board). */
  startPolling(campaignId: string, submissionId: string, ref: string, board: LeaderboardBoard): Promise<void> | null {
    const key = `${campaignId}/${submissionId}`;
    const running = this.polls.get(key);
    if (running) return running;
    const verdict = board.poll(ref);
    if (!verdict) return null;
    const p = verdict
      .then((v) => this.record(campaignId, board, { submissionId, externalRef: ref }, v, null))
      .then(() => undefined)
      .catch((err) => this.log(`polling ${board.kind} submission ${ref} (${key}) failed: ${String(err)}`))
      .finally(() => this.polls.delete(key));
    this.polls.set(key, p);
    return p;
  }

  /** Resumes polling every submission a board accepted but has not scored yet (after a restart). */
  async resumePolls(): Promise<number> {
    const opened = await this.store.readAll({ types: ['LeaderboardOpened'] });
    let n = 0;
    for (const o of opened) {
      const board = this.board((o.data as { board: BoardKind }).board);
      const s = await this.state(o.campaignId);
      for (const sub of Object.values(s.submissions))
        if (sub.accepted && sub.outcome === 'pending' && sub.externalRef)
          if (this.startPolling(o.campaignId, sub.submissionId, sub.externalRef, board)) n++;
    }
    return n;
  }

  async idle(): Promise<void> {
    await Promise.all([...this.polls.values()]);
    await Promise.all([...this.privateScoring.keys()].map((c) => this.privateScored(c)));
  }

  // ── final audit ────────────────────────────────────────────────────────────────────────────────────────────

  /** Reveals the sealed private scores (idempotent: a second call returns the scores already revealed). */
  async unseal(campaignId: string, commandId: string): Promise<{ alreadyUnsealed: boolean; scores: unknown[] }> {
    const s = await this.state(campaignId);
    if (!s.board && !s.unavailable)
      throw new DomainError('UNKNOWN_CAMPAIGN', `no leaderboard was opened for campaign ${campaignId}`, [
        { path: 'payload.campaignId', message: 'no LeaderboardOpened for it' },
      ]);
    await this.privateScored(campaignId);
    if (!s.unsealed && s.board) await this.completeSealed(campaignId, this.board(s.board.board), s);
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

  /**
   * Asks the board for every scored submission's private score not sealed yet: Kaggle reveals them only after the
   * competition closes; a local private half not scored before (a crash, a failed run) is scored now.
   */
  private async completeSealed(campaignId: string, board: LeaderboardBoard, s: LeaderboardState): Promise<void> {
    const known = new Set(
      (await this.sealed.list(campaignId)).filter((r) => r.privateScore !== null).map((r) => r.submissionId),
    );
    for (const sub of Object.values(s.submissions)) {
      if (sub.outcome !== 'scored' || known.has(sub.submissionId)) continue;
      const p = await board.privateScore(campaignId, sub).catch((err) => {
        this.log(`campaign ${campaignId}: no private score for ${sub.submissionId}: ${String(err)}`);
        return null;
      });
      if (p?.privateScore != null) await this.seal(campaignId, board.kind, sub.submissionId, p);
    }
  }
}
