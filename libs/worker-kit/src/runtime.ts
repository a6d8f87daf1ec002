import {
  CandidateForked,
  RollingPolicy,
  SubstrateManifest,
  describeIssues,
  DomainError,
  sha256Hex,
  zodIssues,
  type ResultManifest,
} from '@aevo/contracts';
import * as YAML from 'yaml';
import { BoundedMemo } from '@aevo/substrate-kit';
import { resolveWorkerBrief, type WorkerBrief } from './brief';
import type { CandidateLog, EvaluationPort, JobPort, WorkerConfig, WorkerInputs } from './ports';
import { SandboxFiles } from './sandbox-files';
import { summarise, type CandidateSummary, type FinalizeInput } from './summary';
import { executeTool, JobTools, type ToolError, type ToolHost, type ToolName, type ToolResult } from './tools';
import { openSandbox } from './tools/files';
import { toJson } from './tools/outcome';
import { submitManifest } from './tools/submit';
import { candidateStreamId, foldTrace, type LlmCall, type TraceState } from './trace';
import type { CandidateCommand } from './domain/candidate';
import { TraceEngine, type RuntimeHooks } from './trace-engine';
import { prescribedHypothesis } from './prescribed';

export { CandidateStoppedError, LeaseLostError, TraceDivergedError, type RuntimeHooks } from './trace-engine';

export interface RuntimePorts {
  log: CandidateLog;
  jobs: JobPort;
  evaluator: EvaluationPort;
}

export interface RuntimeBudget {
  /** Agent tool calls allowed (runtime steps such as open/finalize do not count). */
  maxToolCalls: number;
  /** Input + output tokens allowed across all model requests (Claude agent). */
  maxTokens: number;
}

/** Every candidate of a campaign opens the same substrate.yaml: parsed and validated once per process. */
const substrateManifests = new BoundedMemo<SubstrateManifest>(16);

const DEFAULT_BUDGET: RuntimeBudget = { maxToolCalls: 200, maxTokens: 2_000_000 };
const OUTPUT_DIRS = ['runs', 'prepared'];

/** Seed of the mutation operator: a pure function of the fork, so a replay or a re-run proposes the same change. */
export function mutationSeedOf(fork: WorkerInputs['fork']): number {
  const h = sha256Hex(`${fork.round}:${fork.index}:${fork.axis}:${fork.seeds.join(',')}`);
  return parseInt(h.slice(0, 8), 16);
}

/**
 * The worker runtime shared by both agent kinds. Every tool call is a trace step: its intent is appended to the
 * candidate stream before it acts and its outcome after; a resumed runtime replays recorded outcomes to the
 * (deterministic) agent and re-executes only the step that was in flight, idempotently: jobs and evaluations have
 * deterministic ids and are requested at most once per stream.
 */
export class WorkerRuntime implements ToolHost {
  /** Steps, staging and appends of the candidate's trace. */
  private readonly engine: TraceEngine;
  readonly files: SandboxFiles;
  readonly budget: RuntimeBudget;
  /** The rules an agent is given (worker-kit's default or the substrate's own frozen brief). */
  readonly brief: WorkerBrief;
  readonly jobs: JobTools;
  private summaryCache: { at: number; value: CandidateSummary } | null = null;

  private constructor(
    readonly inputs: WorkerInputs,
    readonly config: WorkerConfig,
    private readonly ports: RuntimePorts,
    readonly substrate: SubstrateManifest,
    trace: TraceState,
    budget: RuntimeBudget,
    hooks: RuntimeHooks,
  ) {
    this.engine = new TraceEngine(inputs.fork.candidateId, config, ports.log, hooks, trace);
    this.budget = budget;
    this.files = new SandboxFiles(inputs.fork.sandboxPath, {
      editable: substrate.editable,
      frozen: substrate.frozen,
      outputDirs: OUTPUT_DIRS,
    });
    this.brief = resolveWorkerBrief(substrate, this.files);
    this.jobs = new JobTools(this);
  }

