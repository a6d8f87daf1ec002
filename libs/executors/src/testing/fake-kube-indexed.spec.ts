import { useFakeKube } from '../../test/kube-fixture';
import type { FakeKubeApiServer as FakeKube } from './fake-kube-api';

jest.setTimeout(60_000);

const kube = useFakeKube();
let fake: FakeKube;
beforeEach(() => ({ fake } = kube.state()));

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${fake.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { code: res.status, body: (await res.json()) as Json };
};
const JOBS = '/apis/batch/v1/namespaces/aevo-jobs/jobs';
const SERVICES = '/api/v1/namespaces/aevo-jobs/services';
const job = (spec: Record<string, unknown> = {}) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'j1', labels: { 'kueue.x-k8s.io/queue-name': 'aevo-training' } },
  spec: {
    template: { spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'img' }] } },
    ...spec,
  },
});
const service = (over: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'j1', ...over },
  spec: { clusterIP: 'None', selector: { 'batch.kubernetes.io/job-name': 'j1' }, ...spec },
});

describe('FakeKubeApiServer: Indexed Jobs and Services as the API server and the Job controller treat them', () => {
  it('refuses an Indexed Job without completions, an unknown mode, a subdomain that is no DNS label', async () => {
    const noCompletions = await call('POST', JOBS, job({ completionMode: 'Indexed' }));
    expect(noCompletions.code).toBe(422);
    expect(noCompletions.body.details.causes).toContainEqual(
      expect.objectContaining({ field: 'spec.completions', reason: 'FieldValueRequired' }),
    );
    // The OpenAPI schema's enum already refuses it (400 here; the API server answers 422 FieldValueNotSupported).
    expect([400, 422]).toContain((await call('POST', JOBS, job({ completionMode: 'Sideways', completions: 2 }))).code);
    const sub = job({ completionMode: 'Indexed', completions: 2 }) as Json;
    sub.spec.template.spec.subdomain = 'Not_A_Label';
    expect((await call('POST', JOBS, sub)).body.details.causes).toContainEqual(
      expect.objectContaining({ field: 'spec.template.spec.subdomain' }),
    );
  });

  it('runs one pod per index, completes when every index succeeded, and lists the completed indexes', async () => {
    expect((await call('POST', JOBS, job({ completionMode: 'Indexed', completions: 3, parallelism: 3 }))).code).toBe(
      201,
    );
    fake.admit('j1');
    const pods = fake.podsOf('j1');
    expect(pods.map((p) => p.metadata.annotations['batch.kubernetes.io/job-completion-index'])).toEqual([
      '0',
      '1',
      '2',
    ]);
    expect(pods.map((p) => p.spec.hostname)).toEqual(['j1-0', 'j1-1', 'j1-2']);
    expect(fake.resolvedEnv(pods[2]).JOB_COMPLETION_INDEX).toBe('2');
    expect(fake.job('j1')!.status.active).toBe(3);
    fake.exitIndex('j1', 2, 0);
    fake.exitIndex('j1', 0, 0);
    expect(fake.job('j1')!.status).toMatchObject({ succeeded: 2, completedIndexes: '0,2', active: 1 });
    expect(fake.job('j1')!.status.conditions.some((c: Json) => c.type === 'Complete')).toBe(false);
    fake.exitIndex('j1', 1, 0);
    expect(fake.job('j1')!.status.completedIndexes).toBe('0-2');
    expect(fake.job('j1')!.status.conditions.map((c: Json) => c.type)).toContain('Complete');
  });

  it('replaces a failed index below backoffLimit, and fails the Job past it (other pods deleted)', async () => {
    await call('POST', JOBS, job({ completionMode: 'Indexed', completions: 2, parallelism: 2, backoffLimit: 1 }));
    fake.admit('j1');
    fake.exitIndex('j1', 1, 2);
    expect(
      fake.podsOf('j1').map((p) => [p.metadata.labels['batch.kubernetes.io/job-completion-index'], p.status.phase]),
    ).toEqual([
      ['0', 'Running'],
      ['1', 'Failed'],
      ['1', 'Pending'],
    ]);
    fake.startPod('j1');
    fake.exitIndex('j1', 1, 2);
    expect(fake.job('j1')!.status.conditions.find((c: Json) => c.type === 'Failed')).toMatchObject({
      reason: 'BackoffLimitExceeded',
    });
    expect(fake.podsOf('j1').every((p) => p.status.phase === 'Failed')).toBe(true);
    expect(() => fake.exit('j1', 0)).toThrow(/exitIndex/);
  });

  it('creates, reads, deletes Services, refusing bad names and ports; owned ones go with their Job', async () => {
    expect((await call('POST', SERVICES, service({ name: '9starts-with-digit' }))).code).toBe(422);
    expect((await call('POST', SERVICES, service({}, { clusterIP: 'nope' }))).code).toBe(422);
    expect((await call('POST', SERVICES, service({}, { clusterIP: undefined }))).code).toBe(422); // ports required
    const jobUid = (await call('POST', JOBS, job())).body.metadata.uid;
    const owned = service({ ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'j1', uid: jobUid }] });
    const created = await call('POST', SERVICES, owned);
    expect(created.code).toBe(201);
    expect(created.body.spec).toMatchObject({ clusterIP: 'None', clusterIPs: ['None'], type: 'ClusterIP' });
    expect((await call('POST', SERVICES, owned)).code).toBe(409);
    expect((await call('GET', `${SERVICES}/j1`)).code).toBe(200);
    await call('POST', SERVICES, service({ name: 'unowned' }));
    await call('DELETE', `${JOBS}/j1?propagationPolicy=Background`);
    expect((await call('GET', `${SERVICES}/j1`)).code).toBe(404);
    expect(fake.serviceNames()).toEqual(['unowned']);
    expect((await call('DELETE', `${SERVICES}/unowned`)).code).toBe(200);
    expect((await call('DELETE', `${SERVICES}/unowned`)).code).toBe(404);
  });

  it('creates, deletes NetworkPolicies, refusing bad protocols and names; owned ones go with their Job', async () => {
    const NP = '/apis/networking.k8s.io/v1/namespaces/aevo-jobs/networkpolicies';
    const policy = (name: string, over: Record<string, unknown> = {}) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name, ...over },
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 53 }] }] },
    });
    const badProtocol = policy('p1') as Json;
    badProtocol.spec.egress[0].ports[0].protocol = 'ICMP';
    expect((await call('POST', NP, badProtocol)).code).toBe(422);
    expect((await call('POST', NP, policy('Bad_Name'))).code).toBe(422);
    const jobUid = (await call('POST', JOBS, job())).body.metadata.uid;
    const owner = { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'j1', uid: jobUid }] };
    expect((await call('POST', NP, policy('j1', owner))).code).toBe(201);
    expect((await call('POST', NP, policy('j1', owner))).code).toBe(409);
    expect(fake.networkPolicy('j1')).toBeDefined();
    await call('DELETE', `${JOBS}/j1?propagationPolicy=Background`);
    expect((await call('GET', `${NP}/j1`)).code).toBe(404);
  });
});
