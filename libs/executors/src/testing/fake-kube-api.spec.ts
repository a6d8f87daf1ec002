import { useFakeKube } from '../../test/kube-fixture';
import type { FakeKubeApiServer as FakeKube } from './fake-kube-api';

jest.setTimeout(60_000);

const kube = useFakeKube();
let fake: FakeKube;
beforeEach(() => ({ fake } = kube.state()));

/** Replaces the test's fake API server by one with options (the old one is stopped). */
async function useFake(opts: ConstructorParameters<typeof FakeKube>[0]) {
  await kube.replaceFake(opts);
  fake = kube.state().fake;
}

describe("FakeKubeApiServer create validation (official batch/v1 schema + the API server's field rules)", () => {
  const post = async (body: unknown, query = '') => {
    const res = await fetch(`${fake.url}/apis/batch/v1/namespaces/aevo-jobs/jobs${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { code: res.status, body: (await res.json()) as any, warning: res.headers.get('warning') };
  };
  const job = (over: Record<string, unknown> = {}, container: Record<string, unknown> = {}) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'j1', labels: { 'kueue.x-k8s.io/queue-name': 'aevo-training' } },
    spec: {
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'img', ...container }] } },
      ...over,
    },
  });

  it('accepts a valid Job, defaults backoffLimit to 6 and suspends it for Kueue', async () => {
    const r = await post(job());
    expect(r.code).toBe(201);
    expect(r.body.spec).toMatchObject({ backoffLimit: 6, suspend: true });
  });

  it('answers 422 with a cause per field for a missing required field and a bad env name', async () => {
    const r = await post(job({}, { env: [{ name: '1BAD', value: 'x' }] }));
    expect(r.code).toBe(422);
    expect(r.body.details.causes).toContainEqual(
      expect.objectContaining({ field: 'spec.template.spec.containers[0].env[0].name' }),
    );
    const missing = await post({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j2' },
      spec: { template: { spec: { restartPolicy: 'Never' } } },
    });
    expect(missing.code).toBe(422);
    expect(missing.body.details.causes).toContainEqual(
      expect.objectContaining({ field: 'spec.template.spec.containers', reason: 'FieldValueRequired' }),
    );
  });

  it('answers 400 for a wrong type (the schema), and refuses restartPolicy Always and a bad label', async () => {
    expect((await post(job({ backoffLimit: 'two' }))).code).toBe(400);
    const always = await post({
      ...job(),
      spec: { template: { spec: { restartPolicy: 'Always', containers: [{ name: 'job', image: 'i' }] } } },
    });
    expect(always.code).toBe(422);
    expect(always.body.message).toContain('restartPolicy');
    const label = await post({
      ...job(),
      metadata: { name: 'j3', labels: { 'kueue.x-k8s.io/queue-name': 'Not A Label!' } },
    });
    expect(label.code).toBe(422);
  });

  it(
    'checks env var names by the rule of the cluster version it ' + 'plays (strict before 1.34, relaxed from 1.34)',
    async () => {
      expect((await post(job({}, { env: [{ name: '1BAD', value: 'x' }] }))).code).toBe(422);
      await useFake({ relaxedEnvVarNames: true });
      expect((await post(job({}, { env: [{ name: '1BAD', value: 'x' }] }))).code).toBe(201);
      const eq = await post({ ...job({}, { env: [{ name: 'A=B', value: 'x' }] }), metadata: { name: 'j5' } });
      expect(eq.code).toBe(422);
    },
  );

  it('drops unknown fields with a warning, or refuses them under fieldValidation=Strict', async () => {
    const r = await post(job({ suspended: true }));
    expect(r.code).toBe(201);
    expect(r.warning).toContain('unknown field \\"spec.suspended\\"');
    expect(r.body.spec.suspended).toBeUndefined();
    const strict = await post({ ...job({ suspended: true }), metadata: { name: 'j4' } }, '?fieldValidation=Strict');
    expect(strict.code).toBe(400);
    expect(strict.body.message).toContain('unknown field "spec.suspended"');
  });
});
