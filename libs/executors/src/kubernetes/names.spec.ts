import fc from 'fast-check';
import { isDnsLabel, isLabelValue, kubernetesJobName, labelValue } from './names';

const slug = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,119}$/);

describe('Kubernetes names', () => {
  it('derives a valid, deterministic Job name from any jobId', () => {
    fc.assert(
      fc.property(slug, (id) => {
        const name = kubernetesJobName(id);
        expect(isDnsLabel(name)).toBe(true);
        expect(kubernetesJobName(id)).toBe(name);
      }),
    );
  });

  it('keeps ids apart that differ only in case, underscores or beyond the length limit', () => {
    const long = 'x'.repeat(100);
    const ids = ['Job_1', 'job-1', 'JOB-1', `${long}a`, `${long}b`];
    expect(new Set(ids.map(kubernetesJobName)).size).toBe(ids.length);
  });

  it('reads well for ordinary ids', () => {
    expect(kubernetesJobName('camp-r1-c0-train-1')).toMatch(/^aevo-camp-r1-c0-train-1-[0-9a-f]{8}$/);
  });

  it('passes valid label values through and repairs the rest', () => {
    expect(labelValue('camp-r1-c0')).toBe('camp-r1-c0');
    fc.assert(
      fc.property(slug, (id) => {
        expect(isLabelValue(labelValue(id))).toBe(true);
      }),
    );
    expect(labelValue('a'.repeat(80))).not.toBe(labelValue(`${'a'.repeat(79)}b`));
  });
});
