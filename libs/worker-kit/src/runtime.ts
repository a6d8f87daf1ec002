import {
  CandidateForked,
  ManifestSubmitted,
  RecipeChanged,
  RollingPolicy,
  SubstrateManifest,
  TrainSummary,
  WorkerFailed,
  canonicalJson,
  createEvent,
  describeCriterion,
  describeIssues,
  DomainError,
  eventDefinition,
  sha256Hex,
  zodIssues,
  type EventEnvelope,
  type JobSpec,
  type ResultManifest,
  type SelectionCriterion,
} from '@aevo/contracts';
import * as YAML from 'yaml';
import type { z } from 'zod';
import { BoundedMemo, entrypointIsolation, renderEntrypoint } from '@aevo/substrate-kit';
import { resolveWorkerBrief, type WorkerBrief } from './brief';
import { matchingDeadEnd } from './dead-ends';
import { buildManifest, type Submission } from './manifest-builder';
import type { CandidateLog, EvaluationPort, EvaluationRequest, JobPort, JobTerminal, WorkerConfig, WorkerInputs } from './ports';
import { applyToYaml, diffRecipe, parseRecipeYaml } from './recipe-doc';
import { PathRefusedError, SandboxFiles } from './sandbox-files';
import {
  summarise,
  type CandidateSummary,
  type EvaluateOutput,
  type FinalizeInput,
  type JobView,
  type LaunchOutput,
  type OpenOutput,
  type PrepareOutput,
  type WriteOutput,
} from './summary';
import { ToolInputs, type ToolError, type ToolName, type ToolResult } from './tools';
import { candidateStreamId, evolveTrace, foldTrace, jobIdOf, runDirOf, type CandidateEvent, type LlmCall, type TraceState } from './trace';
import { decideCandidate, sameCall, type CandidateCommand } from './domain/candidate';
import { unifiedDiff } from './unified-diff';
import { prescribedHypothesis } from './prescribed';

/** The trace says step k was a different call than the one being replayed: the agent is not deterministic. */
export class TraceDivergedError extends Error {
  constructor(
    public readonly step: number,
    recorded: { tool: string; input: unknown },
    tool: string,
    input: unknown,
  ) {
    super(
      `trace step ${step} recorded ${recorded.tool}(${canonicalJson(recorded.input).slice(0, 200)}) but the agent now calls ${tool}(${canonicalJson(input).slice(0, 200)})`,
    );
    this.name = 'TraceDivergedError';
  }
}

/** Another replica appended to this candidate's stream: it owns the candidate now, this one must stop. */
export class LeaseLostError extends Error {
  constructor(candidateId: string) {
    super(`another worker replica is working on ${candidateId}`);
    this.name = 'LeaseLostError';
  }
}

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

export interface RuntimeHooks {
  /** Called after every append to the candidate stream (tests use it to crash the process at a given step). */
  afterAppend?(info: { traceEvents: number; version: number; lastEvent: EventEnvelope }): Promise<void> | void;
  /**
   * Asked before each new agent step (tool call or model request): a reason (e.g. the campaign was aborted) stops
   * the candidate with CandidateStoppedError before the step is recorded; null lets it go on.
   */
  stopRequested?(): Promise<string | null> | string | null;
}

/** The candidate was told to stop (its campaign was aborted) between two steps; the trace is consistent. */
export class CandidateStoppedError extends Error {
  constructor(
    candidateId: string,
    readonly reason: string,
  ) {
    super(`${candidateId} stopped: ${reason}`);
    this.name = 'CandidateStoppedError';
  }
}

interface StepOutcome {
  ok: boolean;
  output: unknown;
  /** Facts appended atomically with the outcome (RecipeChanged, ManifestSubmitted, …). */
  events?: CandidateEvent[];
  llm?: LlmCall;
}

/** Every candidate of a campaign opens the same substrate.yaml: parsed and validated once per process. */
const substrateManifests = new BoundedMemo<SubstrateManifest>(16);

const DEFAULT_BUDGET: RuntimeBudget = { maxToolCalls: 200, maxTokens: 2_000_000 };
const OUTPUT_DIRS = ['runs', 'prepared'];

