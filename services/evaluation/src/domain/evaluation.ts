import {
  DevScores,
  describeIssues,
  selectCheckpoint,
  weightedDomains,
  zodIssues,
  CheckpointEvaluated,
  CheckpointSelected,
  type DataOf,
  type Decider,
  EvaluationFailed,
  type EvaluationRequested,
  EvaluationStarted,
  type IssueDetail,
  JobRequested,
  type JobSpec,
  type ScoreVector,
  eventUnion,
  type EventOfUnion,
} from '@aevo/contracts';

/** A scored checkpoint of the request; `index` is its position in the request's checkpoint list. */
export interface EvaluatedCheckpoint {
  index: number;
  checkpoint: string;
  step: number;
  dev: ScoreVector;
}

/**
 * The evaluation of one EvaluationRequested: a pure decider over the stream `evaluation:<campaignId>:<requestId>`.
 * Every checkpoint ends in exactly one CheckpointEvaluated or EvaluationFailed; the request ends in
 * CheckpointSelected or a request-level EvaluationFailed. Redelivered inputs decide nothing.
 */
/** The stream's events, listed once: the union, its names and its guard derive from this list. */
export const EVALUATION_EVENTS = eventUnion(
  EvaluationStarted,
  JobRequested,
  CheckpointEvaluated,
  CheckpointSelected,
  EvaluationFailed,
);
export type EvaluationEvent = EventOfUnion<typeof EVALUATION_EVENTS>;

export type Verification = { verifiedBy: 'substrate-service' | 'substrate-kit' } & (
  { ok: true; snapshotId: string } | { ok: false; violations: string[] }
);

export type JobOutcome =
  | { kind: 'succeeded'; scores: unknown; step: number }
  /** The job exited 0 but its scores file is missing or not JSON. */
  | { kind: 'unreadable-scores'; reason: string }
  | { kind: 'failed'; reason: string };

export type EvaluationCommand =
  | {
      type: 'StartEvaluation';
      request: DataOf<typeof EvaluationRequested>;
      verification: Verification;
      /**
       * One evaluate job per checkpoint, in request order, with jobId evalJobId(requestId, i); or the problems that
       * kept them from being built (a checkpoint missing from the sandbox, an entrypoint that cannot be rendered).
       */
      jobs: { ok: true; specs: JobSpec[] } | { ok: false; issues: IssueDetail[] };
    }
  | { type: 'RecordJobOutcome'; jobId: string; outcome: JobOutcome };

type CheckpointState =
  { status: 'pending' } | { status: 'evaluated'; evaluated: EvaluatedCheckpoint } | { status: 'failed' };

/** Nothing before it starts; a request refused at the start ends without one; a started one has its request. */
export type EvaluationState =
  | { status: 'new' }
  | { status: 'refused' }
  | { status: 'running' | 'finished'; request: DataOf<typeof EvaluationStarted>; checkpoints: CheckpointState[] };
export type StartedEvaluation = Extract<EvaluationState, { request: unknown }>;

export const evalJobId = (requestId: string, index: number) => `${requestId}-eval-${index}`;

/** The checkpoint index of one of our job ids, or null for any other job. */
export function parseEvalJobId(jobId: string): { requestId: string; index: number } | null {
  const m = /^(.+)-eval-(\d+)$/.exec(jobId);
  return m ? { requestId: m[1], index: Number(m[2]) } : null;
}

/** Step of a checkpoint: checkpoint.json's `step`, else the last number in its directory name, else null. */
export function stepOf(checkpoint: string, info: { step?: unknown } | null): number | null {
  if (info && Number.isInteger(info.step) && (info.step as number) >= 0) return info.step as number;
  const last = checkpoint.split('/').filter(Boolean).pop() ?? '';
  const m = /(\d+)(?!.*\d)/.exec(last);
  return m ? Number(m[1]) : null;
}

export const initialEvaluationState = (): EvaluationState => ({ status: 'new' });

