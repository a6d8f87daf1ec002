import { RoundEvidenceRecorded, isEvent, type RoundEvidence } from '@aevo/contracts';
import { dict } from './own';

export interface RoundEvidenceEntry {
  round: number;
  evidenceSha256: string;
  trigger: 'all-in' | 'deadline';
  proxyDecoupling: boolean;
  surprises: number;
  withProse: boolean;
  evidence: RoundEvidence;
}

/** Campaign → round → its (single) evidence record; null-prototype records at both levels (ids are external). */
export type RoundEvidenceState = Record<string, Record<string, RoundEvidenceEntry>>;

type ProjectedEvent = { type: string; campaignId: string; data: unknown };

/** Pure fold step: the first record of a round stands (the collector writes one; a duplicate is ignored). */
export function applyRoundEvidence(s: RoundEvidenceState, e: ProjectedEvent): RoundEvidenceState {
  if (!isEvent(e, RoundEvidenceRecorded)) return s;
  const campaign = s[e.campaignId] ?? dict<RoundEvidenceEntry>();
  const key = String(e.data.round);
  if (campaign[key]) return s;
  campaign[key] = {
    round: e.data.round,
    evidenceSha256: e.data.evidenceSha256,
    trigger: e.data.trigger,
    proxyDecoupling: e.data.evidence.calibration.proxyDecoupling.flagged,
    surprises: e.data.evidence.surprises.length,
    withProse: e.data.evidence.prose !== null,
    evidence: e.data.evidence,
  };
  s[e.campaignId] = campaign;
  return s;
}

/** The round-evidence projection (register it with @aevo/projections). */
export const roundEvidenceProjection = {
  name: 'round-evidence',
  description: 'The five-section evidence record of every round, with its hash, trigger and decoupling flag.',
  eventTypes: [RoundEvidenceRecorded.type] as const,
  initial: (): RoundEvidenceState => dict<Record<string, RoundEvidenceEntry>>(),
  apply: (s: RoundEvidenceState, e: ProjectedEvent): RoundEvidenceState => applyRoundEvidence(s, e),
  // canonicalJson sorts the keys, so insertion order does not reach the hash.
  snapshot: (s: RoundEvidenceState) => s,
};