  /**
   * Opens a candidate from its inputs — the fork (with its axis) and the policy, nothing else — and its stream.
   * Returns a runtime whose `finished` is set when the candidate was already completed by another replica.
   */
  static async open(
    inputs: WorkerInputs,
    config: WorkerConfig,
    ports: RuntimePorts,
    opts: { budget?: Partial<RuntimeBudget>; hooks?: RuntimeHooks } = {},
  ): Promise<WorkerRuntime> {
    const fork = CandidateForked.data.safeParse(inputs.fork);
    if (!fork.success)
      throw new DomainError(
        'INVALID_FORK',
        `fork does not validate: ${describeIssues(zodIssues(fork.error, 'fork'))}`,
        zodIssues(fork.error, 'fork'),
      );
    const policy = RollingPolicy.safeParse(inputs.policy);
    if (!policy.success)
      throw new DomainError(
        'INVALID_POLICY',
        `policy does not validate: ${describeIssues(zodIssues(policy.error, 'policy'))}`,
        zodIssues(policy.error, 'policy'),
      );
    if (policy.data.revision !== fork.data.policyRevision)
      throw new DomainError(
        'POLICY_MISMATCH',
        `fork was made under policy revision ${fork.data.policyRevision}, got revision ${policy.data.revision}`,
        [{ path: 'policy.revision', message: `expected ${fork.data.policyRevision}` }],
      );
    const cleanInputs: WorkerInputs = { fork: fork.data, policy: policy.data };
    const trace = foldTrace(await ports.log.read());
    // substrate.yaml is a frozen file of the fork itself: reading it is reading the sandbox.
    let substrate: SubstrateManifest;
    try {
      const probe = new SandboxFiles(fork.data.sandboxPath, { editable: [], frozen: ['**'] });
      substrate = structuredClone(
        substrateManifests.get(probe.readWhole('substrate.yaml'), (text) => {
          const parsed = SubstrateManifest.safeParse(YAML.parse(text));
          if (!parsed.success) throw new Error(describeIssues(zodIssues(parsed.error)));
          return parsed.data;
        }),
      );
    } catch (err) {
      throw new DomainError(
        'INVALID_SANDBOX',
        `sandbox ${fork.data.sandboxPath} has no valid substrate.yaml: ${(err as Error).message}`,
        [{ path: 'fork.sandboxPath', message: 'expected a forked substrate directory with substrate.yaml' }],
      );
    }
    const rt = new WorkerRuntime(
      cleanInputs,
      config,
      ports,
      substrate,
      trace,
      { ...DEFAULT_BUDGET, ...opts.budget },
      opts.hooks ?? {},
    );
    if (trace.finished) return rt;
    // Appended with open_sandbox's step (one append for both).
    // The heuristic agent follows its code, not the brief: only a model-driven worker records the one it was given.
    const brief =
      config.agentKind === 'claude'
        ? { source: rt.brief.source, path: rt.brief.path, sha256: rt.brief.sha256 }
        : undefined;
    rt.engine.stage({
      kind: 'Start',
      candidateId: fork.data.candidateId,
      round: fork.data.round,
      workerId: config.workerId,
      agentKind: config.agentKind,
      ...(brief ? { brief } : {}),
    });
    await rt.engine.step(
      'open_sandbox',
      {
        candidateId: fork.data.candidateId,
        policyRevision: policy.data.revision,
        mutationSeed: mutationSeedOf(fork.data),
      },
      async () => openSandbox(rt, mutationSeedOf(rt.inputs.fork)),
    );
    return rt;
  }

  get candidateId(): string {
    return this.inputs.fork.candidateId;
  }
  get finished(): TraceState['finished'] {
    return this.trace.finished;
  }
  /** Steps recorded so far (intent or outcome). */
  get traceLength(): number {
    return this.trace.steps.length;
  }
  /** True while the runtime is replaying recorded steps after a resume. */
  get replaying(): boolean {
    return this.engine.replaying;
  }
  /** The trace as this runtime knows it: the stream plus what is staged for the next append. */
  get trace(): TraceState {
    return this.engine.trace;
  }
  get jobPort(): JobPort {
    return this.ports.jobs;
  }
  get evaluator(): EvaluationPort {
    return this.ports.evaluator;
  }
  get recipePath(): string {
    return this.substrate.recipe;
  }
  get mutationSeed(): number {
    return this.summary().mutationSeed ?? mutationSeedOf(this.inputs.fork);
  }

  summary(): CandidateSummary {
    if (this.summaryCache?.at !== this.trace.version)
      this.summaryCache = { at: this.trace.version, value: summarise(this.trace.steps) };
    return this.summaryCache.value;
  }

  /** Current content of the recipe as the trace knows it. */
  currentRecipe(): string {
    return this.summary().current.get(this.substrate.recipe) ?? '';
  }

  /**
   * What the agent may still spend. Tokens count every token of every model request: plain input, cache writes,
   * cache reads and output. While replaying, only the steps replayed so far count: the agent must see the budget
   * it saw when it made the recorded step, or a resume after the budget was spent would take another path.
   */
  budgetLeft(): { toolCalls: number; tokens: number } {
    const s = this.replaying ? summarise(this.trace.steps.slice(0, this.engine.cursor)) : this.summary();
    return {
      toolCalls: this.budget.maxToolCalls - s.toolCalls,
      tokens: this.budget.maxTokens - (s.inputTokens + s.outputTokens + s.cacheReadTokens),
    };
  }

