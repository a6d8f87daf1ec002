import { z } from 'zod';
import { defineEvent } from '../envelope';
import { RollingPolicy } from '../policy';
import { JsonValue } from '../recipe';
import { Sha256 } from '../ids';
import { DecouplingHypothesis } from '../research';

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
          /**
           * Input tokens written to the prompt cache (billed apart from inputTokens; absent on records made before it
           * was counted).
           */
          cacheCreationTokens: z.number().int().min(0).optional(),
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

const decouplingStep = z.object({ round: z.number().int().min(1), hypothesis: DecouplingHypothesis }).strict();

export const DecouplingSuspected = defineEvent(
  'DecouplingSuspected',
  {
    owners: ['meta-policy'],
    description:
      'A round’s evidence made a dev/leaderboard decoupling of one domain a hypothesis; probes are scheduled.',
  },
  decouplingStep,
);
export const DecouplingProbed = defineEvent(
  'DecouplingProbed',
  { owners: ['meta-policy'], description: 'A decoupling hypothesis’s single-variable probes were scored.' },
  decouplingStep,
);
export const DecouplingConfirmed = defineEvent(
  'DecouplingConfirmed',
  {
    owners: ['meta-policy'],
    description: 'The probes bore a decoupling hypothesis out; the objective and selection change.',
  },
  decouplingStep,
);
export const DecouplingRefuted = defineEvent(
  'DecouplingRefuted',
  {
    owners: ['meta-policy'],
    description: 'The probes contradicted a decoupling hypothesis; it leaves a record and no dead end.',
  },
  decouplingStep,
);
