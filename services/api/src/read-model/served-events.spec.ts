import { SecretScrubber } from '@aevo/executors';
import { servedEvent } from './served-events';

describe('servedEvent', () => {
  // A made-up value standing for a configured secret.
  const scrubber = new SecretScrubber(['fake-configured-secret-42']);

  it('redacts secrets in any string of the data, however deep', () => {
    // Given an event whose tail, message and a nested env value hold secrets
    const e = {
      position: 7,
      type: 'JobFailed',
      data: {
        logTail: 'loss 0.5\nleak fake-configured-secret-42',
        message: 'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 seen',
        spec: { env: { X: 'fake-configured-secret-42' }, argv: ['a', 'fake-configured-secret-42'] },
        gpuSeconds: 3,
      },
    };
    // When it is served
    const out = servedEvent(e, scrubber);
    // Then each is redacted, the rest kept, and the stored event is untouched
    expect(out.data).toEqual({
      logTail: 'loss 0.5\nleak [redacted:secret]',
      message: '[redacted:github-token] seen',
      spec: { env: { X: '[redacted:secret]' }, argv: ['a', '[redacted:secret]'] },
      gpuSeconds: 3,
    });
    expect(out.position).toBe(7);
    expect(e.data.logTail).toContain('fake-configured-secret-42');
  });

  it('returns an event with nothing to redact as it is', () => {
    const e = {
      type: 'JobSucceeded',
      data: {
        logTail: 'step 100 loss=0.43\nsaved checkpoints/step-000100',
        sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        n: [1, 2],
      },
    };
    expect(servedEvent(e, scrubber)).toBe(e);
  });
});
