import { canonicalJson, type EventContext, type EventEnvelope } from '@aevo/contracts';
import { handle } from '@aevo/eventstore';
import type { CandidateLog, WorkerConfig } from './ports';
import { candidateStreamId, evolveTrace, type LlmCall, type TraceState } from './trace';
import { decideCandidate, sameCall, type CandidateCommand } from './domain/candidate';
import {
  candidateStreamDecider,
  envelopeOf,
  LeaseLostError,
  type CandidateStreamState,
} from './domain/candidate-stream';
import { toJson, type StepOutcome } from './tools/outcome';

/** The trace says step k was a different call than the one being replayed: the agent is not deterministic. */
export class TraceDivergedError extends Error {
  constructor(
    public readonly step: number,
    recorded: { tool: string; input: unknown },
    tool: string,
    input: unknown,
  ) {
    super(
      `trace step ${step} recorded ${recorded.tool}(${canonicalJson(recorded.input).slice(0, 200)}) but ` +
        `the agent now calls ${tool}(${canonicalJson(input).slice(0, 200)})`,
    );
    this.name = 'TraceDivergedError';
  }
}

export { LeaseLostError };

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

export interface RuntimeHooks {
  /** Called after every append to the candidate stream (tests use it to crash the process at a given step). */
  afterAppend?(info: { traceEvents: number; version: number; lastEvent: EventEnvelope }): Promise<void> | void;
  /**
   * Asked before each new agent step (tool call or model request): a reason (e.g. the campaign was aborted) stops
   * the candidate with CandidateStoppedError before the step is recorded; null lets it go on.
   */
  stopRequested?(): Promise<string | null> | string | null;
}

/**
 * The trace mechanics of one candidate: every step's intent is recorded before it acts and its outcome after; a
 * resumed engine replays recorded outcomes in order and executes only what was never recorded. Commands are decided
 * by the pure candidate decider and staged; staged events are appended together through `handle()` (at the version
 * the stream was read at, re-decided on a conflict) by the next `apply`/`flush`.
 */
export class TraceEngine {
  private current: TraceState;
  /** The trace as the stream holds it (the expected version of the next append). */
  private durable: TraceState;
  /**
   * The candidate stream as the last append left it (trace and last worker version), for `handle()`'s `from`: the
   * next append reads only what others wrote since. Null until this engine's first append (then the stream is read
   * whole once).
   */
  private stream: CandidateStreamState | null = null;
  private staged: { commands: CandidateCommand[]; events: EventEnvelope[] } = { commands: [], events: [] };
  private readonly ctx: EventContext & { candidateId: string };
  /** The next step's index (behind the trace's length while replaying). */
  cursor = 0;

  constructor(
    private readonly candidateId: string,
    private readonly config: WorkerConfig,
    private readonly log: CandidateLog,
    private readonly hooks: RuntimeHooks,
    trace: TraceState,
  ) {
    this.current = trace;
    this.durable = trace;
    this.ctx = {
      candidateId,
      campaignId: config.campaignId,
      streamId: candidateStreamId(candidateId),
      source: 'worker',
      causationId: config.forkEventId ?? null,
      correlationId: candidateId,
      now: config.now,
    };
  }

  /** The trace including what is staged. */
  get trace(): TraceState {
    return this.current;
  }

  /** True while recorded steps are being replayed after a resume. */
  get replaying(): boolean {
    return this.cursor < this.current.steps.length;
  }

  /** Skips what remains of the replay (the candidate is abandoned at the end of its trace). */
  skipReplay(): void {
    this.cursor = this.current.steps.length;
  }

  /** Only before a step not yet recorded: a resumed worker replays its recorded steps whatever happened since. */
  async checkStop(): Promise<void> {
    if (!this.hooks.stopRequested || this.cursor < this.current.steps.length) return;
    const reason = await this.hooks.stopRequested();
    if (reason) throw new CandidateStoppedError(this.candidateId, reason);
  }

