import * as fc from 'fast-check';
import { collectRoundEvidence } from './collect';
import { testRound } from './fixtures';
import { evidenceHash } from './prose';

const KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];

describe('round evidence with domains named after Object.prototype members', () => {
  it('calibrates such a domain like any other, whether or not every candidate scored it', () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort().join(',');
    fc.assert(
      fc.property(fc.constantFrom(...KEYS), fc.boolean(), (domain, everyoneScoredIt) => {
        const inputs = testRound([
          {
            axis: 'baseline',
            dev: 0.5,
            domains: { [domain]: 0.5, gravity: 0.5 },
            lb: 0.5,
            lbDomains: { [domain]: 0.5, gravity: 0.5 },
          },
          {
            axis: 'learning-rate',
            dev: 0.6,
            domains: everyoneScoredIt ? { [domain]: 0.7, gravity: 0.5 } : { gravity: 0.6 },
            lb: 0.52,
            lbDomains: { gravity: 0.52 },
          },
        ]);
        const evidence = collectRoundEvidence(inputs);
        for (const d of evidence.calibration.perDomain) expect(Number.isFinite(d.devGain)).toBe(true);
        const row = evidence.calibration.perDomain.find((d) => d.domain === domain);
        // zod's record parse (in the manifest schema) drops a "__proto__" key before the collector sees it.
        if (domain === '__proto__') expect(row).toBeUndefined();
        else if (everyoneScoredIt) expect(row).toMatchObject({ candidateId: 'c1-r1-c1', devGain: 0.2 });
        else if (row) expect(row.candidateId).toBeNull();
        expect(evidenceHash(evidence)).toBe(evidenceHash(collectRoundEvidence(inputs)));
        expect(Object.getOwnPropertyNames(Object.prototype).sort().join(',')).toBe(before);
      }),
    );
  });
});
