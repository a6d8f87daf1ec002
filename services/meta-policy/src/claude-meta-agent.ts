import Anthropic from '@anthropic-ai/sdk';
import type { RollingPolicy, RoundEvidence } from '@aevo/contracts';
import { PROPOSE_POLICY_TOOL, metaSystemBlocks, metaUserPrompt, type FrozenConstitution, type ProposalTurn, type RevisionFacts } from '@aevo/policy-engine';

export interface MetaAgent {
  /** One turn: the constitution as the frozen, cached system prompt; the proposal is the tool input, verbatim. */
  propose(previous: RollingPolicy, evidence: RoundEvidence, constitution: FrozenConstitution, facts: RevisionFacts): Promise<{ raw: unknown; turn: ProposalTurn }>;
}

export class ClaudeMetaAgent implements MetaAgent {
  constructor(
    private readonly client: Anthropic,
    private readonly model: string,
    private readonly maxTokens = 8000,
  ) {}

  async propose(previous: RollingPolicy, evidence: RoundEvidence, constitution: FrozenConstitution, facts: RevisionFacts) {
    const res = await this.client.messages.create({
      model: this.model,
      max_tokens: this.maxTokens,
      system: metaSystemBlocks(constitution),
      tools: [PROPOSE_POLICY_TOOL as unknown as Anthropic.Tool],
      tool_choice: { type: 'tool', name: PROPOSE_POLICY_TOOL.name },
      messages: [{ role: 'user', content: metaUserPrompt(previous, evidence, facts) }],
    });
    const call = res.content.find((b) => b.type === 'tool_use' && b.name === PROPOSE_POLICY_TOOL.name);
    // Whatever came back is the proposal on record; a missing tool call is refused by the validator like any other.
    const raw = call && call.type === 'tool_use' ? call.input : { missingToolCall: true, content: res.content.map((b) => (b.type === 'text' ? b.text : b.type)) };
    return {
      raw,
      turn: {
        model: res.model,
        inputTokens: res.usage.input_tokens,
        outputTokens: res.usage.output_tokens,
        cacheReadTokens: res.usage.cache_read_input_tokens ?? 0,
        stopReason: res.stop_reason ?? null,
      },
    };
  }
}