const toJson = (v: unknown): unknown => (v === undefined ? null : JSON.parse(JSON.stringify(v)));
const fail = (code: string, message: string, extra: Partial<ToolError> & { job?: JobView } = {}): StepOutcome => ({
  ok: false,
  output: { error: { code, message, ...extra } },
});
const okOut = (output: unknown, events?: CandidateEvent[]): StepOutcome => ({ ok: true, output: toJson(output), events });

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
export class WorkerRuntime {
  /** The trace as this runtime knows it: the stream plus what is staged for the next append. */
  private trace: TraceState;
  /** The trace as the stream holds it (the expected version of the next append). */
  private durable: TraceState;
  private staged: { commands: CandidateCommand[]; events: EventEnvelope[] } = { commands: [], events: [] };
  private cursor = 0;
  readonly files: SandboxFiles;
  readonly budget: RuntimeBudget;
  /** The rules an agent is given (worker-kit's default or the substrate's own frozen brief). */
  readonly brief: WorkerBrief;
  private summaryCache: { at: number; value: CandidateSummary } | null = null;

  private constructor(
    readonly inputs: WorkerInputs,
    readonly config: WorkerConfig,
    private readonly ports: RuntimePorts,
    readonly substrate: SubstrateManifest,
    trace: TraceState,
    budget: RuntimeBudget,
    private readonly hooks: RuntimeHooks,
  ) {
    this.trace = trace;
    this.durable = trace;
    this.budget = budget;
    this.files = new SandboxFiles(inputs.fork.sandboxPath, { editable: substrate.editable, frozen: substrate.frozen, outputDirs: OUTPUT_DIRS });
    this.brief = resolveWorkerBrief(substrate, this.files);
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
    if (!fork.success) throw new DomainError('INVALID_FORK', `fork does not validate: ${describeIssues(zodIssues(fork.error, 'fork'))}`, zodIssues(fork.error, 'fork'));
    const policy = RollingPolicy.safeParse(inputs.policy);
    if (!policy.success)
      throw new DomainError('INVALID_POLICY', `policy does not validate: ${describeIssues(zodIssues(policy.error, 'policy'))}`, zodIssues(policy.error, 'policy'));
    if (policy.data.revision !== fork.data.policyRevision)
      throw new DomainError('POLICY_MISMATCH', `fork was made under policy revision ${fork.data.policyRevision}, got revision ${policy.data.revision}`, [
        { path: 'policy.revision', message: `expected ${fork.data.policyRevision}` },
      ]);
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
      throw new DomainError('INVALID_SANDBOX', `sandbox ${fork.data.sandboxPath} has no valid substrate.yaml: ${(err as Error).message}`, [
        { path: 'fork.sandboxPath', message: 'expected a forked substrate directory with substrate.yaml' },
      ]);
    }
    const rt = new WorkerRuntime(cleanInputs, config, ports, substrate, trace, { ...DEFAULT_BUDGET, ...opts.budget }, opts.hooks ?? {});
    if (trace.finished) return rt;
    // Appended with open_sandbox's step (one append for both).
    // The heuristic agent follows its code, not the brief: only a model-driven worker records the one it was given.
    const brief = config.agentKind === 'claude' ? { source: rt.brief.source, path: rt.brief.path, sha256: rt.brief.sha256 } : undefined;
    rt.stage({ kind: 'Start', candidateId: fork.data.candidateId, round: fork.data.round, workerId: config.workerId, agentKind: config.agentKind, ...(brief ? { brief } : {}) });
    await rt.step('open_sandbox', { candidateId: fork.data.candidateId, policyRevision: policy.data.revision, mutationSeed: mutationSeedOf(fork.data) }, () =>
      rt.openSandbox(),
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
    return this.cursor < this.trace.steps.length;
  }
  get recipePath(): string {
    return this.substrate.recipe;
  }
  get mutationSeed(): number {
    return this.summary().mutationSeed ?? mutationSeedOf(this.inputs.fork);
  }

  summary(): CandidateSummary {
    if (this.summaryCache?.at !== this.trace.version) this.summaryCache = { at: this.trace.version, value: summarise(this.trace.steps) };
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
    const s = this.replaying ? summarise(this.trace.steps.slice(0, this.cursor)) : this.summary();
    return { toolCalls: this.budget.maxToolCalls - s.toolCalls, tokens: this.budget.maxTokens - (s.inputTokens + s.outputTokens + s.cacheReadTokens) };
  }

