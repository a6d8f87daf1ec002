import Anthropic from '@anthropic-ai/sdk';
import { llmUsageOf, type RollingPolicy, type RoundEvidence } from '@aevo/contracts';
import {
  PROPOSE_POLICY_TOOL,
  metaSystemBlocks,
  metaUserPrompt,
  type FrozenConstitution,
  type ProposalTurn,
  type RevisionFacts,
} from '@aevo/policy-engine';
import { structuredOutputFormat } from './structured-output';

export interface MetaProposal {
  /** The proposal as the model wrote it (free-form maps decoded), or what came back instead; the validator judges. */
  raw: unknown;
  turn: ProposalTurn;
  /** Why the reply could not be a proposal at all (a refusal, a cut-off answer, no JSON); null when it could. */
  unusable: string | null;
}

export interface MetaAgent {
  /** The model asked for a campaign that names none (campaigns started before the model was a campaign setting). */
  readonly defaultModel: string;
  /** One turn: the constitution as the frozen system prompt; the proposal is the structured output, verbatim. */
  propose(
    previous: RollingPolicy,
    evidence: RoundEvidence,
    constitution: FrozenConstitution,
    facts: RevisionFacts,
    model: string,
  ): Promise<MetaProposal>;
}

/** The proposal's JSON schema as structured output (free-form maps such as the recipe travel as JSON strings). */
export const PROPOSAL_OUTPUT = structuredOutputFormat(PROPOSE_POLICY_TOOL.input_schema);

/**
 * The Claude meta agent. It asks for structured output (`output_config.format`, a JSON schema) rather than forcing
 * a tool call: newer models refuse a forced `tool_choice`, and structured output constrains the answer to the
 * schema instead of merely asking for a tool. No cache breakpoint: one request per round (see metaSystemBlocks).
 */
export class ClaudeMetaAgent implements MetaAgent {
  constructor(
    private readonly client: Anthropic,
    readonly defaultModel: string,
    private readonly maxTokens = 8000,
  ) {}

  async propose(
    previous: RollingPolicy,
    evidence: RoundEvidence,
    constitution: FrozenConstitution,
    facts: RevisionFacts,
    model: string,
  ): Promise<MetaProposal> {
    const res = await this.client.messages.create({
      model,
      max_tokens: this.maxTokens,
      system: metaSystemBlocks(constitution),
      output_config: { format: { type: 'json_schema', schema: PROPOSAL_OUTPUT.schema } },
      messages: [{ role: 'user', content: metaUserPrompt(previous, evidence, facts) }],
    });
    const turn: ProposalTurn = llmUsageOf(res);
    const text = res.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    // A refusal or a cut-off answer is not a proposal even when its text happens to parse.
    const cut =
      res.stop_reason === 'refusal'
        ? 'the model refused (stop_reason refusal)'
        : res.stop_reason === 'max_tokens'
          ? `the answer was cut at max_tokens (${this.maxTokens})`
          : null;
    let parsed: { ok: true; value: unknown } | { ok: false; error: string };
    try {
      parsed = { ok: true, value: JSON.parse(text) as unknown };
    } catch (err) {
      parsed = { ok: false, error: (err as Error).message };
    }
    if (cut === null && parsed.ok) return { raw: PROPOSAL_OUTPUT.decode(parsed.value), turn, unusable: null };
    const unusable = cut ?? `the reply is not JSON (${parsed.ok ? '' : parsed.error})`;
    // Recorded as the proposal, so the validator refuses it like any other and the replay re-decides the same way.
    return { raw: { unusableReply: { stopReason: turn.stopReason, text: text.slice(0, 2000) } }, turn, unusable };
  }
}
