import * as fc from 'fast-check';
import { partialEnvelope } from '../../test/fixtures';
import { applyFact, emptyFacts } from './facts';

const KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
const ev = (type: string, data: object) => partialEnvelope(type, 'c', data);

describe('orchestrator facts with candidate and job ids named after Object.prototype members', () => {
  it('keep each as an own entry and touch no built-in object', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KEYS), fc.constantFrom(...KEYS), (candidateId, jobId) => {
        const f = emptyFacts();
        applyFact(f, ev('CandidateForked', { round: 1, candidateId, sandboxPath: '/sandboxes/x' }));
        applyFact(f, ev('WorkerFailed', { round: 1, candidateId, reason: 'boom' }));
        applyFact(f, ev('JobSucceeded', { jobId, gpuSeconds: 7 }));
        expect(Object.getOwnPropertyNames(f.rounds[1].candidates)).toEqual([candidateId]);
        expect(f.rounds[1].candidates[candidateId]).toMatchObject({
          sandboxPath: '/sandboxes/x',
          workerFailed: 'boom',
        });
        // A job id like "constructor" is charged, not mistaken for an already-counted one.
        expect(f.jobSeconds[jobId]).toBe(7);
        expect(Object.prototype.hasOwnProperty.call(Object, 'sandboxPath')).toBe(false);
        expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'sandboxPath')).toBe(false);
      }),
    );
  });
});
