import {
  DomainError,
  EvaluationRequested,
  JobRequested,
  ManifestSubmitted,
  TraceStepRecorded,
  WorkerFailed,
  WorkerStarted,
  canonicalJson,
  type DataOf,
  type Decider,
  type JobSpec,
  type ResultManifest,
  type WorkerBriefRef,
} from '@aevo/contracts';
import { evolveTrace, initialTrace, type CandidateEvent, type LlmCall, type TraceState } from '../trace';
import type { EvaluationRequest } from '../ports';

/**
 * The candidate stream's rules, pure: what a worker may append next given what its trace already says. The
 * runtime asks this decider for every append, so a trace can only grow in order — one step at a time, each intent
 * before its outcome, nothing after the end — and a job or evaluation is requested at most once per stream.
 */
export type CandidateCommand =
  | {
      kind: 'Start';
      candidateId: string;
      round: number;
      workerId: string;
      agentKind: 'heuristic' | 'claude';
      brief?: WorkerBriefRef;
    }
  | { kind: 'RecordIntent'; candidateId: string; step: number; tool: string; input: unknown; llm?: LlmCall }
  /** `facts`: events caused by the step, appended atomically with its outcome (RecipeChanged, ManifestSubmitted, …). */
  | {
      kind: 'RecordOutcome';
      candidateId: string;
      step: number;
      tool: string;
      ok: boolean;
      output: unknown;
      llm?: LlmCall;
      facts?: CandidateEvent[];
    }
  | { kind: 'RequestJob'; spec: JobSpec }
  | { kind: 'RequestEvaluation'; request: EvaluationRequest }
  /** Ends a candidate no runtime could open: WorkerFailed, and its failed manifest when one could be built. */
  | { kind: 'Fail'; candidateId: string; round: number; reason: string; manifest?: ResultManifest };

type TraceData = DataOf<typeof TraceStepRecorded>;

const refuse = (code: string, message: string, path: string, expected: string): never => {
  throw new DomainError(code, message, [{ path, message: expected }]);
};

export function decideCandidate(cmd: CandidateCommand, state: TraceState): CandidateEvent[] {
  if (state.finished)
    refuse(
      'CANDIDATE_FINISHED',
      `the candidate already ended (${state.finished.kind})`,
      'kind',
      'nothing may be appended after the manifest',
    );
  switch (cmd.kind) {
    case 'Start':
      return [
        {
          type: WorkerStarted.type,
          data: {
            candidateId: cmd.candidateId,
            round: cmd.round,
            workerId: cmd.workerId,
            agentKind: cmd.agentKind,
            resumedFromStep: state.steps.length > 0 ? state.steps.length - 1 : null,
            ...(cmd.brief ? { brief: cmd.brief } : {}),
          },
        },
      ];
    case 'RecordIntent': {
      const next = state.steps.length;
      if (cmd.step !== next)
        refuse(
          'STEP_OUT_OF_ORDER',
          `step ${cmd.step} cannot be recorded: the trace is at step ${next}`,
          'step',
          `expected ${next}`,
        );
      const last = state.steps[next - 1];
      if (last && !last.outcome)
        refuse(
          'STEP_IN_FLIGHT',
          `step ${last.step} (${last.tool}) has no outcome yet; step ${cmd.step} cannot start`,
          'step',
          `first record the outcome of step ${last.step}`,
        );
      const data: TraceData = {
        candidateId: cmd.candidateId,
        step: cmd.step,
        phase: 'intent',
        tool: cmd.tool,
        input: cmd.input ?? null,
        ...(cmd.llm ? { llm: cmd.llm } : {}),
      } as TraceData;
      return [{ type: TraceStepRecorded.type, data }];
    }
    case 'RecordOutcome': {
      const rec = state.steps[cmd.step];
      if (!rec)
        refuse('NO_INTENT', `step ${cmd.step} has no recorded intent`, 'step', 'record the intent before the outcome');
      if (rec!.outcome)
        refuse(
          'OUTCOME_RECORDED',
          `step ${cmd.step} already has its outcome`,
          'step',
          'each step has exactly one outcome',
        );
      if (rec!.tool !== cmd.tool)
        refuse(
          'TOOL_MISMATCH',
          `step ${cmd.step} is a ${rec!.tool} call, not ${cmd.tool}`,
          'tool',
          `expected ${rec!.tool}`,
        );
      const data = {
        candidateId: cmd.candidateId,
        step: cmd.step,
        phase: 'outcome',
        tool: cmd.tool,
        input: rec!.input ?? null,
        output: cmd.output ?? null,
        ok: cmd.ok,
        ...(cmd.llm ? { llm: cmd.llm } : {}),
      } as TraceData;
      return [{ type: TraceStepRecorded.type, data }, ...(cmd.facts ?? [])];
    }
    case 'RequestJob':
      return state.jobsRequested.has(cmd.spec.jobId) ? [] : [{ type: JobRequested.type, data: { spec: cmd.spec } }];
    case 'RequestEvaluation':
      return state.evaluationsRequested.has(cmd.request.requestId)
        ? []
        : [{ type: EvaluationRequested.type, data: cmd.request }];
    case 'Fail': {
      const failed = {
        type: WorkerFailed.type,
        data: { candidateId: cmd.candidateId, round: cmd.round, reason: cmd.reason, step: null },
      };
      if (!cmd.manifest) return [failed];
      return [
        failed,
        {
          type: ManifestSubmitted.type,
          data: { candidateId: cmd.candidateId, round: cmd.round, manifest: cmd.manifest },
        },
      ];
    }
  }
}

/** True when the recorded intent of `step` is the call being replayed (same tool, same canonical input). */
export function sameCall(state: TraceState, step: number, tool: string, input: unknown): boolean {
  const rec = state.steps[step];
  return !!rec && rec.tool === tool && canonicalJson(rec.input ?? null) === canonicalJson(input ?? null);
}

export const candidateDecider: Decider<CandidateCommand, CandidateEvent, TraceState> = {
  decide: decideCandidate,
  evolve: evolveTrace,
  initialState: initialTrace,
};
