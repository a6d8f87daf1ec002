import { z } from 'zod';
import { defineEvent } from '../envelope';
import { RollingPolicy } from '../policy';
import { JsonValue } from '../recipe';
import { Sha256 } from '../ids';

export const PolicyRevised = defineEvent(
  'PolicyRevised',
  { owners: ['meta-policy'], description: 'The meta agent rewrote the rolling policy from a round’s evidence.' },
  z
    .object({
      round: z.number().int().min(1),
      policy: RollingPolicy,
      policySha256: Sha256,
      previousRevision: z.number().int().min(0),
      evidenceSha256: Sha256,
      constitutionSha256: Sha256,
      proposer: z.enum(['rules', 'claude']),
      changes: z.array(z.string()),
      llm: z
        .object({ model: z.string(), inputTokens: z.number().int(), outputTokens: z.number().int(), stopReason: z.string().nullable(), proposal: JsonValue })
        .strict()
        .nullable(),
    })
    .strict(),
);

export const ConstitutionViolationRefused = defineEvent(
  'ConstitutionViolationRefused',
  { owners: ['meta-policy'], description: 'A proposed policy broke a meta-rule and was refused.' },
  z.object({ round: z.number().int().min(1), rule: z.string(), detail: z.string(), proposal: JsonValue }).strict(),
);
