import {
  DomainError,
  type DataOf,
  type Decider,
  JobRequested,
  type JobSpec,
  LeaderboardOpened,
  LeaderboardScored,
  LeaderboardUnavailable,
  PrivateLeaderboardUnsealed,
  SubmissionAccepted,
  SubmissionRejected,
  type SubmissionRequested,
  eventUnion,
  type EventOfUnion,
} from '@aevo/contracts';

/**
 * A campaign's leaderboard, a pure decider over the stream `leaderboard:<campaignId>`. It enforces the per-round
 * quota, tracks each submission to exactly one outcome and never sees a private score before the unseal (the
 * private scores live in the service's sealed table; decide() only ever receives public ones).
 */
/** The stream's events, listed once: the union, its names and its guard derive from this list. */
export const LEADERBOARD_EVENTS = eventUnion(
  LeaderboardOpened,
  LeaderboardUnavailable,
  SubmissionAccepted,
  SubmissionRejected,
  JobRequested,
  LeaderboardScored,
  PrivateLeaderboardUnsealed,
);
export type LeaderboardEvent = EventOfUnion<typeof LEADERBOARD_EVENTS>;

export type RejectionReason = DataOf<typeof SubmissionRejected>['reason'];

export interface SealedScore {
  submissionId: string;
  privateScore: number;
  privateDomains: Record<string, number> | null;
}

export type LeaderboardCommand =
  | { type: 'OpenLeaderboard'; opened: DataOf<typeof LeaderboardOpened> }
  | { type: 'MarkUnavailable'; board: 'local' | 'kaggle'; reason: string }
  | {
      type: 'RequestSubmission';
      request: DataOf<typeof SubmissionRequested>;
      /** The predict job for it, or why none could be built (e.g. the checkpoint is not in the sandbox). */
      predict: { ok: true; job: JobSpec } | { ok: false; problem: string };
      /** The candidate's recorded FrozenPathViolated (described), or null: invalid candidates are never scored. */
      invalidated?: string | null;
    }
  | { type: 'RecordBoardAccepted'; submissionId: string; externalRef: string }
  | {
      type: 'RecordPublicScore';
      submissionId: string;
      publicScore: number;
      publicDomains: Record<string, number> | null;
    }
  | { type: 'RecordRejection'; submissionId: string; reason: RejectionReason; message: string }
  | { type: 'Unseal'; sealed: SealedScore[] };

interface SubmissionFacts {
  submissionId: string;
  candidateId: string;
  round: number;
  /** Position in its round's quota (1-based), or null when refused before taking a slot. */
  quotaSlot: number | null;
  accepted: boolean;
  externalRef: string | null;
}
/** A submission has a public score exactly when it was scored. */
export type SubmissionState = SubmissionFacts &
  ({ outcome: 'pending' | 'rejected'; publicScore: null } | { outcome: 'scored'; publicScore: number });

export interface LeaderboardState {
  board: DataOf<typeof LeaderboardOpened> | null;
  unavailable: string | null;
  submissions: Record<string, SubmissionState>;
  unsealed: boolean;
}

export const predictJobId = (submissionId: string) => `${submissionId}-predict`;
export function parsePredictJobId(jobId: string): string | null {
  const m = /^(.+)-predict$/.exec(jobId);
  return m ? m[1] : null;
}

export const initialLeaderboardState = (): LeaderboardState => ({
  board: null,
  unavailable: null,
  submissions: {},
  unsealed: false,
});

export function slotsUsed(state: LeaderboardState, round: number): number {
  return Object.values(state.submissions).filter((s) => s.round === round && s.quotaSlot !== null).length;
}

