import {
  DEFAULT_RETRY_POLICY,
  MAX_DESCRIPTION_LENGTH,
  backoffDelayMs,
  nextRetryDelayMs,
  parseRetryAfter,
  readRefusal,
  sanitizeSubmissionDescription,
} from './index';

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, and nothing else', () => {
    expect(parseRetryAfter('30')).toBe(30_000);
    expect(parseRetryAfter('Mon, 07 Dec 2026 08:00:30 GMT', Date.parse('2026-12-07T08:00:00Z'))).toBe(30_000);
    expect(parseRetryAfter('Mon, 07 Dec 2026 07:59:00 GMT', Date.parse('2026-12-07T08:00:00Z'))).toBe(0);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
  });
});

describe('nextRetryDelayMs', () => {
  const policy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 5000, maxTotalMs: 9000 };
  it('waits what Retry-After asks for, else backs off with jitter, within every bound', () => {
    expect(nextRetryDelayMs(1, 2000, 0, policy, () => 0)).toBe(2000);
    expect([1, 2, 3].map((a) => backoffDelayMs(a, policy, () => 0))).toEqual([500, 1000, 2000]);
    expect([1, 2, 3, 4].map((a) => backoffDelayMs(a, policy, () => 1))).toEqual([1000, 2000, 4000, 5000]);
    expect(nextRetryDelayMs(4, null, 0, policy, () => 0)).toBeNull(); // tries used up
    expect(nextRetryDelayMs(1, 6000, 0, policy, () => 0)).toBeNull(); // would not honour it
    expect(nextRetryDelayMs(2, 2000, 8000, policy, () => 0)).toBeNull(); // total bound
  });
});

describe('sanitizeSubmissionDescription', () => {
  it('keeps a safe description as it is', () => {
    expect(sanitizeSubmissionDescription('aevo c1 c1-r1-s1')).toBe('aevo c1 c1-r1-s1');
  });
  it('replaces unsafe characters, bounds the length and keeps different texts different', () => {
    const a = sanitizeSubmissionDescription('aevo c1/c1-r1-s1');
    const b = sanitizeSubmissionDescription('aevo c1-c1-r1-s1 ');
    expect(a).toMatch(/^aevo c1-c1-r1-s1 #[0-9a-f]{10}$/);
    expect(a).not.toBe(b);
    expect(a).toBe(sanitizeSubmissionDescription('aevo c1/c1-r1-s1'));
    const long = sanitizeSubmissionDescription('é'.repeat(300));
    expect(long.length).toBeLessThanOrEqual(MAX_DESCRIPTION_LENGTH);
    expect(long).toMatch(/^[A-Za-z0-9 _.,:;=+#()-]+$/);
  });
  it('refuses an empty description', () => {
    expect(() => sanitizeSubmissionDescription('   ')).toThrow(/at least one character/);
  });
});

describe('readRefusal', () => {
  it.each([
    [
      'Submission not allowed:  Your team has used its daily Submission allowance (5) today, please try ' +
        'again tomorrow UTC.',
      'quota-exceeded',
    ],
    ["You must accept this competition's rules before you can make submissions.", 'not-joined'],
    ["Competition 'titanc' not found.", 'competition-not-found'],
    ['Invalid submission description.', 'invalid-description'],
    ['Bad Request', 'unspecific'],
    ["Permission 'competitions.participate' was denied", 'unspecific'],
  ])('%s → %s', (message, reading) => expect(readRefusal(message)).toBe(reading));
});