export function evolveEvaluation(state: EvaluationState, event: EvaluationEvent): EvaluationState {
  switch (event.type) {
    case 'EvaluationStarted':
      return {
        status: 'running',
        request: event.data,
        checkpoints: event.data.checkpoints.map(() => ({ status: 'pending' })),
      };
    case 'CheckpointEvaluated': {
      if (!('request' in state)) return state;
      const index = state.request.checkpoints.indexOf(event.data.checkpoint);
      if (index < 0) return state;
      const checkpoints = [...state.checkpoints];
      checkpoints[index] = {
        status: 'evaluated',
        evaluated: { index, checkpoint: event.data.checkpoint, step: event.data.step, dev: event.data.dev },
      };
      return { ...state, checkpoints };
    }
    case 'EvaluationFailed': {
      if (!('request' in state)) return event.data.checkpoint === null ? { status: 'refused' } : state;
      if (event.data.checkpoint === null) return { ...state, status: 'finished' };
      const index = state.request.checkpoints.indexOf(event.data.checkpoint);
      if (index < 0) return state;
      const checkpoints = [...state.checkpoints];
      checkpoints[index] = { status: 'failed' };
      return { ...state, checkpoints };
    }
    case 'CheckpointSelected':
      return 'request' in state ? { ...state, status: 'finished' } : state;
    default:
      return state;
  }
}

export function decideEvaluation(command: EvaluationCommand, state: EvaluationState): EvaluationEvent[] {
  return command.type === 'StartEvaluation' ? decideStart(command, state) : decideOutcome(command, state);
}

function decideStart(
  command: Extract<EvaluationCommand, { type: 'StartEvaluation' }>,
  state: EvaluationState,
): EvaluationEvent[] {
  if (state.status !== 'new') return [];
  const r = command.request;
  const ids = { requestId: r.requestId, candidateId: r.candidateId, round: r.round };
  const requestFailed = (
    kind: DataOf<typeof EvaluationFailed>['kind'],
    issues: IssueDetail[],
    reason: string,
  ): EvaluationEvent[] => [{ type: 'EvaluationFailed', data: { ...ids, checkpoint: null, kind, reason, issues } }];

  const issues = requestIssues(r);
  if (issues.length === 0 && command.verification.ok && !command.jobs.ok) issues.push(...command.jobs.issues);
  if (issues.length > 0)
    return requestFailed('invalid-request', issues, `evaluation request refused: ${describeIssues(issues)}`);
  if (!command.verification.ok) {
    const v = command.verification.violations;
    return requestFailed(
      'frozen-path-violated',
      [],
      `sandbox ${r.sandboxPath} failed frozen-path verification: ${v.join('; ') || 'unspecified violation'}`,
    );
  }
  if (!command.jobs.ok) return [];
  const specs = command.jobs.specs;
  if (specs.length !== r.checkpoints.length)
    throw new Error(`expected ${r.checkpoints.length} evaluate jobs, got ${specs.length}`);
  specs.forEach((j, i) => {
    if (j.jobId !== evalJobId(r.requestId, i))
      throw new Error(`job ${i}: expected jobId ${evalJobId(r.requestId, i)}, got ${j.jobId}`);
    if (j.entrypoint !== 'evaluate') throw new Error(`job ${i}: expected the evaluate entrypoint, got ${j.entrypoint}`);
  });
  return [
    { type: 'EvaluationStarted', data: { ...r, verifiedBy: command.verification.verifiedBy } },
    ...specs.map((spec): EvaluationEvent => ({ type: 'JobRequested', data: { spec } })),
  ];
}

/** Problems with the request itself: paths that leave the sandbox, duplicates, a criterion that weighs nothing. */
function requestIssues(r: DataOf<typeof EvaluationRequested>): IssueDetail[] {
  const issues: IssueDetail[] = [];
  const seen = new Map<string, number>();
  r.checkpoints.forEach((c, i) => {
    if (c.startsWith('/') || c.split('/').includes('..'))
      issues.push({ path: `checkpoints.${i}`, message: `expected a path inside the sandbox, got "${c}"` });
    const prev = seen.get(c);
    if (prev !== undefined) issues.push({ path: `checkpoints.${i}`, message: `duplicate of checkpoints.${prev}` });
    seen.set(c, i);
  });
  if (r.criterion.kind === 'reweighted' && weightedDomains(r.criterion).length === 0)
    issues.push({ path: 'criterion.weights', message: 'expected at least one domain with a positive weight' });
  return issues;
}

