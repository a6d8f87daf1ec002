// Shared by this library's specs (excluded from nothing at runtime: it only builds data).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contentHash, type RollingPolicy, type RoundEvidence } from '@aevo/contracts';
import { freezeConstitution, type FrozenConstitution } from './constitution';
import type { MetaPolicyEvent, ProposalTurn, ReviseFromEvidence } from './decider';

export const DEFAULT_CONSTITUTION_PATH = path.resolve(__dirname, '../../../deploy/constitutions/default.yaml');

export const defaultConstitution = (): FrozenConstitution =>
  freezeConstitution(fs.readFileSync(DEFAULT_CONSTITUTION_PATH, 'utf8'), DEFAULT_CONSTITUTION_PATH);

export const TURN: ProposalTurn = {
  model: 'claude-test',
  inputTokens: 1200,
  outputTokens: 300,
  cacheReadTokens: 1000,
  stopReason: 'tool_use',
};

export function reviseCommand(
  evidence: RoundEvidence,
  constitution: FrozenConstitution,
  proposal: unknown = undefined,
): ReviseFromEvidence {
  return {
    type: 'ReviseFromEvidence',
    round: evidence.round,
    evidence,
    evidenceSha256: contentHash(evidence),
    constitution,
    proposal: proposal === undefined ? null : { raw: proposal, turn: TURN },
  };
}

export const revisedPolicy = (events: MetaPolicyEvent[]): RollingPolicy => {
  const e = events.find((x) => x.type === 'PolicyRevised');
  if (!e || e.type !== 'PolicyRevised')
    throw new Error(`no PolicyRevised among ${events.map((x) => x.type).join(', ')}`);
  return e.data.policy;
};

/** A proposal that restates a policy (what a compliant meta agent would send back). */
export function proposalFrom(p: RollingPolicy, promotedCandidateId: string | null = null): Record<string, unknown> {
  return {
    promotedCandidateId,
    standingRecipe: p.standingRecipe,
    activeCategory: p.activeCategory,
    activeAxes: p.activeAxes,
    retiredAxes: p.retiredAxes,
    deadEnds: p.deadEnds,
    promotionThreshold: p.promotionThreshold,
    anchorSeeds: p.anchorSeeds,
    selectionCriterion: p.selectionCriterion,
    objective: p.objective,
    evidenceRules: p.evidenceRules,
    rationale: 'proposal from the meta agent',
  };
}