export function evolveLeaderboard(state: LeaderboardState, event: LeaderboardEvent): LeaderboardState {
  const update = (id: string, next: (prev: SubmissionState) => SubmissionState): LeaderboardState => {
    const prev = state.submissions[id];
    return prev ? { ...state, submissions: { ...state.submissions, [id]: next(prev) } } : state;
  };
  const ensure = (d: { submissionId: string; candidateId: string; round: number }): LeaderboardState =>
    state.submissions[d.submissionId]
      ? state
      : {
          ...state,
          submissions: {
            ...state.submissions,
            [d.submissionId]: {
              ...d,
              quotaSlot: null,
              accepted: false,
              externalRef: null,
              outcome: 'pending',
              publicScore: null,
            },
          },
        };
  switch (event.type) {
    case 'LeaderboardOpened':
      return { ...state, board: event.data };
    case 'LeaderboardUnavailable':
      return { ...state, unavailable: event.data.reason };
    case 'JobRequested': {
      const id = parsePredictJobId(event.data.spec.jobId);
      if (!id) return state;
      const spec = event.data.spec;
      const slot = slotsUsed(state, spec.round) + 1;
      state = ensure({ submissionId: id, candidateId: spec.candidateId, round: spec.round });
      return state.submissions[id].quotaSlot !== null ? state : update(id, (p) => ({ ...p, quotaSlot: slot }));
    }
    case 'SubmissionAccepted':
      state = ensure(event.data);
      return update(event.data.submissionId, (p) => ({ ...p, accepted: true, externalRef: event.data.externalRef }));
    case 'SubmissionRejected':
      state = ensure(event.data);
      return update(event.data.submissionId, (p) => ({ ...p, outcome: 'rejected', publicScore: null }));
    case 'LeaderboardScored':
      return update(event.data.submissionId, (p) => ({ ...p, outcome: 'scored', publicScore: event.data.publicScore }));
    case 'PrivateLeaderboardUnsealed':
      return { ...state, unsealed: true };
    default:
      return state;
  }
}

export function decideLeaderboard(command: LeaderboardCommand, state: LeaderboardState): LeaderboardEvent[] {
  switch (command.type) {
    case 'OpenLeaderboard':
      if (state.board || state.unavailable) return [];
      return [{ type: 'LeaderboardOpened', data: command.opened }];
    case 'MarkUnavailable':
      if (state.board || state.unavailable) return [];
      return [{ type: 'LeaderboardUnavailable', data: { board: command.board, reason: command.reason } }];
    case 'RequestSubmission':
      return decideRequest(command, state);
    case 'RecordBoardAccepted': {
      const s = pendingSubmission(state, command.submissionId);
      if (!s || s.accepted || !state.board) return [];
      return [
        {
          type: 'SubmissionAccepted',
          data: {
            submissionId: s.submissionId,
            candidateId: s.candidateId,
            round: s.round,
            board: state.board.board,
            externalRef: command.externalRef,
            quotaUsed: s.quotaSlot ?? slotsUsed(state, s.round),
            quotaLimit: state.board.submissionsPerRound,
          },
        },
      ];
    }
    case 'RecordPublicScore': {
      const s = pendingSubmission(state, command.submissionId);
      if (!s) return [];
      if (!s.accepted)
        throw new DomainError(
          'NOT_ACCEPTED',
          `submission ${s.submissionId} cannot be scored before the board accepted it`,
        );
      if (!(command.publicScore >= 0 && command.publicScore <= 1))
        throw new DomainError('INVALID_SCORE', `publicScore: expected a number in [0, 1], got ${command.publicScore}`, [
          { path: 'publicScore', message: 'expected [0, 1]' },
        ]);
      return [
        {
          type: 'LeaderboardScored',
          data: {
            submissionId: s.submissionId,
            candidateId: s.candidateId,
            round: s.round,
            publicScore: command.publicScore,
            publicDomains: command.publicDomains,
          },
        },
      ];
    }
    case 'RecordRejection': {
      const s = pendingSubmission(state, command.submissionId);
      if (!s) return [];
      return [
        {
          type: 'SubmissionRejected',
          data: {
            submissionId: s.submissionId,
            candidateId: s.candidateId,
            round: s.round,
            reason: command.reason,
            message: command.message,
          },
        },
      ];
    }
    case 'Unseal': {
      if (state.unsealed) return [];
      const sealed = new Map(command.sealed.map((s) => [s.submissionId, s]));
      const scores = Object.values(state.submissions)
        .flatMap((s) => {
          const p = sealed.get(s.submissionId);
          return s.outcome === 'scored' && p ? [{ s, p, publicScore: s.publicScore }] : [];
        })
        .sort(
          ({ s: a }, { s: b }) =>
            a.round - b.round ||
            (a.quotaSlot ?? 0) - (b.quotaSlot ?? 0) ||
            a.submissionId.localeCompare(b.submissionId),
        )
        .map(({ s, p, publicScore }) => ({
          submissionId: s.submissionId,
          candidateId: s.candidateId,
          round: s.round,
          publicScore,
          privateScore: p.privateScore,
          privateDomains: p.privateDomains,
        }));
      return [{ type: 'PrivateLeaderboardUnsealed', data: { scores } }];
    }
  }
}