function decideOutcome(
  command: Extract<EvaluationCommand, { type: 'RecordJobOutcome' }>,
  state: EvaluationState,
): EvaluationEvent[] {
  const parsed = parseEvalJobId(command.jobId);
  if (state.status !== 'running' || !parsed || parsed.requestId !== state.request.requestId) return [];
  const r = state.request;
  const index = parsed.index;
  if (index >= r.checkpoints.length || state.checkpoints[index].status !== 'pending') return [];
  const checkpoint = r.checkpoints[index];
  const ids = { requestId: r.requestId, candidateId: r.candidateId, round: r.round };

  let event: EvaluationEvent;
  const o = command.outcome;
  if (o.kind === 'failed') {
    event = {
      type: 'EvaluationFailed',
      data: {
        ...ids,
        checkpoint,
        kind: 'job-failed',
        reason: `evaluate job ${command.jobId} failed: ${o.reason}`,
        issues: [],
      },
    };
  } else if (o.kind === 'unreadable-scores') {
    event = {
      type: 'EvaluationFailed',
      data: {
        ...ids,
        checkpoint,
        kind: 'invalid-scores',
        reason: o.reason,
        issues: [{ path: '(file)', message: o.reason }],
      },
    };
  } else {
    const scores = DevScores.safeParse(o.scores);
    const issues = scores.success ? missingWeightedDomains(scores.data, r.criterion) : zodIssues(scores.error);
    if (!scores.success || issues.length > 0) {
      event = {
        type: 'EvaluationFailed',
        data: {
          ...ids,
          checkpoint,
          kind: 'invalid-scores',
          reason: `scores of ${checkpoint} do not validate: ${describeIssues(issues)}`,
          issues,
        },
      };
    } else {
      const s = scores.data;
      const domains = Object.fromEntries(Object.entries(s.domains).map(([d, v]) => [d, v.score]));
      event = {
        type: 'CheckpointEvaluated',
        data: {
          ...ids,
          checkpoint,
          step: o.step,
          seed: r.seed,
          split: s.split,
          dev: { overall: s.overall, domains },
          n: s.n,
          jobId: command.jobId,
        },
      };
    }
  }
  const next = evolveEvaluation(state, event);
  return [event, ...('request' in next ? concludeIfDone(next) : [])];
}

function missingWeightedDomains(s: DevScores, criterion: DataOf<typeof EvaluationStarted>['criterion']): IssueDetail[] {
  return weightedDomains(criterion)
    .filter((d) => s.domains[d] === undefined)
    .map((d) => ({ path: `domains.${d}`, message: 'missing, but the selection criterion weights this domain' }));
}

function concludeIfDone(state: StartedEvaluation): EvaluationEvent[] {
  const r = state.request;
  if (state.checkpoints.some((c) => c.status === 'pending')) return [];
  const ids = { requestId: r.requestId, candidateId: r.candidateId, round: r.round };
  const evaluated = state.checkpoints.flatMap((c) => (c.status === 'evaluated' ? [c.evaluated] : []));
  if (evaluated.length === 0)
    return [
      {
        type: 'EvaluationFailed',
        data: {
          ...ids,
          checkpoint: null,
          kind: 'nothing-evaluated',
          reason: `none of the ${r.checkpoints.length} checkpoint(s) could be evaluated`,
          issues: [],
        },
      },
    ];
  // The shared rule (@aevo/contracts checkpoint-selection); `evaluated` is in request order, which the tie-break uses.
  const { chosen, score, considered } = selectCheckpoint(evaluated, r.criterion)!;
  return [
    {
      type: 'CheckpointSelected',
      data: {
        ...ids,
        checkpoint: chosen.checkpoint,
        step: chosen.step,
        criterion: r.criterion,
        score,
        dev: chosen.dev,
        considered,
      },
    },
  ];
}

export const evaluationDecider: Decider<EvaluationCommand, EvaluationEvent, EvaluationState> = {
  decide: decideEvaluation,
  evolve: evolveEvaluation,
  initialState: initialEvaluationState,
};
