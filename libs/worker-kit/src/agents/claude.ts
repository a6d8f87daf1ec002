import Anthropic from '@anthropic-ai/sdk';
import { AXIS_CATEGORY, canonicalJson, claudeModelProblem, sha256Hex } from '@aevo/contracts';
import { CandidateStoppedError, TraceDivergedError, type WorkerRuntime } from '../runtime';
import { anthropicTools, type ToolName, type ToolResult, TOOL_NAMES } from '../tools';
import type { LlmCall } from '../trace';
import type { WorkerAgent } from './agent';
import { HeuristicAgent } from './heuristic';

/**
 * How long the worker keeps asking an API that answers 429, 529, 5xx or not at all. The SDK's own retries (its
 * `maxRetries`, honouring `retry-after`) absorb short blips inside one attempt; this policy outlasts storms.
 */
export interface ClaudeRetryPolicy {
  /** Give up on a request when the next wait would end later than this after its first attempt. */
  patienceMs: number;
  /** Backoff without a `retry-after`: base·2^(n-1), capped, with jitter (a random half of it). */
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * How the conversation is kept inside the context window. Before each request the prompt is counted (the
 * Messages API's count_tokens); above `clearAtTokens` every tool result older than the last `keepRecentTurns`
 * turns is replaced by a one-line note (the model can call the tool again), so the prompt stays bounded and the
 * cached prefix changes only when a batch is cleared. A request refused as too long, or stopped because the
 * window filled, is retried once with every tool result but the latest cleared.
 */
export interface ClaudeContextPolicy {
  clearAtTokens: number;
  keepRecentTurns: number;
  /** A tool result longer than this (characters) is cut, with a note saying how to read the rest. */
  maxToolResultChars: number;
}

export interface ClaudeAgentOptions {
  /** A real SDK client; tests point its `baseURL` at a loopback server speaking the Messages API. */
  client: Anthropic;
  /** A model id of the installed SDK's list (@aevo/contracts CLAUDE_MODELS), not retired (checked when the agent is made). */
  model: string;
  /** The frozen constitution text (or the part workers need); sent as a cached system block. */
  constitutionExcerpt: string;
  /** max_tokens of a turn. */
  maxTokensPerTurn?: number;
  /**
   * A turn cut at max_tokens is asked again with twice the room, up to this (default 32,000; within the model's
   * max_tokens limit). Beyond what the SDK sends without streaming (~21,333 tokens) the request is streamed.
   */
  maxTokensCeiling?: number;
  retry?: Partial<ClaudeRetryPolicy>;
  context?: Partial<ClaudeContextPolicy>;
  /** TTL of the cache breakpoints: 1h outlives the worker's waits on jobs (up to 10 minutes); 5m does not. */
  cacheTtl?: '5m' | '1h';
  /** Count the prompt's tokens (count_tokens) before each request (default true). */
  countTokens?: boolean;
  /** Ends without submit_manifest (or empty turns) tolerated (the model is reminded) before the candidate is closed. */
  maxNudges?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Clock of the retry policy (ms). */
  now?: () => number;
  /** Jitter source in [0, 1). */
  random?: () => number;
}

export const DEFAULT_RETRY_POLICY: ClaudeRetryPolicy = {
  patienceMs: 15 * 60_000,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
};
export const DEFAULT_CONTEXT_POLICY: ClaudeContextPolicy = {
  clearAtTokens: 60_000,
  keepRecentTurns: 4,
  maxToolResultChars: 16_000,
};

type Block = { type: string; [k: string]: unknown };
type Message = { role: 'user' | 'assistant'; content: string | Block[] };

interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

/** What a model step records as its outcome: the final response, how it was obtained and what was sent. */
export interface RecordedResponse {
  id: string | null;
  model: string;
  stop_reason: string | null;
  content: Block[];
  usage: Usage;
  /** The request that produced `content` (after any clearing or extra room): model, max_tokens, prompt hash. */
  request: ModelRequestRecord;
  /** Messages before this index had their tool results cleared when the request was sent. */
  clearedBefore: number;
  /** Prompt tokens counted before the request, or null when not counted. */
  countedTokens: number | null;
  /** HTTP attempts (the SDK's own retries inside one attempt are not counted). */
  attempts: number;
  errors: string[];
  /** Earlier answers of this step that were cut at max_tokens or by the context window and asked again. */
  retriedStops: string[];
  /** Whether the final request was streamed (its max_tokens beyond the SDK's non-streaming range). */
  streamed: boolean;
}

/** A model request as recorded in the trace: enough to tell whether a resumed worker asks the same thing. */
export interface ModelRequestRecord {
  model: string;
  max_tokens: number;
  /** sha256 of the canonical JSON of system, tools and messages as sent. */
  promptSha256: string;
}

/** A resumed worker would send a different request than the recorded one: prompts, tools or model changed. */
export class ModelRequestChangedError extends TraceDivergedError {
  constructor(step: number, recorded: unknown, now: unknown) {
    super(step, { tool: 'llm', input: recorded }, 'llm', now);
    this.message = `model request of trace step ${step} differs from the recorded one (recorded ${canonicalJson(recorded)}, now ${canonicalJson(now)}); the model, its parameters, the prompts or the tools changed since the candidate started`;
    this.name = 'ModelRequestChangedError';
  }
}

const RETRYABLE_STATUS = (status: number): boolean =>
  status === 408 || status === 409 || status === 429 || status >= 500;

const NUDGE =
  'You have not called submit_manifest yet. Continue with the tools, and finish by calling submit_manifest.';

/** Only the fields the Messages API accepts back in an assistant turn. */
function sanitise(block: Block): Block {
  if (block.type === 'text') return { type: 'text', text: block.text };
  if (block.type === 'tool_use') return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
  return block;
}

const isEmptyTurn = (content: Block[]): boolean =>
  content.every((b) => b.type === 'text' && String(b.text ?? '').trim() === '');

/**
 * What the model is shown of a tool result: a written file is not echoed back (the model wrote it), and anything
 * longer than `maxChars` is cut with a note saying how much is missing (with the default 16,000 characters a
 * 64 KiB read_file or a 500-line log tail costs at most ~4,000 tokens).
 */
export function toolResultText(name: string, r: ToolResult, maxChars: number): string {
  let value: unknown = r.ok ? r.value : { error: r.error };
  if (r.ok && name === 'write_file' && value && typeof value === 'object') {
    const { content: _written, ...rest } = value as Record<string, unknown>;
    void _written;
    value = rest;
  }
  // Canonical (sorted keys): a replayed result comes back from the event store with its keys in another order,
  // and the resumed worker must send the very same prompt.
  const text = canonicalJson(value);
  if (text.length <= maxChars) return text;
  return `${text.slice(0, maxChars)}\n[cut: ${text.length - maxChars} more characters; read_file with offset/limit, or read_log_tail with fewer lines, shows a part]`;
}

/**
 * The Claude worker: the same tools as Anthropic tool definitions, the policy and axis in the first user turn,
 * the constitution excerpt as a system block. Every request (its parameters and prompt hash, usage, stop reason
 * and the response) is a trace step, so a resumed worker replays the conversation without calling the model
 * again, and refuses to go on if it would now ask something else. See the README's Claude worker table for how
 * each kind of answer ends.
 */
export class ClaudeAgent implements WorkerAgent {
  readonly kind = 'claude' as const;
  private readonly retry: ClaudeRetryPolicy;
  private readonly context: ClaudeContextPolicy;
  private readonly maxTokensPerTurn: number;
  private readonly maxTokensCeiling: number;

  constructor(private readonly opts: ClaudeAgentOptions) {
    const problem = claudeModelProblem(opts.model, new Date());
    if (problem) throw new Error(`Claude worker: ${problem}`);
    this.retry = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    this.context = { ...DEFAULT_CONTEXT_POLICY, ...opts.context };
    this.maxTokensPerTurn = opts.maxTokensPerTurn ?? 4096;
    this.maxTokensCeiling = Math.max(this.maxTokensPerTurn, opts.maxTokensCeiling ?? 32_000);
  }

  /** The SDK refuses a non-streaming request whose max_tokens could take longer than 10 minutes: stream those. */
  private needsStreaming(maxTokens: number): boolean {
    try {
      this.opts.client.calculateNonstreamingTimeout(maxTokens);
      return false;
    } catch {
      return true;
    }
  }

  initialPrompt(rt: WorkerRuntime): string {
    const { fork, policy } = rt.inputs;
    const s = rt.substrate;
    return [
      `Candidate ${fork.candidateId} (round ${fork.round}, index ${fork.index}).`,
      fork.isAnchor
        ? `You are the BASELINE ANCHOR: run the standing recipe unchanged with each seed ${JSON.stringify(fork.seeds)}, evaluate, submit.`
        : `Your axis: ${fork.axis} (category ${AXIS_CATEGORY[fork.axis]}). Seeds: ${JSON.stringify(fork.seeds)}.`,
      `Substrate ${s.name} ${s.version}: recipe file ${s.recipe}; editable ${JSON.stringify(s.editable)}; frozen ${JSON.stringify(s.frozen)}; metric ${s.metric.name} over domains ${s.metric.domains.join(', ')}.`,
      `Rolling policy (revision ${policy.revision}):`,
      JSON.stringify(
        {
          objective: policy.objective,
          standingRecipe: policy.standingRecipe,
          activeAxes: policy.activeAxes,
          deadEnds: policy.deadEnds.map((d) => ({
            description: d.description,
            axis: d.axis,
            path: d.path,
            direction: d.direction,
            value: d.value,
            round: d.round,
          })),
          evidenceRules: policy.evidenceRules.map((r) => r.rule),
          selectionCriterion: policy.selectionCriterion,
          // How large and how combined a move may be: directions that paid (widen the step along them by the
          // factor's stepScale power) and how many settings one move may combine.
          ...(policy.searchHints ? { searchHints: policy.searchHints } : {}),
        },
        null,
        1,
      ),
      ...(policy.searchHints
        ? [
            `Search hints: one move may combine up to ${policy.searchHints.maxKnobsPerMove} settings on distinct paths; along a listed direction, continue it with your usual step factor f raised to its stepScale (f^stepScale), and say in your hypothesis which rounds it paid in.`,
          ]
        : []),
      `Budget: ${rt.budget.maxToolCalls} tool calls and ${rt.budget.maxTokens} tokens. Finish with submit_manifest.`,
    ].join('\n');
  }

  /**
   * The request as sent: tools and system cached together (breakpoint on the last system block), and two
   * breakpoints on the conversation — its last block, and the last block of the previous request's last message,
   * whose cache entry that request wrote — three of the API's four, all with the same TTL.
   */
  compose(system: Block[], tools: Block[], messages: Message[], clearedBefore: number, maxTokens: number) {
    const cc = { type: 'ephemeral' as const, ttl: this.opts.cacheTtl ?? '1h' };
    const sys = system.map((b, i) => (i === system.length - 1 ? { ...b, cache_control: cc } : b));
    const rendered: Message[] = messages.map((m, i) => {
      if (i >= clearedBefore || typeof m.content === 'string' || m.role !== 'user') return m;
      return {
        role: m.role,
        content: m.content.map((b) =>
          b.type === 'tool_result'
            ? {
                ...b,
                content: `[cleared to keep the context bounded: ${String(b.content).length} characters; call the tool again if you need it]`,
              }
            : b,
        ),
      };
    });
    const marks = [rendered.length - 1, rendered.length - 3].filter((i) => i >= 0 && rendered[i].role === 'user');
    const out = rendered.map((m, i) => {
      if (!marks.includes(i)) return m;
      const blocks: Block[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
      return {
        role: m.role,
        content: blocks.map((b, j) => (j === blocks.length - 1 ? { ...b, cache_control: cc } : b)),
      };
    });
    const record: ModelRequestRecord = {
      model: this.opts.model,
      max_tokens: maxTokens,
      promptSha256: sha256Hex(canonicalJson({ system: sys, tools, messages: out })),
    };
    return { params: { model: this.opts.model, max_tokens: maxTokens, system: sys, tools, messages: out }, record };
  }

  async run(rt: WorkerRuntime): Promise<void> {
    // A prescribed run (confirmation or probe) has nothing for the model to choose: the deterministic path applies it.
    if (rt.inputs.fork.prescribed) return new HeuristicAgent().run(rt);
    const o = this.opts;
    const system: Block[] = [
      { type: 'text', text: o.constitutionExcerpt },
      // The brief in force for this candidate (worker-kit's default or the substrate's own), pinned in WorkerStarted.
      { type: 'text', text: rt.brief.text },
    ];
    const tools = anthropicTools() as unknown as Block[];
    const messages: Message[] = [{ role: 'user', content: this.initialPrompt(rt) }];
    let clearedBefore = 0;
    let nudges = 0;
    const nudge = async (why: string): Promise<boolean> => {
      if (++nudges > (o.maxNudges ?? 1)) {
        await this.close(rt, 'agent-error', why);
        return false;
      }
      const last = messages[messages.length - 1];
      if (last.role === 'user') {
        // After an empty assistant turn (dropped) the reminder joins the last user turn, after its tool results.
        const blocks: Block[] =
          typeof last.content === 'string' ? [{ type: 'text', text: last.content }] : last.content;
        last.content = [...blocks, { type: 'text', text: NUDGE }];
      } else messages.push({ role: 'user', content: NUDGE });
      return true;
    };
    for (let turn = 0; ; turn++) {
      if (rt.finished) return;
      const left = rt.budgetLeft();
      if (left.tokens <= 0 || left.toolCalls <= 0) {
        await this.close(
          rt,
          'budget-exhausted',
          `budget spent (${left.tokens <= 0 ? 'tokens' : 'tool calls'}) after ${turn} model turns`,
        );
        return;
      }
      const maxTokens = Math.max(1, Math.min(this.maxTokensPerTurn, left.tokens));
      const { record } = this.compose(system, tools, messages, clearedBefore, maxTokens);
      const intent = { turn, model: o.model, request: record };
      const recorded = rt.nextRecordedStep();
      if (recorded && recorded.tool === 'llm' && canonicalJson(recorded.input) !== canonicalJson(intent))
        throw new ModelRequestChangedError(recorded.step, recorded.input, intent);
      const res = await rt.modelStep(intent as unknown as { turn: number; model: string }, () =>
        this.request(rt, system, tools, messages, clearedBefore, maxTokens, left.tokens),
      );
      if (!res.ok) {
        const err = (res.output as { error?: { code?: string; message?: string } }).error;
        const why =
          err?.code === 'CONTEXT_WINDOW'
            ? `the context window was exceeded even with old tool results cleared: ${err.message}`
            : err?.code === 'UNREACHABLE'
              ? `the Claude API could not be reached: ${err.message}`
              : `Claude API: ${err?.message ?? 'model request failed'}`;
        await this.close(rt, 'agent-error', why);
        return;
      }
      const response = res.output as RecordedResponse;
      clearedBefore = response.clearedBefore;
      if (response.stop_reason === 'refusal') {
        await this.close(rt, 'agent-error', `the model refused to continue (stop_reason refusal) at turn ${turn}`);
        return;
      }
      if (response.stop_reason === 'max_tokens') {
        const spent = rt.budgetLeft().tokens <= 0;
        await this.close(
          rt,
          spent ? 'budget-exhausted' : 'agent-error',
          `turn ${turn} was cut at max_tokens ${response.request.max_tokens}${spent ? ' with the token budget spent' : ' even with the most room allowed'}; its tool calls were not run`,
        );
        return;
      }
      if (response.stop_reason === 'model_context_window_exceeded') {
        await this.close(
          rt,
          'agent-error',
          `turn ${turn} filled the context window even with old tool results cleared; its tool calls were not run`,
        );
        return;
      }
      if (isEmptyTurn(response.content)) {
        if (!(await nudge(`the model kept answering with empty turns (turn ${turn})`))) return;
        continue;
      }
      messages.push({ role: 'assistant', content: response.content.map(sanitise) });
      const uses = response.content.filter((b) => b.type === 'tool_use');
      if (uses.length === 0) {
        if (!(await nudge(`the model stopped (${response.stop_reason}) without submitting a manifest`))) return;
        continue;
      }
      const results: Block[] = [];
      for (const use of uses) {
        const name = String(use.name);
        const r: ToolResult = TOOL_NAMES.includes(name as ToolName)
          ? await rt.call(name as ToolName, use.input)
          : { ok: false as const, error: { code: 'UNKNOWN_TOOL', message: `no tool named ${name}` } };
        results.push({
          type: 'tool_result',
          tool_use_id: use.id,
          content: toolResultText(name, r, this.context.maxToolResultChars),
          ...(r.ok ? {} : { is_error: true }),
        });
        if (rt.finished) return;
      }
      messages.push({ role: 'user', content: results });
    }
  }

  /** Ends the candidate for the agent: a completed manifest if something was evaluated, else a failed one. */
  private async close(rt: WorkerRuntime, failure: 'budget-exhausted' | 'agent-error', reason: string): Promise<void> {
    await rt.finalize({ status: rt.hasEvaluatedCheckpoints() ? 'completed' : 'failed', reason, failure });
  }

  /**
   * One model step: count the prompt (clearing old tool results above the threshold), send it under the retry
   * policy, ask again with more room when the answer was cut at max_tokens, and with the context cleared when the
   * prompt or the answer did not fit the window. Tokens of every answer received are summed into the step's usage.
   */
  private async request(
    rt: WorkerRuntime,
    system: Block[],
    tools: Block[],
    messages: Message[],
    clearedAtStart: number,
    maxTokensAtStart: number,
    tokensLeft: number,
  ): Promise<{ ok: boolean; output: unknown; llm?: LlmCall }> {
    const o = this.opts;
    const errors: string[] = [];
    const retriedStops: string[] = [];
    const total: Usage = {
      input_tokens: 0,
      output_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    };
    let attempts = 0;
    let clearedBefore = clearedAtStart;
    let maxTokens = maxTokensAtStart;
    const clearAllButLast = Math.max(clearedBefore, messages.length - 1);
    let counted: number | null = null;
    if (o.countTokens !== false) {
      counted = await this.count(system, tools, messages, clearedBefore);
      if (counted !== null && counted > this.context.clearAtTokens) {
        clearedBefore = Math.max(clearedBefore, messages.length - 2 * this.context.keepRecentTurns);
        counted = await this.count(system, tools, messages, clearedBefore);
      }
    }
    const llmOf = (model: string, stop: string | null): LlmCall => ({
      model,
      inputTokens: total.input_tokens + total.cache_creation_input_tokens,
      outputTokens: total.output_tokens,
      cacheReadTokens: total.cache_read_input_tokens,
      stopReason: stop,
    });
    for (;;) {
      const { params, record } = this.compose(system, tools, messages, clearedBefore, maxTokens);
      const sent = await this.sendPatiently(rt, params, errors);
      attempts += sent.attempts;
      if (!sent.ok) {
        if (sent.code === 'CONTEXT_WINDOW' && clearedBefore < clearAllButLast) {
          retriedStops.push(`prompt too long with tool results before message ${clearedBefore} cleared`);
          clearedBefore = clearAllButLast;
          continue;
        }
        const used = total.output_tokens > 0 ? llmOf(o.model, null) : undefined;
        return {
          ok: false,
          output: { error: { code: sent.code, message: sent.message, attempts, errors, retriedStops } },
          llm: used,
        };
      }
      const msg = sent.message;
      total.input_tokens += msg.usage.input_tokens;
      total.output_tokens += msg.usage.output_tokens;
      total.cache_read_input_tokens += msg.usage.cache_read_input_tokens ?? 0;
      total.cache_creation_input_tokens += msg.usage.cache_creation_input_tokens ?? 0;
      const spent =
        total.input_tokens + total.output_tokens + total.cache_read_input_tokens + total.cache_creation_input_tokens;
      const stop = msg.stop_reason ?? null;
      const room = Math.min(this.maxTokensCeiling, maxTokens * 2, tokensLeft - spent);
      if (stop === 'max_tokens' && room > maxTokens) {
        retriedStops.push(`max_tokens at ${maxTokens}`);
        maxTokens = room;
        continue;
      }
      if (stop === 'model_context_window_exceeded' && clearedBefore < clearAllButLast) {
        retriedStops.push(`context window filled with tool results before message ${clearedBefore} cleared`);
        clearedBefore = clearAllButLast;
        continue;
      }
      const out: RecordedResponse = {
        id: msg.id ?? null,
        model: msg.model,
        stop_reason: stop,
        content: JSON.parse(JSON.stringify(msg.content)) as Block[],
        usage: total,
        request: record,
        clearedBefore,
        countedTokens: counted,
        attempts,
        errors,
        retriedStops,
        streamed: sent.streamed,
      };
      return { ok: true, output: out, llm: llmOf(msg.model, stop) };
    }
  }

  private async count(
    system: Block[],
    tools: Block[],
    messages: Message[],
    clearedBefore: number,
  ): Promise<number | null> {
    const { params } = this.compose(system, tools, messages, clearedBefore, 1);
    try {
      const r = await this.opts.client.messages.countTokens({
        model: params.model,
        system: params.system as unknown as Anthropic.TextBlockParam[],
        tools: params.tools as unknown as Anthropic.Tool[],
        messages: params.messages as unknown as Anthropic.MessageParam[],
      });
      return r.input_tokens;
    } catch {
      // Counting is a precaution: the request itself still reports a prompt that is too long.
      return null;
    }
  }

  /** Sends one request, retrying 408/409/429/5xx/529 and connection errors under the retry policy. */
  private async sendPatiently(
    rt: WorkerRuntime,
    params: ReturnType<ClaudeAgent['compose']>['params'],
    errors: string[],
  ): Promise<
    | { ok: true; message: Anthropic.Message; attempts: number; streamed: boolean }
    | { ok: false; code: 'CONTEXT_WINDOW' | 'UNREACHABLE' | 'REFUSED_REQUEST'; message: string; attempts: number }
  > {
    const o = this.opts;
    const now = o.now ?? Date.now;
    const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const random = o.random ?? Math.random;
    const started = now();
    for (let attempt = 1; ; attempt++) {
      try {
        const body = {
          model: params.model,
          max_tokens: params.max_tokens,
          system: params.system as unknown as Anthropic.TextBlockParam[],
          tools: params.tools as unknown as Anthropic.Tool[],
          messages: params.messages as unknown as Anthropic.MessageParam[],
        };
        const streamed = this.needsStreaming(params.max_tokens);
        const message = streamed
          ? await o.client.messages.stream(body).finalMessage()
          : await o.client.messages.create(body);
        return { ok: true, message, attempts: attempt, streamed };
      } catch (err) {
        const apiErr = err instanceof Anthropic.APIError ? err : null;
        const status = apiErr?.status;
        const text = `${status ?? 'connection'}: ${(err as Error).message}`.slice(0, 500);
        errors.push(text);
        if (errors.length > 20) errors.splice(0, errors.length - 20);
        if (status === 400 && /prompt is too long/i.test((err as Error).message))
          return { ok: false, code: 'CONTEXT_WINDOW', message: text, attempts: attempt };
        const headers = apiErr?.headers as Headers | undefined;
        const shouldRetry = headers?.get?.('x-should-retry');
        const retryable =
          err instanceof Anthropic.APIConnectionError ||
          (status !== undefined && (shouldRetry === 'true' || (shouldRetry !== 'false' && RETRYABLE_STATUS(status))));
        if (!retryable) return { ok: false, code: 'REFUSED_REQUEST', message: text, attempts: attempt };
        const asked = retryAfterMs(headers, now());
        const backoff = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        // With a retry-after: that long plus up to 10 % (replicas told the same do not return together);
        // without: a random point in the second half of the backoff.
        const wait =
          asked !== null ? asked + random() * Math.min(asked * 0.1, 5_000) : backoff * (0.5 + random() * 0.5);
        const elapsed = now() - started;
        if (elapsed + wait > this.retry.patienceMs)
          return {
            ok: false,
            code: 'UNREACHABLE',
            message: `gave up after ${attempt} attempts over ${Math.round(elapsed / 1000)} s (patience ${Math.round(this.retry.patienceMs / 1000)} s); last: ${text}`,
            attempts: attempt,
          };
        // A stop (campaign aborted, budget gone) is not waited out: the in-flight step is abandoned.
        const stop = await rt.stopReason();
        if (stop) throw new CandidateStoppedError(rt.candidateId, stop);
        await sleep(wait);
      }
    }
  }
}

/** The wait an error response asks for: `retry-after-ms`, or `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers | undefined, nowMs: number): number | null {
  const ms = Number.parseFloat(headers?.get?.('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get?.('retry-after');
  if (!raw) return null;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
