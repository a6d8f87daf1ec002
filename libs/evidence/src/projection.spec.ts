import { RoundEvidenceRecorded, contentHash, createEvent, type EventEnvelope } from '@aevo/contracts';
import { collectRoundEvidence } from './collect';
import { testRound } from './fixtures';
import { roundEvidenceProjection, type RoundEvidenceState } from './projection';

const rec = (campaignId: string, round: number, lb: number): EventEnvelope => {
  const evidence = collectRoundEvidence(
    testRound(
      [
        { axis: 'baseline', dev: 0.6, lb },
        { axis: 'steps', dev: 0.7, lb, changes: [{ path: 'optim.steps', from: 1, to: 2 }] },
      ],
      { campaignId, round },
    ),
  );
  return createEvent(
    RoundEvidenceRecorded,
    { round, evidence, evidenceSha256: contentHash(evidence), trigger: 'all-in', inputEventIds: [], llm: null },
    { campaignId, streamId: `collector-${campaignId}-r${round}`, source: 'collector' },
  );
};
const fold = (events: EventEnvelope[]) =>
  events.reduce<RoundEvidenceState>((s, e) => roundEvidenceProjection.apply(s, e), roundEvidenceProjection.initial());

describe('round-evidence projection', () => {
  it('keeps one record per round, flags decoupling, and hashes independently of arrival order across campaigns', () => {
    const a1 = rec('a', 1, 0.55);
    const b1 = rec('b', 1, 0.5);
    const a2 = rec('a', 2, 0.56);
    const s = roundEvidenceProjection.snapshot(fold([a1, b1, a2, a1]));
    expect(Object.keys(s.a).sort()).toEqual(['1', '2']);
    expect(s.a['1']).toMatchObject({ round: 1, trigger: 'all-in', proxyDecoupling: true, withProse: false });
    expect(contentHash(s)).toBe(contentHash(roundEvidenceProjection.snapshot(fold([b1, a1, a2]))));
  });
});
