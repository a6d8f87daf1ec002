import { RoundEvidenceRecorded, isEvent, type EventEnvelope } from '@aevo/contracts';
import { collectRoundEvidence } from './collect';
import { evidenceHash, withProse } from './prose';
import { evidenceInputs, foldLedger, type InputsOptions } from './round-ledger';

export interface EvidenceReplayResult {
  round: number;
  eventId: string;
  recordedSha256: string;
  replayedSha256: string;
  equal: boolean;
}

/**
 * Recomputes every RoundEvidenceRecorded of a campaign from exactly the events it names as inputs, with the
 * recorded prose (an LLM pass is never repeated), and compares hashes.
 */
export function replayRoundEvidence(
  campaignId: string,
  events: readonly EventEnvelope[],
  opts: InputsOptions = {},
): EvidenceReplayResult[] {
  const byId = new Map(events.map((e) => [e.id, e]));
  const out: EvidenceReplayResult[] = [];
  for (const e of events) {
    if (e.campaignId !== campaignId || !isEvent(e, RoundEvidenceRecorded)) continue;
    const inputs = e.data.inputEventIds.map((id) => {
      const found = byId.get(id);
      if (!found)
        throw new Error(
          `RoundEvidenceRecorded ${e.id} (round ${e.data.round}) names input event ${id}, which is not in the log`,
        );
      return found;
    });
    const ledger = foldLedger(campaignId, inputs);
    const { inputs: ins, inputEventIds } = evidenceInputs(ledger, e.data.round, opts);
    const evidence = withProse(collectRoundEvidence(ins), e.data.evidence.prose);
    const replayedSha256 = evidenceHash(evidence);
    const sameInputs = inputEventIds.join(',') === [...e.data.inputEventIds].sort().join(',');
    out.push({
      round: e.data.round,
      eventId: e.id,
      recordedSha256: e.data.evidenceSha256,
      replayedSha256,
      equal: sameInputs && replayedSha256 === e.data.evidenceSha256,
    });
  }
  return out;
}
