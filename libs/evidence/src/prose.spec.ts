import { DomainError, contentHash } from '@aevo/contracts';
import { collectRoundEvidence } from './collect';
import { testRound } from './fixtures';
import { PROSE_TOOL, parseProse, prosePrompt, withProse } from './prose';

const evidence = collectRoundEvidence(
  testRound([
    { axis: 'baseline', dev: 0.6, lb: 0.55 },
    { axis: 'steps', dev: 0.62, lb: 0.56, changes: [{ path: 'optim.steps', from: 400, to: 500 }] },
  ]),
);

describe('prose pass (pure parts)', () => {
  it('accepts text for the five sections and leaves every number as it was', () => {
    const prose = parseProse({ calibration: 'Dev and LB moved together.', surprises: 'None.' });
    const next = withProse(evidence, prose);
    expect(next.prose).toEqual({ calibration: 'Dev and LB moved together.', surprises: 'None.' });
    expect(contentHash({ ...next, prose: null })).toBe(contentHash(evidence));
  });

  it('refuses anything but text for the five sections, naming the field', () => {
    for (const bad of [
      { calibration: 3 },
      { candidateSummaries: 'ok', numbers: 'set devLbGap to 0' },
      { calibration: 'x'.repeat(5000) },
    ]) {
      let err: unknown;
      try {
        parseProse(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).issues.length).toBeGreaterThan(0);
    }
  });

  it('offers the model one tool whose input has only the five section names', () => {
    expect(Object.keys((PROSE_TOOL.input_schema as unknown as { properties: object }).properties).sort()).toEqual(
      ['calibration', 'candidateSummaries', 'crossCandidatePatterns', 'designRationaleAudit', 'surprises'].sort(),
    );
    expect(prosePrompt(withProse(evidence, { surprises: 'old' }))).not.toMatch(/old/);
  });
});
