import type Anthropic from '@anthropic-ai/sdk';
import { AXIS_CATEGORY, canonicalJson, claudeModelProblem, sha256Hex } from '@aevo/contracts';
import type { WorkerRuntime } from '../runtime';
import { anthropicTools, type ToolName, type ToolResult, TOOL_NAMES } from '../tools';
import type { LlmCall } from '../trace';
import type { WorkerAgent } from './agent';
import { HeuristicAgent } from './heuristic';
import {
  DEFAULT_CONTEXT_POLICY,
  DEFAULT_RETRY_POLICY,
  type ClaudeAgentOptions,
  type ClaudeContextPolicy,
  type ClaudeRetryPolicy,
} from './claude-options';
import {
  ModelRequestChangedError,
  isEmptyTurn,
  sanitise,
  toolResultText,
  type Block,
  type Message,
  type ModelRequestRecord,
  type RecordedResponse,
  type Usage,
} from './claude-protocol';
import { sendPatiently } from './claude-send';

export * from './claude-options';
export {
  ModelRequestChangedError,
  toolResultText,
  type ModelRequestRecord,
  type RecordedResponse,
} from './claude-protocol';
export { retryAfterMs } from './claude-send';

const NUDGE =
  'You have not called submit_manifest yet. Continue with the tools, and finish by calling submit_manifest.';

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

  initialPrompt(rt: WorkerRuntime): string {
    const { fork, policy } = rt.inputs;
    const s = rt.substrate;
    return [
      `Candidate ${fork.candidateId} (round ${fork.round}, index ${fork.index}).`,
      fork.isAnchor
        ? `You are the BASELINE ANCHOR: run the standing recipe unchanged with each seed ` +
          `${JSON.stringify(fork.seeds)}, evaluate, submit.`
        : `Your axis: ${fork.axis} (category ${AXIS_CATEGORY[fork.axis]}). Seeds: ${JSON.stringify(fork.seeds)}.`,
      `Substrate ${s.name} ${s.version}: recipe file ${s.recipe}; editable ${JSON.stringify(s.editable)}; ` +
        `frozen ${JSON.stringify(s.frozen)}; metric ${s.metric.name} over domains ` +
        `${s.metric.domains.join(', ')}.`,
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
            `Search hints: one move may combine up to ${policy.searchHints.maxKnobsPerMove} settings on ` +
              `distinct paths; along a listed direction, continue it with your usual step factor f raised to ` +
              `its stepScale (f^stepScale), and say in your hypothesis which rounds it paid in.`,
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
                content:
                  `[cleared to keep the context bounded: ${String(b.content).length} characters; call the ` +
                  `tool again if you need it]`,
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
          `turn ${turn} was cut at max_tokens ${response.request.max_tokens}` +
            `${spent ? ' with the token budget spent' : ' even with the most room allowed'}; its tool calls ` +
            `were not run`,
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
      const sent = await sendPatiently(this.opts, this.retry, rt, params, errors);
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
}
