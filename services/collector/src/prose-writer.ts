import Anthropic from '@anthropic-ai/sdk';
import type { EvidenceProse, LlmUsage, RoundEvidence } from '@aevo/contracts';
import { PROSE_SYSTEM_PROMPT, PROSE_TOOL, parseProse, prosePrompt } from '@aevo/evidence';

export interface ProseResult {
  /** null when the model returned nothing usable (the numbers are recorded without prose). */
  prose: EvidenceProse | null;
  llm: LlmUsage;
  problem: string | null;
}

export interface ProseWriter {
  write(evidence: RoundEvidence): Promise<ProseResult>;
}

/** The optional Claude pass: one request, one tool that can only return text per section. */
export class ClaudeProseWriter implements ProseWriter {
  constructor(
    private readonly client: Anthropic,
    private readonly model: string,
    private readonly maxTokens = 2000,
  ) {}

  async write(evidence: RoundEvidence): Promise<ProseResult> {
    const res = await this.client.messages.create({
      model: this.model,
      max_tokens: this.maxTokens,
      system: [{ type: 'text', text: PROSE_SYSTEM_PROMPT, cache_control: { type: 'ephemeral' } }],
      tools: [PROSE_TOOL as unknown as Anthropic.Tool],
      tool_choice: { type: 'tool', name: PROSE_TOOL.name },
      messages: [{ role: 'user', content: prosePrompt(evidence) }],
    });
    const llm: LlmUsage = {
      model: res.model,
      inputTokens: res.usage.input_tokens,
      outputTokens: res.usage.output_tokens,
      cacheReadTokens: res.usage.cache_read_input_tokens ?? 0,
      stopReason: res.stop_reason ?? null,
    };
    const call = res.content.find((b) => b.type === 'tool_use' && b.name === PROSE_TOOL.name);
    if (!call || call.type !== 'tool_use') return { prose: null, llm, problem: `no ${PROSE_TOOL.name} call in the reply` };
    try {
      return { prose: parseProse(call.input), llm, problem: null };
    } catch (err) {
      return { prose: null, llm, problem: (err as Error).message };
    }
  }
}