  /**
   * Why the candidate should stop now (its campaign was aborted or ran out of budget), or null: for an agent that
   * waits inside a step (the Claude agent between retries of a model request) and should not wait out a stop.
   */
  async stopReason(): Promise<string | null> {
    return (await this.hooks.stopRequested?.()) ?? null;
  }

  /** While replaying: the recorded step the agent's next step must match (the Claude agent checks its request against it). */
  nextRecordedStep(): { step: number; tool: string; input: unknown } | null {
    const s = this.replaying ? this.trace.steps[this.cursor] : undefined;
    return s ? { step: s.step, tool: s.tool, input: s.input } : null;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Tools

  /** Calls a tool on behalf of the agent; recorded (intent, then outcome) and replayed on resume. */
  async call(name: ToolName, input: unknown, llm?: LlmCall): Promise<ToolResult> {
    if (this.trace.finished && !this.replaying) return { ok: false, error: { code: 'FINISHED', message: 'the candidate is already finished' } };
    await this.checkStop();
    const res = await this.step(name, input ?? {}, (k) => this.execute(name, input ?? {}, k), llm);
    return res.ok ? { ok: true, value: res.output } : { ok: false, error: (res.output as { error: ToolError }).error };
  }

  /**
   * Records one model request as a trace step: the request summary as intent, the full response as outcome, so
   * a resumed worker replays the conversation without calling the model again.
   */
  async modelStep(input: { turn: number; model: string }, run: () => Promise<{ ok: boolean; output: unknown; llm?: LlmCall }>): Promise<{ ok: boolean; output: unknown }> {
    await this.checkStop();
    return this.step('llm', input, async () => {
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
      const res = await this.step('finalize', f, (k) => this.submit(k, { status: f.status, hypothesis: f.hypothesis ?? this.defaultHypothesis(), reason: f.reason }, f));
      return res.ok ? ((res.output as { manifest: ResultManifest }).manifest ?? null) : null;
    };
    const m = await attempt(input);
    if (m || input.status === 'failed' || this.trace.finished) return m;
    // What was measured does not make a valid completed manifest: end the candidate as failed instead.
    return attempt({ ...input, status: 'failed', failure: input.failure ?? 'agent-error', reason: `${input.reason}; the completed manifest did not validate` });
  }

  /**
   * Ends a candidate whose trace cannot be continued (the agent diverged from it, or stopped without a
   * manifest): skips what remains of the replay and records the failure at the end of the trace.
   */
  async abandon(reason: string, failure: FinalizeInput['failure'] = 'agent-error'): Promise<ResultManifest | null> {
    if (this.trace.finished) return null;
    const last = this.trace.steps[this.trace.steps.length - 1];
    if (last && !last.outcome)
      await this.apply({ kind: 'RecordOutcome', candidateId: this.candidateId, step: last.step, tool: last.tool, ok: false, output: { error: { code: 'ABANDONED', message: reason } } });
    this.cursor = this.trace.steps.length;
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

  private async execute(name: ToolName, rawInput: unknown, k: number): Promise<StepOutcome> {
    const schema = ToolInputs[name] as z.ZodType | undefined;
    if (!schema) return fail('UNKNOWN_TOOL', `no tool named ${name}`);
    const parsed = schema.safeParse(rawInput);
    if (!parsed.success) {
      const issues = zodIssues(parsed.error);
      return fail('INVALID_INPUT', `${name}: ${describeIssues(issues)}`, { issues });
    }
    if (this.summary().toolCalls > this.budget.maxToolCalls)
      return fail('BUDGET_EXHAUSTED', `tool-call budget of ${this.budget.maxToolCalls} is spent`, { failure: 'budget-exhausted' });
    const input = parsed.data as Record<string, unknown>;
    try {
      switch (name) {
        case 'list_files': {
          const r = this.files.list((input.dir as string | undefined) ?? '.');
          return okOut({ files: r.files, truncated: r.truncated, recipe: this.substrate.recipe, editable: this.substrate.editable, frozen: this.substrate.frozen });
        }
        case 'read_file':
          return okOut(this.files.read(input.path as string, { offset: input.offset as number | undefined, limit: input.limit as number | undefined }));
        case 'write_file':
          return this.writeFile(input.path as string, input.content as string);
        case 'set_recipe':
          return this.setRecipe(input.settings as Array<{ path: string; value: unknown }>);
        case 'preview_data': {
          const prep = await this.prepare(k);
          if (prep.job && prep.job.status !== 'succeeded')
            return fail('PREPARE_FAILED', `prepare-data ${prep.job.status}: ${prep.job.message ?? prep.job.reason ?? ''}`, { job: prep.job });
          const listing = this.files.list(prep.dataDir, 50);
          return okOut({ ...prep, outputs: listing.files.map((f) => ({ path: f.path, bytes: f.bytes })), logTail: await this.tail(prep.job?.jobId, 20) });
        }
        case 'launch_training':
          return this.launch(k, input.seed as number);
        case 'poll_job':
          return this.poll(input.jobId as string, (input.waitSeconds as number | undefined) ?? 0);
        case 'read_log_tail': {
          const jobId = input.jobId as string;
          if (!this.trace.jobsRequested.has(jobId)) return fail('UNKNOWN_JOB', `no job ${jobId} was launched by this candidate`);
          return okOut({ jobId, tail: await this.tail(jobId, (input.lines as number | undefined) ?? 40) });
        }
        case 'evaluate_checkpoints':
          return this.evaluate(input.jobId as string, (input.waitSeconds as number | undefined) ?? this.maxWaitSeconds(), input.criterion as SelectionCriterion | undefined);
        case 'submit_manifest':
          return this.submit(k, input as unknown as Submission, null);
      }
    } catch (err) {
      if (err instanceof PathRefusedError) {
        const refused = err.kind !== 'not-found' && err.kind !== 'invalid' && err.kind !== 'too-large';
        return fail(err.code, err.message, refused ? { failure: 'path-refused' } : {});
      }
      // A substrate whose entrypoints need values the worker cannot give, and the like: the agent sees why.
      if (err instanceof DomainError) return fail(err.code, err.message, { issues: err.issues });
      throw err;
    }
    return fail('UNKNOWN_TOOL', `no tool named ${String(name)}`);
  }

  private maxWaitSeconds(): number {
    return this.config.maxWaitSeconds ?? 600;
  }

  private async openSandbox(): Promise<StepOutcome> {
    const recipePath = this.substrate.recipe;
    const listing = this.files.list('.', 2000);
    const files: Record<string, string> = {};
    let total = 0;
    for (const f of listing.files) {
      if (!f.editable || f.symlink) continue;
      total += f.bytes;
      // The outcome is one event (< 900 KiB); a pipeline that large is not a recipe anyway.
      if (total > 512 * 1024) break;
      files[f.path] = this.files.readWhole(f.path);
    }
    if (files[recipePath] === undefined) return fail('INVALID_SANDBOX', `recipe ${recipePath} is missing or not editable`, { failure: 'invalid-output' });
    // The fork is the substrate snapshot; the policy's standing recipe is what every candidate inherits.
    const standing = this.inputs.policy.standingRecipe;
    let adopted: ReturnType<typeof diffRecipe> = [];
    if (Object.keys(standing).length > 0) {
      const forkRecipe = parseRecipeYaml(files[recipePath], recipePath);
      adopted = diffRecipe(forkRecipe, standing).filter((c) => c.to !== null || standing[c.path] === null);
      if (adopted.length > 0) {
        const content = applyToYaml(files[recipePath], adopted);
        this.files.write(recipePath, content);
        files[recipePath] = content;
      }
    }
    const out: OpenOutput = {
      recipePath,
      files,
      adopted,
      mutationSeed: mutationSeedOf(this.inputs.fork),
      substrate: { name: this.substrate.name, version: this.substrate.version },
    };
    return okOut(out);
  }

  private recipeWarnings(before: string, after: string): { changes: ReturnType<typeof diffRecipe>; warnings: string[] } {
    const changes = diffRecipe(parseRecipeYaml(before), parseRecipeYaml(after));
    const warnings: string[] = [];
    for (const c of changes) {
      const d = matchingDeadEnd(c, this.inputs.policy.deadEnds);
      if (d) warnings.push(`${c.path}: matches dead end "${d.description}" (round ${d.round})`);
    }
    if (this.inputs.fork.isAnchor && changes.length > 0) warnings.push('this candidate is the baseline anchor: it must run the standing recipe unchanged');
    return { changes, warnings };
  }

  private writeFile(path: string, content: string): StepOutcome {
    const rel = this.files.normalise(path);
    const s = this.summary();
    const isRecipe = rel === this.substrate.recipe;
    if (isRecipe) {
      try {
        parseRecipeYaml(content, rel);
      } catch (err) {
        return fail('INVALID_RECIPE', (err as Error).message);
      }
    }
    const before = s.current.get(rel) ?? null;
    const w = this.files.write(rel, content);
    const out: WriteOutput = { path: w.path, bytes: w.bytes, sha256: sha256Hex(content), content };
    let changes: WriteOutput['changes'] = [];
    if (isRecipe && before !== null) {
      const r = this.recipeWarnings(before, content);
      changes = r.changes;
      out.changes = r.changes;
      out.warnings = r.warnings;
    }
    return okOut(out, [{ type: RecipeChanged.type, data: { candidateId: this.candidateId, file: w.path, changes, diff: unifiedDiff(w.path, before, content) } }]);
  }

  private setRecipe(settings: Array<{ path: string; value: unknown }>): StepOutcome {
    const before = this.currentRecipe();
    let after: string;
    try {
      after = applyToYaml(before, settings.map((s) => ({ path: s.path, to: s.value })));
      parseRecipeYaml(after);
    } catch (err) {
      return fail('INVALID_RECIPE', (err as Error).message);
    }
    return this.writeFile(this.substrate.recipe, after);
  }

  private placeholders(extra: Record<string, string>): Record<string, string> {
    return {
      sandbox: this.inputs.fork.sandboxPath,
      base_checkpoint: this.substrate.baseCheckpoint,
      size: this.config.size,
      device: this.config.device,
      ...extra,
    };
  }

  private jobSpec(jobId: string, entrypoint: 'prepare-data' | 'train', values: Record<string, string>): JobSpec {
    const ep = this.substrate.entrypoints[entrypoint];
    const placeholders = this.placeholders(values);
    return {
      jobId,
      candidateId: this.candidateId,
      round: this.inputs.fork.round,
      entrypoint,
      sandboxPath: this.inputs.fork.sandboxPath,
      argv: renderEntrypoint(this.substrate, entrypoint, placeholders),
      env: {},
      resources: this.substrate.resources[entrypoint],
      timeoutSeconds: ep.timeoutSeconds ?? this.config.jobTimeoutSeconds ?? 3600,
      priority: 'normal',
      // The job writes only what its entrypoint declares; everything pinned is mounted from the snapshot.
      isolation: { snapshotId: this.inputs.fork.snapshotId, ...entrypointIsolation(this.substrate, entrypoint, placeholders) },
    };
  }

  /** Records JobRequested once per jobId (a resumed step finds it in the trace) and hands the job to the port. */
  private async requestJob(spec: JobSpec): Promise<void> {
    await this.apply({ kind: 'RequestJob', spec });
    await this.ports.jobs.submit(spec);
  }

  private view(spec: JobSpec | undefined, jobId: string, t: JobTerminal | null): JobView {
    return {
      jobId,
      entrypoint: spec?.entrypoint ?? 'unknown',
      status: t ? t.status : 'running',
      exitCode: t?.exitCode ?? null,
      reason: t?.reason ?? null,
      message: t?.message ?? null,
      gpuSeconds: t?.gpuSeconds ?? 0,
      wallSeconds: t?.wallSeconds ?? 0,
    };
  }

  private terminals = new Map<string, JobTerminal>();

  private async waitJob(jobId: string, seconds: number): Promise<JobTerminal | null> {
    const known = this.terminals.get(jobId);
    if (known) return known;
    if (seconds > 0) await this.flush();
    const t = await this.ports.jobs.wait(jobId, Math.max(0, seconds) * 1000);
    if (t) this.terminals.set(jobId, t);
    return t;
  }

  /** Waits for a job the step itself depends on (prepare-data), as long as its timeout allows. */
  private async waitJobToEnd(spec: JobSpec): Promise<JobTerminal | null> {
    const deadline = Date.now() + (spec.timeoutSeconds + 3600) * 1000;
    while (Date.now() < deadline) {
      const t = await this.waitJob(spec.jobId, Math.min(60, Math.ceil((deadline - Date.now()) / 1000)));
      if (t) return t;
    }
    return null;
  }

  private async tail(jobId: string | undefined, lines: number): Promise<string> {
    if (!jobId) return '';
    const t = this.terminals.get(jobId) ?? (await this.ports.jobs.wait(jobId, 0));
    const text = t ? t.logTail : ((await this.ports.jobs.logTail?.(jobId, lines)) ?? '');
    return text.split('\n').slice(-lines).join('\n');
  }

  /** Runs prepare-data for the current recipe unless this candidate already prepared the very same recipe. */
  private async prepare(k: number): Promise<PrepareOutput> {
    const recipe = this.currentRecipe();
    const recipeSha = sha256Hex(recipe);
    const dataDir = `prepared/${recipeSha.slice(0, 12)}`;
    const s = this.summary();
    const earlier = [...s.jobs.values()].find((j) => j.entrypoint === 'prepare-data' && j.status === 'succeeded' && this.preparedSha.get(j.jobId) === recipeSha);
    if (earlier) return { recipeSha, dataDir, cached: true, job: null };
    // The job trains on a copy, so a later edit of the recipe cannot change a run already launched.
    this.files.writeOutput(`${dataDir}/recipe.yaml`, recipe);
    const spec = this.jobSpec(jobIdOf(this.candidateId, k, 'prep'), 'prepare-data', {
      recipe: `${dataDir}/recipe.yaml`,
      data_dir: `${dataDir}/data`,
      seed: String(this.inputs.fork.seeds[0]),
    });
    await this.requestJob(spec);
    const t = await this.waitJobToEnd(spec);
    return { recipeSha, dataDir, cached: false, job: this.view(spec, spec.jobId, t) };
  }

  /** recipe sha of every prepare job this candidate requested (from the trace: its recipe copy path). */
  private get preparedSha(): Map<string, string> {
    const m = new Map<string, string>();
    for (const step of this.trace.steps) {
      const o = step?.outcome;
      if (!o) continue;
      const out = o.output as { job?: JobView; recipeSha?: string; prepare?: PrepareOutput } | null;
      if (step.tool === 'preview_data' && out?.job && out.recipeSha) m.set(out.job.jobId, out.recipeSha);
      if (step.tool === 'launch_training' && out?.prepare?.job) m.set(out.prepare.job.jobId, out.prepare.recipeSha);
    }
    return m;
  }

  private async launch(k: number, seed: number): Promise<StepOutcome> {
    const prep = await this.prepare(k);
    if (prep.job && prep.job.status !== 'succeeded')
      return fail('PREPARE_FAILED', `prepare-data ${prep.job.status}${prep.job.reason ? ` (${prep.job.reason})` : ''}: ${prep.job.message ?? ''}`, {
        job: prep.job,
      });
    const recipe = this.currentRecipe();
    const runDir = runDirOf(k, seed);
    this.files.writeOutput(`${runDir}/recipe.yaml`, recipe);
    const checkpointsDir = `${runDir}/ckpt`;
    const spec = this.jobSpec(jobIdOf(this.candidateId, k, 'train'), 'train', {
      recipe: `${runDir}/recipe.yaml`,
      data_dir: `${prep.dataDir}/data`,
      checkpoints_dir: checkpointsDir,
      seed: String(seed),
    });
    await this.requestJob(spec);
    const out: LaunchOutput = { jobId: spec.jobId, seed, runDir, checkpointsDir, recipeSha: sha256Hex(recipe), prepare: prep };
    return okOut(out);
  }

  private async poll(jobId: string, waitSeconds: number): Promise<StepOutcome> {
    const spec = this.trace.jobsRequested.get(jobId);
    if (!spec) return fail('UNKNOWN_JOB', `no job ${jobId} was launched by this candidate`);
    const t = await this.waitJob(jobId, Math.min(waitSeconds, this.maxWaitSeconds()));
    return okOut(this.view(spec, jobId, t));
  }

  private async evaluate(jobId: string, waitSeconds: number, criterion: SelectionCriterion | undefined): Promise<StepOutcome> {
    const spec = this.trace.jobsRequested.get(jobId);
    if (!spec || spec.entrypoint !== 'train') return fail('UNKNOWN_JOB', `no training job ${jobId} was launched by this candidate`);
    const done = this.summary().evaluations.get(jobId);
    if (done) return okOut(done); // a finished evaluation is never repeated
    const run = this.summary().runs.get(jobId);
    const t = await this.waitJob(jobId, Math.min(waitSeconds, this.maxWaitSeconds()));
    const job = this.view(spec, jobId, t);
    if (!t) return fail('JOB_RUNNING', `training job ${jobId} has not finished yet; poll it and evaluate afterwards`, { job });
    if (t.status !== 'succeeded') return fail('JOB_NOT_SUCCEEDED', `training job ${jobId} ${t.status}; it has no checkpoints to evaluate`, { job });
    const launchOut = this.trace.steps[run?.step ?? -1]?.outcome?.output as LaunchOutput | undefined;
    const ckptDir = launchOut?.checkpointsDir;
    if (!ckptDir || !run) return fail('UNKNOWN_JOB', `no launch record for ${jobId}`);
    let summaryDoc: TrainSummary;
    try {
      const parsed = TrainSummary.safeParse(JSON.parse(this.files.readWhole(`${ckptDir}/train-summary.json`)));
      if (!parsed.success) throw new Error(describeIssues(zodIssues(parsed.error)));
      summaryDoc = parsed.data;
    } catch (err) {
      return fail('INVALID_OUTPUT', `${ckptDir}/train-summary.json: ${(err as Error).message}`, { failure: 'invalid-output', job });
    }
    if (summaryDoc.checkpoints.length === 0) return fail('INVALID_OUTPUT', `${ckptDir}/train-summary.json lists no checkpoints`, { failure: 'invalid-output', job });
    const request: EvaluationRequest = {
      requestId: `${jobId}-eval`,
      candidateId: this.candidateId,
      round: this.inputs.fork.round,
      sandboxPath: this.inputs.fork.sandboxPath,
      checkpoints: summaryDoc.checkpoints.map((d) => `${ckptDir}/${d}`),
      seed: run.seed,
      criterion: criterion ?? this.inputs.policy.selectionCriterion,
    };
    await this.apply({ kind: 'RequestEvaluation', request });
    await this.ports.evaluator.submit(request, this.inputs.fork.snapshotId);
    const result = await this.ports.evaluator.wait(request, Math.max(0, waitSeconds) * 1000);
    if (!result) return fail('EVALUATION_PENDING', `evaluation ${request.requestId} is still running; call evaluate_checkpoints again to wait for it`, { job });
    if (result.checkpoints.length === 0)
      return fail('EVALUATION_FAILED', `no checkpoint of ${jobId} could be evaluated: ${result.failures.map((f) => `${f.checkpoint}: ${f.reason}`).join('; ')}`, {
        failure: 'evaluation-failed',
        job,
      });
    // The evaluation service's selection is the one recorded; the worker never re-selects. None recorded although
    // checkpoints were scored is the evaluation's failure, not something to paper over.
    const selected = result.selected;
    if (!selected || !result.checkpoints.some((c) => c.checkpoint === selected.checkpoint))
      return fail(
        'EVALUATION_FAILED',
        selected
          ? `evaluation ${request.requestId} selected ${selected.checkpoint}, which is not among its evaluated checkpoints`
          : `evaluation ${request.requestId} scored ${result.checkpoints.length} checkpoint(s) but recorded no selection`,
        { failure: 'evaluation-failed', job },
      );
    const out: EvaluateOutput = {
      jobId,
      requestId: request.requestId,
      seed: run.seed,
      job,
      checkpoints: result.checkpoints,
      selected: { checkpoint: selected.checkpoint, score: selected.score, criterion: describeCriterion(selected.criterion) },
      failures: result.failures,
    };
    return okOut(out);
  }

  private async submit(k: number, sub: Submission, finalizing: FinalizeInput | null): Promise<StepOutcome> {
    if (this.trace.finished) return fail('FINISHED', 'the candidate is already finished');
    let manifest: ResultManifest;
    // A finalize step's failure mode is already in the summary: its intent is in the trace.
    void finalizing;
    try {
      manifest = buildManifest(this.inputs, this.config, this.summary(), { length: k + 1, jobsRequested: this.trace.jobsRequested.size }, sub);
    } catch (err) {
      if (err instanceof DomainError) return fail(err.code, `${err.message}: ${describeIssues(err.issues)}`, { issues: err.issues });
      throw err;
    }
    const events: CandidateEvent[] = [];
    if (manifest.status === 'failed') events.push({ type: WorkerFailed.type, data: { candidateId: this.candidateId, round: this.inputs.fork.round, reason: sub.reason, step: k } });
    events.push({ type: ManifestSubmitted.type, data: { candidateId: this.candidateId, round: this.inputs.fork.round, manifest } });
    return okOut({ manifest }, events);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Trace mechanics

  /** Only before a step not yet recorded: a resumed worker replays its recorded steps whatever happened since. */
  private async checkStop(): Promise<void> {
    if (!this.hooks.stopRequested || this.cursor < this.trace.steps.length) return;
    const reason = await this.hooks.stopRequested();
    if (reason) throw new CandidateStoppedError(this.candidateId, reason);
  }

  private async step(tool: string, rawInput: unknown, exec: (k: number) => Promise<StepOutcome>, llm?: LlmCall): Promise<{ ok: boolean; output: unknown }> {
    const input = toJson(rawInput);
    const k = this.cursor++;
    const recorded = this.trace.steps[k];
    if (recorded) {
      if (!sameCall(this.trace, k, tool, input)) throw new TraceDivergedError(k, recorded, tool, input);
      if (recorded.outcome) return { ok: recorded.outcome.ok, output: recorded.outcome.output };
    } else {
      // The intent is staged: it lands with the step's first append (the job or evaluation it requests, or its
      // outcome), or before anything waits. A model request is the exception: it is recorded before the call.
      this.stage({ kind: 'RecordIntent', candidateId: this.candidateId, step: k, tool, input, llm });
      if (tool === 'llm') await this.flush();
    }
    const res = await exec(k);
    await this.apply({ kind: 'RecordOutcome', candidateId: this.candidateId, step: k, tool, ok: res.ok, output: res.output, llm: res.llm, facts: res.events });
    return { ok: res.ok, output: res.output };
  }

  private envelope(e: CandidateEvent): EventEnvelope {
    const def = eventDefinition(e.type);
    if (!def) throw new Error(`unknown event type ${e.type}`);
    return createEvent(def, e.data as never, {
      campaignId: this.config.campaignId,
      streamId: candidateStreamId(this.candidateId),
      source: 'worker',
      causationId: this.config.forkEventId ?? null,
      correlationId: this.candidateId,
      now: this.config.now,
    });
  }

  /**
   * Decides a command on the trace (the pure candidate decider) and folds the result into `trace` without appending
   * it yet: staged events are appended together by the next `apply`/`flush`. Nothing outside this process can
   * depend on a staged event, so merging appends changes no outcome — only how many round trips a step costs (a
   * candidate's steps before its first job went from nine appends to five; bench/campaign/overhead.js).
   */
  private stage(cmd: CandidateCommand): void {
    for (const e of decideCandidate(cmd, this.trace)) {
      const env = this.envelope(e);
      this.staged.events.push(env);
      this.trace = evolveTrace(this.trace, env);
    }
    this.staged.commands.push(cmd);
  }

  /** Appends what is staged (a step's intent) before the runtime waits on anything outside its process. */
  private async flush(): Promise<void> {
    if (this.staged.commands.length > 0) await this.apply();
  }

  /**
   * Stages `cmd` (if any) and appends everything staged, atomically, at the version the stream was read at. A
   * conflicting append by another worker replica means it owns the candidate now; anyone else's event in the
   * stream is folded and the staged commands decided again on it.
   */
  private async apply(cmd?: CandidateCommand): Promise<void> {
    if (cmd) this.stage(cmd);
    for (let attempt = 0; ; attempt++) {
      const events = this.staged.events;
      if (events.length === 0) {
        this.staged = { commands: [], events: [] };
        return;
      }
      try {
        await this.ports.log.append(events, this.durable.version);
      } catch (err) {
        if ((err as { code?: string }).code !== 'CONCURRENCY_CONFLICT' || attempt >= 5) throw err;
        const all = await this.ports.log.read();
        const fresh = all.slice(this.durable.version);
        if (fresh.some((e) => e.source === 'worker')) throw new LeaseLostError(this.candidateId);
        this.durable = fresh.reduce(evolveTrace, this.durable);
        const commands = this.staged.commands;
        this.staged = { commands: [], events: [] };
        this.trace = this.durable;
        for (const c of commands) this.stage(c);
        continue;
      }
      this.durable = this.trace;
      this.staged = { commands: [], events: [] };
      if (this.hooks.afterAppend) await this.hooks.afterAppend({ traceEvents: this.traceEventCount(), version: this.durable.version, lastEvent: events[events.length - 1] });
      return;
    }
  }

  private traceEventCount(): number {
    let n = 0;
    for (const s of this.trace.steps) if (s) n += s.outcome ? 2 : 1;
    return n;
  }
}

export { candidateStreamId };
