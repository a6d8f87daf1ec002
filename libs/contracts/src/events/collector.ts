import { z } from 'zod';
import { defineEvent } from '../envelope';
import { RoundEvidence } from '../evidence';
import { Sha256 } from '../ids';

export const RoundEvidenceRecorded = defineEvent(
  'RoundEvidenceRecorded',
  { owners: ['collector'], description: 'The one-shot collector’s five-section record of a round.' },
  z
    .object({
      round: z.number().int().min(1),
      evidence: RoundEvidence,
      evidenceSha256: Sha256,
      trigger: z.enum(['all-in', 'deadline']),
      llm: z.object({ model: z.string(), inputTokens: z.number().int(), outputTokens: z.number().int(), stopReason: z.string().nullable() }).strict().nullable(),
    })
    .strict(),
);
