import { z } from 'zod';
import { defineEvent } from '../envelope';
import { RoundEvidence } from '../evidence';
import { IsoTime, Sha256, Uuid } from '../ids';

export const LlmUsage = z
  .object({
    model: z.string(),
    inputTokens: z.number().int().min(0),
    outputTokens: z.number().int().min(0),
    cacheReadTokens: z.number().int().min(0),
    /**
     * Input tokens written to the prompt cache (billed apart from inputTokens; absent on records made before it was
     * counted).
     */
    cacheCreationTokens: z.number().int().min(0).optional(),
    stopReason: z.string().nullable(),
  })
  .strict();
export type LlmUsage = z.infer<typeof LlmUsage>;

/**
 * Every token a collector or meta-agent turn was billed for, as the token budget counts it: the API reports cache
 * writes and cache reads apart from `input_tokens`, so inputTokens + outputTokens alone hides a cached prompt.
 */
export const llmTurnTokens = (t: {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens?: number;
  cacheCreationTokens?: number;
}): number => t.inputTokens + t.outputTokens + (t.cacheReadTokens ?? 0) + (t.cacheCreationTokens ?? 0);

/** A Messages API response's usage as recorded (structural: contracts does not depend on the SDK). */
export function llmUsageOf(res: {
  model: string;
  stop_reason?: string | null;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_read_input_tokens?: number | null;
    cache_creation_input_tokens?: number | null;
  };
}): LlmUsage {
  return {
    model: res.model,
    inputTokens: res.usage.input_tokens,
    outputTokens: res.usage.output_tokens,
    cacheReadTokens: res.usage.cache_read_input_tokens ?? 0,
    cacheCreationTokens: res.usage.cache_creation_input_tokens ?? 0,
    stopReason: res.stop_reason ?? null,
  };
}

export const RoundCollectionDeadlineSet = defineEvent(
  'RoundCollectionDeadlineSet',
  {
    owners: ['collector'],
    description:
      'The collector fixed when it stops waiting for a round’s manifests and scores (recorded once per round).',
  },
  z
    .object({
      round: z.number().int().min(1),
      /** RoundStarted time + afterSeconds. */
      deadlineAt: IsoTime,
      afterSeconds: z.number().int().min(1),
    })
    .strict(),
);

export const RoundCollectionClaimed = defineEvent(
  'RoundCollectionClaimed',
  {
    owners: ['collector'],
    description: 'A collector replica took the round’s (paid) prose pass; others wait unless the claim expires.',
  },
  z
    .object({
      round: z.number().int().min(1),
      claimedBy: z.string().min(1),
      /** Other replicas may take over after this many seconds without a record. */
      expiresAfterSeconds: z.number().int().min(1),
    })
    .strict(),
);

export const RoundEvidenceRecorded = defineEvent(
  'RoundEvidenceRecorded',
  { owners: ['collector'], description: 'The one-shot collector’s five-section record of a round.' },
  z
    .object({
      round: z.number().int().min(1),
      evidence: RoundEvidence,
      /** contentHash(evidence), prose included. */
      evidenceSha256: Sha256,
      trigger: z.enum(['all-in', 'deadline']),
      /** Ids of exactly the events the evidence was computed from (sorted), so a replay uses the same inputs. */
      inputEventIds: z.array(Uuid),
      /** The LLM prose pass, when one ran (its text is evidence.prose). */
      llm: LlmUsage.nullable(),
    })
    .strict(),
);