  /** Stop reason for an agent waiting inside a step (null: go on). */
  async stopReason(): Promise<string | null> {
    return (await this.hooks.stopRequested?.()) ?? null;
  }

  /** Runs step `cursor`: replays its recorded outcome, or records its intent, executes it and records the outcome. */
  async step(
    tool: string,
    rawInput: unknown,
    exec: (k: number) => Promise<StepOutcome>,
    llm?: LlmCall,
  ): Promise<{ ok: boolean; output: unknown }> {
    const input = toJson(rawInput);
    const k = this.cursor++;
    const recorded = this.current.steps[k];
    if (recorded) {
      if (!sameCall(this.current, k, tool, input)) throw new TraceDivergedError(k, recorded, tool, input);
      if (recorded.outcome) return { ok: recorded.outcome.ok, output: recorded.outcome.output };
    } else {
      // The intent is staged: it lands with the step's first append (the job or evaluation it requests, or its
      // outcome), or before anything waits. A model request is the exception: it is recorded before the call.
      this.stage({ kind: 'RecordIntent', candidateId: this.candidateId, step: k, tool, input, llm });
      if (tool === 'llm') await this.flush();
    }
    const res = await exec(k);
    await this.apply({
      kind: 'RecordOutcome',
      candidateId: this.candidateId,
      step: k,
      tool,
      ok: res.ok,
      output: res.output,
      llm: res.llm,
      facts: res.events,
    });
    return { ok: res.ok, output: res.output };
  }

  /**
   * Decides a command on the trace (the pure candidate decider) and folds the result into `trace` without appending
   * it yet: staged events are appended together by the next `apply`/`flush`. Nothing outside this process can
   * depend on a staged event, so merging appends changes no outcome — only how many round trips a step costs (a
   * candidate's steps before its first job went from nine appends to five; bench/campaign/overhead.js).
   */
  stage(cmd: CandidateCommand): void {
    for (const e of decideCandidate(cmd, this.current)) {
      const env = envelopeOf(e, this.ctx);
      this.staged.events.push(env);
      this.current = evolveTrace(this.current, env);
    }
    this.staged.commands.push(cmd);
  }

  /** Appends what is staged (a step's intent) before the runtime waits on anything outside its process. */
  async flush(): Promise<void> {
    if (this.staged.commands.length > 0) await this.apply();
  }

  /**
   * Stages `cmd` (if any) and appends everything staged, atomically, through `handle()`: at the version the stream
   * was read at, as decided; on a conflict the stream is re-read and, unless another worker replica appended (it
   * owns the candidate now: LeaseLostError), the staged commands are decided again on it (COMMAND_RETRIES).
   */
  async apply(cmd?: CandidateCommand): Promise<void> {
    if (cmd) this.stage(cmd);
    const staged = this.staged;
    this.staged = { commands: [], events: [] };
    // Nothing decided (a job or evaluation already requested): no round trip.
    if (staged.events.length === 0) return;
    let outcome;
    try {
      outcome = await handle(
        this.log.store,
        this.log.streamId,
        candidateStreamDecider(this.ctx),
        { commands: staged.commands, decidedAt: { version: this.durable.version, events: staged.events } },
        this.stream ? { from: { state: this.stream, version: this.stream.trace.version } } : {},
      );
    } catch (err) {
      this.staged = staged;
      throw err;
    }
    this.stream = outcome.state;
    this.durable = this.current = outcome.state.trace;
    if (this.hooks.afterAppend && outcome.events.length > 0)
      await this.hooks.afterAppend({
        traceEvents: this.traceEventCount(),
        version: this.durable.version,
        lastEvent: outcome.events[outcome.events.length - 1],
      });
  }

  private traceEventCount(): number {
    let n = 0;
    for (const s of this.current.steps) if (s) n += s.outcome ? 2 : 1;
    return n;
  }
}
