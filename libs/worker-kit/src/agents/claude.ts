import Anthropic from '@anthropic-ai/sdk';
import { AXIS_CATEGORY } from '@aevo/contracts';
import type { WorkerRuntime } from '../runtime';
import { anthropicTools, type ToolName, TOOL_NAMES } from '../tools';
import type { LlmCall } from '../trace';
import type { WorkerAgent } from './agent';
import { HeuristicAgent } from './heuristic';

export interface ClaudeAgentOptions {
  /** A real SDK client; tests point its `baseURL` at a loopback server speaking the Messages API. */
  client: Anthropic;
  model: string;
  /** The frozen constitution text (or the part workers need); sent as a cached system block. */
  constitutionExcerpt: string;
  maxTokensPerTurn?: number;
  /** Attempts per request for retryable errors (429, 5xx, 529, connection errors). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Ends without submit_manifest tolerated (the model is reminded) before the candidate is closed. */
  maxNudges?: number;
  sleep?: (ms: number) => Promise<void>;
}

type Block = { type: string; [k: string]: unknown };
interface RecordedResponse {
  id: string | null;
  model: string;
  stop_reason: string | null;
  content: Block[];
  usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number };
  attempts: number;
  errors: string[];
}

const RETRYABLE = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

export const WORKER_RULES = `You are one worker of an autonomous post-training loop. You get one forked sandbox, one axis to explore and the
current rolling search policy, and nothing else: you have no memory of earlier rounds and must not look for one.
Work only through the tools. Edit only the recipe and the data pipeline (editable paths); every other write is refused
and recorded against you. Respect the policy: start from its standing recipe, never spend budget on its dead ends
("Don't waste budget on"), and judge results by its evidence rules and objective. Make one coherent change on your axis,
train with the fork's seeds, read failures (poll_job, read_log_tail) and fix them (e.g. lower the learning rate after a
divergence) at most once per seed, evaluate the checkpoints, then call submit_manifest exactly once with your
hypothesis and why you chose the checkpoint. If you are the baseline anchor, change nothing: train and evaluate the
standing recipe with every seed.`;

/** Only the fields the Messages API accepts back in an assistant turn. */
function sanitise(block: Block): Block {
  if (block.type === 'text') return { type: 'text', text: block.text };
  if (block.type === 'tool_use') return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
  return block;
}

/**
 * The Claude worker: the same tools as Anthropic tool definitions, the policy and axis in the first user turn,
 * the constitution excerpt as a cached system block. Every request (model, usage, stop reason and the response
 * itself) is a trace step, so a resumed worker replays the conversation without calling the model again.
 */
export class ClaudeAgent implements WorkerAgent {
  readonly kind = 'claude' as const;
  constructor(private readonly opts: ClaudeAgentOptions) {}

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
          deadEnds: policy.deadEnds.map((d) => ({ description: d.description, axis: d.axis, path: d.path, direction: d.direction, value: d.value, round: d.round })),
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

