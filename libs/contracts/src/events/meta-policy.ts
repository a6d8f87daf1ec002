import { z } from 'zod';
import { defineEvent } from '../envelope';
import { RollingPolicy } from '../policy';
import { JsonValue } from '../recipe';
import { Sha256 } from '../ids';

/** The meta-rules a proposal (or the pinned constitution itself) can break. */
export const MetaRule = z.enum([
  'constitution-pinned',
  'constitution-immutable',
  'proposal-invalid',
  'dead-end-registry-only-grows',
  'promotion-requires-lb-gain',
  'threshold-below-minimum',
  'rotation-required',
  'dev-lb-gap-calibration',
]);
export type MetaRule = z.infer<typeof MetaRule>;

export const PolicyRevised = defineEvent(
  'PolicyRevised',
  { owners: ['meta-policy'], description: 'The meta agent rewrote the rolling policy from a round’s evidence.' },
  z
    .object({
      round: z.number().int().min(1),
      policy: RollingPolicy,
      /** contentHash(policy). */
      policySha256: Sha256,
      previousRevision: z.number().int().min(0),
      evidenceSha256: Sha256,
      constitutionSha256: Sha256,
      /** 'rules' also when a Claude proposal was refused and the rule engine's revision stands. */
      proposer: z.enum(['rules', 'claude']),
      changes: z.array(z.string()),
      /** The Claude meta agent's turn, its proposal recorded verbatim so a replay re-validates it without a call. */
      llm: z
        .object({
          model: z.string(),
          inputTokens: z.number().int().min(0),
          outputTokens: z.number().int().min(0),
          cacheReadTokens: z.number().int().min(0),
          stopReason: z.string().nullable(),
          proposal: JsonValue,
          refused: z.boolean(),
        })
        .strict()
        .nullable(),
    })
    .strict(),
);

export const ConstitutionViolationRefused = defineEvent(
  'ConstitutionViolationRefused',
  { owners: ['meta-policy'], description: 'A proposed policy broke a meta-rule and was refused.' },
  z.object({ round: z.number().int().min(1), rule: MetaRule, detail: z.string(), proposal: JsonValue }).strict(),
);