function pendingSubmission(state: LeaderboardState, id: string): SubmissionState | null {
  const s = state.submissions[id];
  return s && s.outcome === 'pending' ? s : null;
}

function decideRequest(
  command: Extract<LeaderboardCommand, { type: 'RequestSubmission' }>,
  state: LeaderboardState,
): LeaderboardEvent[] {
  const r = command.request;
  if (state.submissions[r.submissionId]) return [];
  const ids = { submissionId: r.submissionId, candidateId: r.candidateId, round: r.round };
  const reject = (reason: RejectionReason, message: string): LeaderboardEvent[] => [
    { type: 'SubmissionRejected', data: { ...ids, reason, message } },
  ];
  if (state.unavailable)
    return reject('board-error', `the leaderboard is unavailable for this campaign: ${state.unavailable}`);
  if (!state.board)
    throw new DomainError(
      'LEADERBOARD_NOT_OPEN',
      `the leaderboard has not been opened for this campaign yet (CampaignStarted not processed); retry later`,
    );
  if (state.unsealed)
    return reject('board-error', 'the private leaderboard was already unsealed: the campaign is in its final audit');
  if (command.invalidated)
    return reject(
      'candidate-invalidated',
      `candidate ${r.candidateId} is invalidated (${command.invalidated}); it is not scored`,
    );
  const used = slotsUsed(state, r.round);
  const limit = state.board.submissionsPerRound;
  if (used >= limit)
    return reject(
      'quota-exceeded',
      `round ${r.round} has used ${used} of ${limit} submission(s) allowed by budgets.submissionsPerRound; ` +
        `${r.submissionId} (candidate ${r.candidateId}) was not scored`,
    );
  if (!command.predict.ok) return reject('invalid-predictions', command.predict.problem);
  const job = command.predict.job;
  if (
    job.jobId !== predictJobId(r.submissionId) ||
    job.entrypoint !== 'predict' ||
    job.round !== r.round ||
    job.candidateId !== r.candidateId
  )
    throw new Error(
      `predict job for ${r.submissionId}: expected jobId ${predictJobId(r.submissionId)}, entrypoint predict, ` +
        `round ${r.round}, candidate ${r.candidateId}`,
    );
  const requested: LeaderboardEvent = { type: 'JobRequested', data: { spec: job } };
  if (state.board.board === 'kaggle') return [requested];
  return [
    {
      type: 'SubmissionAccepted',
      data: { ...ids, board: 'local', externalRef: null, quotaUsed: used + 1, quotaLimit: limit },
    },
    requested,
  ];
}

export const leaderboardDecider: Decider<LeaderboardCommand, LeaderboardEvent, LeaderboardState> = {
  decide: decideLeaderboard,
  evolve: evolveLeaderboard,
  initialState: initialLeaderboardState,
};
