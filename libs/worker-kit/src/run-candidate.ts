import type { ResultManifest } from '@aevo/contracts';
import type { WorkerAgent } from './agents/agent';
import { HeuristicAgent } from './agents/heuristic';
import type { WorkerConfig, WorkerInputs } from './ports';
import type { TraceState } from './trace';
import {
  CandidateStoppedError,
  LeaseLostError,
  TraceDivergedError,
  WorkerRuntime,
  type RuntimeBudget,
  type RuntimeHooks,
  type RuntimePorts,
} from './runtime';

export type CandidateOutcome =
  | { kind: 'submitted'; manifest: ResultManifest; resumed: boolean }
  | { kind: 'already-finished'; manifest: ResultManifest | null }
  | { kind: 'failed'; reason: string; manifest: ResultManifest | null };

/**
 * The agent that works a candidate: a prescribed run (confirmation or probe) has nothing to choose, so it takes
 * the deterministic path whatever agent the campaign configured — no model is asked, no token spent.
 */
export function agentFor(fork: WorkerInputs['fork'], agent: WorkerAgent): WorkerAgent {
  return fork.prescribed && agent.kind !== 'heuristic' ? new HeuristicAgent() : agent;
}

/**
 * Runs (or resumes) one candidate to its end. Infrastructure errors propagate (the message is redelivered and a
 * replica resumes from the trace); agent-level problems end the candidate cleanly with a failed manifest.
 */
export async function runCandidate(
  inputs: WorkerInputs,
  config: WorkerConfig,
  ports: RuntimePorts,
  configured: WorkerAgent,
  opts: { budget?: Partial<RuntimeBudget>; hooks?: RuntimeHooks } = {},
): Promise<CandidateOutcome> {
  const agent = agentFor(inputs.fork, configured);
  const rt = await WorkerRuntime.open(inputs, { ...config, agentKind: agent.kind }, ports, opts);
  if (rt.finished)
    return { kind: 'already-finished', manifest: rt.finished.kind === 'submitted' ? rt.finished.manifest : null };
  const resumed = rt.replaying;
  try {
    await agent.run(rt);
  } catch (err) {
    if (err instanceof LeaseLostError) throw err;
    if (err instanceof CandidateStoppedError) await rt.abandon(err.reason);
    else if (err instanceof TraceDivergedError) await rt.abandon(`cannot resume: ${err.message}`);
    else throw err;
  }
  if (!rt.finished) await rt.abandon('the agent stopped without submitting a manifest');
  const f = rt.finished as TraceState['finished'];
  if (f?.kind === 'submitted')
    return f.manifest.status === 'completed'
      ? { kind: 'submitted', manifest: f.manifest, resumed }
      : {
          kind: 'failed',
          reason: f.manifest.failureModes.map((m: { detail: string }) => m.detail).join('; ') || 'failed',
          manifest: f.manifest,
        };
  return { kind: 'failed', reason: f?.reason ?? 'unknown', manifest: null };
}