  async run(rt: WorkerRuntime): Promise<void> {
    // A prescribed run (confirmation or probe) has nothing for the model to choose: the deterministic path applies it.
    if (rt.inputs.fork.prescribed) return new HeuristicAgent().run(rt);
    const o = this.opts;
    const system = [
      { type: 'text' as const, text: o.constitutionExcerpt, cache_control: { type: 'ephemeral' as const } },
      { type: 'text' as const, text: WORKER_RULES },
    ];
    const tools = anthropicTools();
    const messages: Array<{ role: 'user' | 'assistant'; content: unknown }> = [{ role: 'user', content: this.initialPrompt(rt) }];
    let nudges = 0;
    for (let turn = 0; ; turn++) {
      if (rt.finished) return;
      const left = rt.budgetLeft();
      if (left.tokens <= 0 || left.toolCalls <= 0) {
        await this.close(rt, 'budget-exhausted', `budget spent (${left.tokens <= 0 ? 'tokens' : 'tool calls'}) after ${turn} model turns`);
        return;
      }
      const maxTokens = Math.max(1, Math.min(o.maxTokensPerTurn ?? 4096, left.tokens));
      const res = await rt.modelStep({ turn, model: o.model }, () => this.request(system, tools, messages, maxTokens));
      if (!res.ok) {
        const err = (res.output as { error?: { message?: string } }).error?.message ?? 'model request failed';
        await rt.finalize({ status: 'failed', reason: `Claude API: ${err}`, failure: 'agent-error' });
        return;
      }
      const response = res.output as RecordedResponse;
      messages.push({ role: 'assistant', content: response.content.map(sanitise) });
      const uses = response.content.filter((b) => b.type === 'tool_use');
      if (uses.length === 0) {
        if (response.stop_reason === 'max_tokens' && rt.budgetLeft().tokens <= 0) continue; // closed as budget-exhausted next turn
        if (++nudges > (o.maxNudges ?? 1)) {
          await this.close(rt, 'agent-error', `the model stopped (${response.stop_reason}) without submitting a manifest`);
          return;
        }
        messages.push({ role: 'user', content: 'You have not called submit_manifest yet. Continue with the tools, and finish by calling submit_manifest.' });
        continue;
      }
      const results: Array<Record<string, unknown>> = [];
      for (const use of uses) {
        const name = String(use.name);
        const r = TOOL_NAMES.includes(name as ToolName)
          ? await rt.call(name as ToolName, use.input)
          : { ok: false as const, error: { code: 'UNKNOWN_TOOL', message: `no tool named ${name}` } };
        results.push({ type: 'tool_result', tool_use_id: use.id, content: JSON.stringify(r.ok ? r.value : { error: r.error }), ...(r.ok ? {} : { is_error: true }) });
        if (rt.finished) return;
      }
      messages.push({ role: 'user', content: results });
    }
  }

  /** Ends the candidate for the agent: a completed manifest if something was evaluated, else a failed one. */
  private async close(rt: WorkerRuntime, failure: 'budget-exhausted' | 'agent-error', reason: string): Promise<void> {
    await rt.finalize({ status: rt.hasEvaluatedCheckpoints() ? 'completed' : 'failed', reason, failure });
  }

  private async request(
    system: unknown,
    tools: unknown,
    messages: Array<{ role: 'user' | 'assistant'; content: unknown }>,
    maxTokens: number,
  ): Promise<{ ok: boolean; output: unknown; llm?: LlmCall }> {
    const o = this.opts;
    const attempts = o.maxAttempts ?? 4;
    const sleep = o.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    const errors: string[] = [];
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const msg = await o.client.messages.create({
          model: o.model,
          max_tokens: maxTokens,
          system: system as Anthropic.TextBlockParam[],
          tools: tools as Anthropic.Tool[],
          messages: messages as Anthropic.MessageParam[],
        });
        const usage = {
          input_tokens: msg.usage.input_tokens,
          output_tokens: msg.usage.output_tokens,
          cache_read_input_tokens: msg.usage.cache_read_input_tokens ?? 0,
          cache_creation_input_tokens: msg.usage.cache_creation_input_tokens ?? 0,
        };
        const out: RecordedResponse = {
          id: msg.id ?? null,
          model: msg.model,
          stop_reason: msg.stop_reason ?? null,
          content: JSON.parse(JSON.stringify(msg.content)) as Block[],
          usage,
          attempts: attempt,
          errors,
        };
        return {
          ok: true,
          output: out,
          llm: {
            model: msg.model,
            inputTokens: usage.input_tokens + usage.cache_creation_input_tokens,
            outputTokens: usage.output_tokens,
            cacheReadTokens: usage.cache_read_input_tokens,
            stopReason: msg.stop_reason ?? null,
          },
        };
      } catch (err) {
        const status = err instanceof Anthropic.APIError ? err.status : undefined;
        const retryable = err instanceof Anthropic.APIConnectionError || (status !== undefined && RETRYABLE.has(status));
        errors.push(`${status ?? 'connection'}: ${(err as Error).message}`.slice(0, 500));
        if (!retryable || attempt === attempts) return { ok: false, output: { error: { message: errors[errors.length - 1], attempts: attempt, errors } } };
        const delay = Math.min(o.maxDelayMs ?? 30_000, (o.baseDelayMs ?? 1000) * 2 ** (attempt - 1));
        await sleep(delay);
      }
    }
    return { ok: false, output: { error: { message: 'unreachable' } } };
  }
}
