import {
  isDns1123Label,
  isDns1123Subdomain,
  isEnvVarName,
  isQuantity,
  jobSpecErrors,
  kubernetesConfigErrors,
} from './validate';

const cfg = {
  namespace: 'aevo-jobs',
  image: 'registry.example/img:1',
  queueName: 'aevo-training',
  pvcClaimName: 'aevo-home',
  sandboxRoot: '/srv',
  mountPath: '/m',
};

describe('Kubernetes name rules', () => {
  it.each([
    ['AEVO_SEED', true],
    ['_x', true],
    ['.x-y.z', true],
    ['a1', true],
    ['1BAD', false],
    ['HAS SPACE', false],
    ['A=B', false],
    ['', false],
  ])('env var name %j → %s', (name, ok) => expect(isEnvVarName(name)).toBe(ok));

  it('tells DNS-1123 labels from subdomains, with their lengths', () => {
    expect(isDns1123Label('aevo-jobs')).toBe(true);
    expect(isDns1123Label('aevo.jobs')).toBe(false);
    expect(isDns1123Label('a'.repeat(64))).toBe(false);
    expect(isDns1123Subdomain('aevo.high-priority')).toBe(true);
    expect(isDns1123Subdomain('Aevo')).toBe(false);
    expect(isDns1123Subdomain('-a')).toBe(false);
    // 253 characters: the longest allowed
    expect(isDns1123Subdomain(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`)).toBe(true);
    // 254 characters: one too many
    expect(isDns1123Subdomain(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`)).toBe(false);
  });

  it('reads quantities as the API serialises them', () => {
    for (const q of ['8Gi', '512Mi', '1.5G', '100m', '1e3', '2']) expect(isQuantity(q)).toBe(true);
    for (const q of ['8 gigs', 'Gi', '1.5GiB', '']) expect(isQuantity(q)).toBe(false);
  });
});

describe('kubernetesConfigErrors / jobSpecErrors', () => {
  it('accepts a valid configuration', () => {
    expect(
      kubernetesConfigErrors({
        ...cfg,
        priorityClasses: { high: 'aevo-high' },
        serviceAccountName: 'aevo-job',
        tmpSizeLimit: '8Gi',
      }),
    ).toEqual([]);
  });

  it('names every bad field at once, including a queue name too long for its label', () => {
    const errors = kubernetesConfigErrors({
      ...cfg,
      namespace: 'Jobs',
      queueName: 'q'.repeat(64),
      priorityClasses: { low: 'low_prio' },
      image: 'has space',
    });
    expect(errors.map((e) => e.field)).toEqual(['namespace', 'queueName', 'priorityClasses.low', 'image']);
    expect(errors[1].message).toContain('63');
  });

  it('lists each env var name the API server would refuse', () => {
    expect(jobSpecErrors({ env: { OK_NAME: '1', '9lives': '2', 'a b': '3' } }).map((e) => e.field)).toEqual([
      'env.9lives',
      'env.a b',
    ]);
  });
});
