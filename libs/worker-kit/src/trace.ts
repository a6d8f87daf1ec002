import {
  EvaluationRequested,
  JobRequested,
  ManifestSubmitted,
  TraceStepRecorded,
  WorkerFailed,
  WorkerStarted,
  isEvent,
  type DataOf,
  type JobSpec,
  type ResultManifest,
} from '@aevo/contracts';
import type { EvaluationRequest } from './ports';

export type TraceStepData = DataOf<typeof TraceStepRecorded>;
export type LlmCall = NonNullable<TraceStepData['llm']>;

export interface TraceStep {
  step: number;
  tool: string;
  input: unknown;
  llm?: LlmCall;
  outcome?: { ok: boolean; output: unknown; llm?: LlmCall };
}

/** What the candidate stream says so far: the recovery source after a crash. Pure fold over its events. */
export interface TraceState {
  /** Number of events in the stream (the expected version of the next append). */
  version: number;
  starts: number;
  steps: TraceStep[];
  jobsRequested: Map<string, JobSpec>;
  evaluationsRequested: Map<string, EvaluationRequest>;
  finished: { kind: 'submitted'; manifest: ResultManifest } | { kind: 'failed'; reason: string } | null;
}

export const initialTrace = (): TraceState => ({
  version: 0,
  starts: 0,
  steps: [],
  jobsRequested: new Map(),
  evaluationsRequested: new Map(),
  finished: null,
});

/** What the fold needs of an event: its type and data (envelopes and the decider's bare events both fit). */
export interface CandidateEvent {
  type: string;
  data: unknown;
}

export function evolveTrace(state: TraceState, event: CandidateEvent): TraceState {
  const s: TraceState = { ...state, version: state.version + 1 };
  if (isEvent(event, WorkerStarted)) s.starts = state.starts + 1;
  else if (isEvent(event, TraceStepRecorded)) {
    const d = event.data;
    const steps = state.steps.slice();
    if (d.phase === 'intent') steps[d.step] = { step: d.step, tool: d.tool, input: d.input, llm: d.llm };
    else {
      const prev = steps[d.step] ?? { step: d.step, tool: d.tool, input: d.input };
      steps[d.step] = { ...prev, outcome: { ok: d.ok ?? true, output: d.output ?? null, llm: d.llm } };
    }
    s.steps = steps;
  } else if (isEvent(event, JobRequested)) {
    s.jobsRequested = new Map(state.jobsRequested).set(event.data.spec.jobId, event.data.spec);
  } else if (isEvent(event, EvaluationRequested)) {
    s.evaluationsRequested = new Map(state.evaluationsRequested).set(event.data.requestId, event.data);
  } else if (isEvent(event, ManifestSubmitted)) {
    s.finished = { kind: 'submitted', manifest: event.data.manifest };
  } else if (isEvent(event, WorkerFailed)) {
    // A failed candidate still submits a (failed) manifest; the failure alone ends it only if none follows.
    if (!state.finished) s.finished = { kind: 'failed', reason: event.data.reason };
  }
  return s;
}

export const foldTrace = (events: readonly CandidateEvent[]): TraceState => events.reduce(evolveTrace, initialTrace());

/** Deterministic ids, so a step re-executed after a crash asks for the very same job (dispatch dedupes by id). */
export const jobIdOf = (candidateId: string, step: number, part: 'prep' | 'train'): string =>
  `${candidateId}-s${step}-${part}`;
export const evaluationIdOf = (candidateId: string, step: number): string => `${candidateId}-s${step}-eval`;
export const runDirOf = (step: number, seed: number): string => `runs/s${String(step).padStart(4, '0')}-seed${seed}`;
export const candidateStreamId = (candidateId: string): string => `candidate-${candidateId}`;
