import type { FailureMode, RecipeChange } from '@aevo/contracts';
import type { EvaluatedCheckpoint } from './ports';
import { TOOL_NAMES, type ToolError } from './tools';
import type { TraceStep } from './trace';

export type JobStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** How a job looks in tool outputs (and so in the trace). */
export interface JobView {
  jobId: string;
  entrypoint: string;
  status: JobStatus;
  exitCode: number | null;
  reason: string | null;
  message: string | null;
  gpuSeconds: number;
  wallSeconds: number;
}

export const isTerminal = (s: JobStatus): boolean => s === 'succeeded' || s === 'failed' || s === 'cancelled';

export interface OpenOutput {
  recipePath: string;
  /** Editable files as the candidate starts (fork + standing recipe): the base of the recipe diff. */
  files: Record<string, string>;
  /** Settings of the policy's standing recipe that were written over the fork's recipe. */
  adopted: RecipeChange[];
  mutationSeed: number;
  substrate: { name: string; version: string };
}

export interface WriteOutput {
  path: string;
  bytes: number;
  sha256: string;
  content: string;
  changes?: RecipeChange[];
  warnings?: string[];
}

export interface PrepareOutput {
  recipeSha: string;
  dataDir: string;
  cached: boolean;
  job: JobView | null;
}

export interface LaunchOutput {
  jobId: string;
  seed: number;
  runDir: string;
  checkpointsDir: string;
  recipeSha: string;
  prepare: PrepareOutput;
}

export interface EvaluateOutput {
  jobId: string;
  requestId: string;
  seed: number;
  job: JobView;
  checkpoints: EvaluatedCheckpoint[];
  selected: { checkpoint: string; score: number; criterion: string } | null;
  failures: Array<{ checkpoint: string; reason: string }>;
}

export interface FinalizeInput {
  status: 'completed' | 'failed';
  reason: string;
  failure?: FailureMode['kind'];
}

export interface RunRecord {
  jobId: string;
  seed: number;
  step: number;
  /** Editable files as they were when this run was launched (the recipe the run trained). */
  filesAtLaunch: Map<string, string>;
}

/** Everything the manifest needs, derived from the trace alone (so a resumed worker computes the same). */
export interface CandidateSummary {
  recipePath: string | null;
  baseline: Map<string, string>;
  current: Map<string, string>;
  mutationSeed: number | null;
  runs: Map<string, RunRecord>;
  jobs: Map<string, JobView>;
  evaluations: Map<string, EvaluateOutput>;
  failureModes: FailureMode[];
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  toolCalls: number;
  llmCalls: number;
}

const AGENT_TOOLS = new Set<string>(TOOL_NAMES);

export function summarise(steps: readonly (TraceStep | undefined)[]): CandidateSummary {
  const s: CandidateSummary = {
    recipePath: null,
    baseline: new Map(),
    current: new Map(),
    mutationSeed: null,
    runs: new Map(),
    jobs: new Map(),
    evaluations: new Map(),
    failureModes: [],
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    toolCalls: 0,
    llmCalls: 0,
  };
  const noteJob = (v: JobView | null | undefined) => {
    if (v && v.jobId) s.jobs.set(v.jobId, v);
  };
  for (const step of steps) {
    if (!step) continue;
    if (AGENT_TOOLS.has(step.tool)) s.toolCalls++;
    const llm = step.outcome?.llm;
    if (llm) {
      s.llmCalls++;
      s.inputTokens += llm.inputTokens;
      s.outputTokens += llm.outputTokens;
      s.cacheReadTokens += llm.cacheReadTokens ?? 0;
    }
    if (step.tool === 'finalize') {
      const f = step.input as FinalizeInput;
      if (f.failure) s.failureModes.push({ kind: f.failure, detail: f.reason, step: step.step });
    }
    const out = step.outcome;
    if (!out) continue;
    if (!out.ok) {
      const err = (out.output as { error?: ToolError & { job?: JobView } } | null)?.error;
      if (err?.failure)
        s.failureModes.push({ kind: err.failure, detail: `${step.tool}: ${err.message}`, step: step.step });
      noteJob(err?.job);
      continue;
    }
    const o = out.output as Record<string, unknown>;
    switch (step.tool) {
      case 'open_sandbox': {
        const open = o as unknown as OpenOutput;
        s.recipePath = open.recipePath;
        s.mutationSeed = open.mutationSeed;
        for (const [p, c] of Object.entries(open.files)) {
          s.baseline.set(p, c);
          s.current.set(p, c);
        }
        break;
      }
      case 'write_file':
      case 'set_recipe': {
        const w = o as unknown as WriteOutput;
        s.current.set(w.path, w.content);
        break;
      }
      case 'preview_data':
        noteJob((o as unknown as PrepareOutput).job);
        break;
      case 'launch_training': {
        const l = o as unknown as LaunchOutput;
        noteJob(l.prepare.job);
        s.runs.set(l.jobId, { jobId: l.jobId, seed: l.seed, step: step.step, filesAtLaunch: new Map(s.current) });
        break;
      }
      case 'poll_job':
        noteJob(o as unknown as JobView);
        break;
      case 'evaluate_checkpoints': {
        const e = o as unknown as EvaluateOutput;
        noteJob(e.job);
        s.evaluations.set(e.jobId, e);
        break;
      }
    }
  }
  for (const job of s.jobs.values()) {
    if (job.status !== 'failed' && job.status !== 'cancelled') continue;
    const kind: FailureMode['kind'] =
      job.reason === 'diverged'
        ? 'diverged'
        : job.reason === 'timeout' || job.reason === 'deadline-exceeded'
          ? 'timeout'
          : 'job-failed';
    s.failureModes.push({
      kind,
      detail:
        `${job.entrypoint} job ${job.jobId} ${job.status}${job.reason ? ` (${job.reason})` : ''}` +
        `${job.message ? `: ${job.message}` : ''}`,
    });
  }
  return s;
}
