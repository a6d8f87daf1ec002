import { z } from 'zod';
import { canonicalJson, type RollingPolicy, type RoundEvidence } from '@aevo/contracts';
import type { FrozenConstitution } from './constitution';
import { PolicyProposal } from './proposal';
import type { RevisionFacts } from './revise';

/**
 * The meta agent's only tool. Its input is a PolicyProposal: there is no field, and no other tool, through
 * which the agent could write the constitution; the rule engine validates whatever comes back.
 */
export const PROPOSE_POLICY_TOOL = {
  name: 'propose_policy_revision',
  description:
    'Propose the next rolling search policy. The constitution is read-only; bookkeeping (revision, noise band, best ' +
    'LB, plateau count, predicted band) is computed by the system. A proposal that breaks a meta-rule is refused.',
  input_schema: z.toJSONSchema(PolicyProposal) as { type: 'object'; [k: string]: unknown },
};

/**
 * The frozen system prompt: the constitution text and its rules, in one block. Not marked for caching: the meta
 * agent asks once per round, rounds are hours apart, and a cache entry lives 5 minutes (1 hour at most), so a
 * breakpoint would only pay the cache-write surcharge and never be read. The answer comes as structured output
 * (the proposal's JSON schema), not as a forced tool call.
 */
export function metaSystemBlocks(constitution: FrozenConstitution) {
  const c = constitution.constitution;
  return [
    {
      type: 'text' as const,
      text:
        `${c.text.trim()}\n\n` +
        `Constitution ${c.name} ${c.version} (sha256 ${constitution.sha256}). Meta-rules, binding and not yours to ` +
        `change:\n${canonicalJson(c.rules)}\n\nAnswer only with the JSON proposal the output format describes.`,
    },
  ];
}

/** The user turn: the previous policy, the round's evidence and the facts the proposal is checked against. */
export function metaUserPrompt(previous: RollingPolicy, evidence: RoundEvidence, facts: RevisionFacts): string {
  return [
    `Revise the rolling policy after round ${evidence.round}.`,
    `Previous policy (revision ${previous.revision}):\n${canonicalJson(previous)}`,
    `Round evidence:\n${canonicalJson(evidence)}`,
    `Facts your proposal is checked against:\n${canonicalJson({
      promotionBar: facts.promotionBar,
      minimumThreshold: facts.minimumThreshold,
      eligibleForPromotion: facts.eligible.map((e) => ({ candidateId: e.candidateId, lbGain: e.lbGain })),
      rotationRequired: facts.rotationRequired,
      rotationReason: facts.rotationReason,
      proxyDecoupling: facts.decoupling,
      campaignAxes: facts.campaignAxes,
    })}`,
  ].join('\n\n');
}