  /**
   * Why the candidate should stop now (its campaign was aborted or ran out of budget), or null: for an agent that
   * waits inside a step (the Claude agent between retries of a model request) and should not wait out a stop.
   */
  async stopReason(): Promise<string | null> {
    return this.engine.stopReason();
  }

  /**
   * While replaying: the recorded step the agent's next step must match (the Claude agent checks its request against
   * it).
   */
  nextRecordedStep(): { step: number; tool: string; input: unknown } | null {
    const s = this.replaying ? this.trace.steps[this.engine.cursor] : undefined;
    return s ? { step: s.step, tool: s.tool, input: s.input } : null;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Tools

  /** Calls a tool on behalf of the agent; recorded (intent, then outcome) and replayed on resume. */
  async call(name: ToolName, input: unknown, llm?: LlmCall): Promise<ToolResult> {
    if (this.trace.finished && !this.replaying)
      return { ok: false, error: { code: 'FINISHED', message: 'the candidate is already finished' } };
    await this.engine.checkStop();
    const res = await this.engine.step(
      name,
      input ?? {},
      (k) =>
        executeTool(
          this,
          name,
          input ?? {},
          k,
          this.summary().toolCalls > this.budget.maxToolCalls,
          this.budget.maxToolCalls,
        ),
      llm,
    );
    return res.ok ? { ok: true, value: res.output } : { ok: false, error: (res.output as { error: ToolError }).error };
  }

  /**
   * Records one model request as a trace step: the request summary as intent, the full response as outcome, so
   * a resumed worker replays the conversation without calling the model again.
   */
  async modelStep(
    input: { turn: number; model: string },
    run: () => Promise<{ ok: boolean; output: unknown; llm?: LlmCall }>,
  ): Promise<{ ok: boolean; output: unknown }> {
    await this.engine.checkStop();
    return this.engine.step('llm', input, async () => {
      const r = await run();
      return { ok: r.ok, output: toJson(r.output), llm: r.llm };
    });
  }

  /**
   * Ends the candidate without the agent's manifest call: budget spent or the agent failed. A completed
   * candidate (something was evaluated) gets the evaluation service's selection; otherwise a failed manifest and
   * WorkerFailed.
   */
  async finalize(input: FinalizeInput & { hypothesis?: string }): Promise<ResultManifest | null> {
    const attempt = async (f: FinalizeInput & { hypothesis?: string }) => {
      const res = await this.engine.step('finalize', f, async (k) =>
        submitManifest(this, k, {
          status: f.status,
          hypothesis: f.hypothesis ?? this.defaultHypothesis(),
          reason: f.reason,
        }),
      );
      return res.ok ? ((res.output as { manifest: ResultManifest }).manifest ?? null) : null;
    };
    const m = await attempt(input);
    if (m || input.status === 'failed' || this.trace.finished) return m;
    // What was measured does not make a valid completed manifest: end the candidate as failed instead.
    return attempt({
      ...input,
      status: 'failed',
      failure: input.failure ?? 'agent-error',
      reason: `${input.reason}; the completed manifest did not validate`,
    });
  }

  /**
   * Ends a candidate whose trace cannot be continued (the agent diverged from it, or stopped without a
   * manifest): skips what remains of the replay and records the failure at the end of the trace.
   */
  async abandon(reason: string, failure: FinalizeInput['failure'] = 'agent-error'): Promise<ResultManifest | null> {
    if (this.trace.finished) return null;
    const last = this.trace.steps[this.trace.steps.length - 1];
    if (last && !last.outcome)
      await this.apply({
        kind: 'RecordOutcome',
        candidateId: this.candidateId,
        step: last.step,
        tool: last.tool,
        ok: false,
        output: { error: { code: 'ABANDONED', message: reason } },
      });
    this.engine.skipReplay();
    return this.finalize({ status: 'failed', reason, failure });
  }

  hasEvaluatedCheckpoints(): boolean {
    return [...this.summary().evaluations.values()].some((e) => e.checkpoints.length > 0);
  }

  private defaultHypothesis(): string {
    const f = this.inputs.fork;
    if (f.prescribed) return prescribedHypothesis(f.prescribed);
    return f.isAnchor ? 'baseline anchor: standing recipe unchanged, measures seed noise' : `explore axis ${f.axis}`;
  }

  /** Decides a command on the trace and appends it with everything staged (ToolHost). */
  apply(cmd?: CandidateCommand): Promise<void> {
    return this.engine.apply(cmd);
  }

  /** Appends what is staged before waiting on anything outside this process (ToolHost). */
  flush(): Promise<void> {
    return this.engine.flush();
  }

  maxWaitSeconds(): number {
    return this.config.maxWaitSeconds ?? 600;
  }
}

export { candidateStreamId };
