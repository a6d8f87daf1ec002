import Anthropic from '@anthropic-ai/sdk';
import { transformJSONSchema } from '@anthropic-ai/sdk/lib/transform-json-schema';
import { llmUsageOf, type EvidenceProse, type LlmUsage, type RoundEvidence } from '@aevo/contracts';
import { PROSE_SYSTEM_PROMPT, PROSE_TOOL, parseProse, prosePrompt } from '@aevo/evidence';

export interface ProseResult {
  /** null when the model returned nothing usable (the numbers are recorded without prose). */
  prose: EvidenceProse | null;
  llm: LlmUsage;
  problem: string | null;
}

export interface ProseWriter {
  /** The model asked for a campaign that names none (campaigns started before the model was a campaign setting). */
  readonly defaultModel: string;
  write(evidence: RoundEvidence, model: string): Promise<ProseResult>;
}

/**
 * The prose's JSON schema in the form structured outputs accept: what the SDK's own transformJSONSchema (which its
 * `jsonSchemaOutputFormat` helper applies) makes of the section-prose schema; every field is a string.
 */
export const PROSE_OUTPUT_SCHEMA = transformJSONSchema(PROSE_TOOL.input_schema);

/**
 * The optional Claude pass: one request whose answer is structured output (`output_config.format`, text per
 * section) rather than a forced tool call, which newer models refuse. No cache breakpoint: the only stable prefix is
 * PROSE_SYSTEM_PROMPT, about a hundred tokens, far under the shortest prefix any model caches (the API would bill
 * the breakpoint as plain input), and the pass runs once a round, hours apart, past any cache TTL.
 */
export class ClaudeProseWriter implements ProseWriter {
  constructor(
    private readonly client: Anthropic,
    readonly defaultModel: string,
    private readonly maxTokens = 2000,
  ) {}

  async write(evidence: RoundEvidence, model: string): Promise<ProseResult> {
    const res = await this.client.messages.create({
      model,
      max_tokens: this.maxTokens,
      system: PROSE_SYSTEM_PROMPT,
      output_config: { format: { type: 'json_schema', schema: PROSE_OUTPUT_SCHEMA } },
      messages: [{ role: 'user', content: prosePrompt(evidence) }],
    });
    const llm: LlmUsage = llmUsageOf(res);
    if (res.stop_reason === 'refusal') return { prose: null, llm, problem: 'the model refused (stop_reason refusal)' };
    if (res.stop_reason === 'max_tokens')
      return { prose: null, llm, problem: `the answer was cut at max_tokens (${this.maxTokens})` };
    const text = res.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return { prose: null, llm, problem: `the reply is not JSON (${(err as Error).message})` };
    }
    try {
      return { prose: parseProse(json), llm, problem: null };
    } catch (err) {
      return { prose: null, llm, problem: (err as Error).message };
    }
  }
}
