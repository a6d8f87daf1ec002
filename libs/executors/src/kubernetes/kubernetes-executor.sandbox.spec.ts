import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_BASE_ENV } from '../isolation';
import { kubernetesJobName } from './names';
import { SNAPSHOT, useFakeKube } from '../../test/kube-fixture';
import type { FakeKubeApiServer as FakeKube } from '../testing/fake-kube-api';

jest.setTimeout(60_000);

const kube = useFakeKube();
const { spec, start } = kube;
let fake: FakeKube;
let home: string;
let sandbox: string;
beforeEach(() => ({ fake, home, sandbox } = kube.state()));

type Mount = { name: string; mountPath: string; subPath?: string; readOnly?: boolean };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const postedJobs = (): any[] => fake.requests.filter((q) => q.method === 'POST').map((q) => q.body);

describe('KubernetesExecutor job sandbox (what the API server is sent)', () => {
  it('runs the pod as nobody, without privileges, token, service links or a writable root filesystem', async () => {
    const { ex } = start();
    await ex.submit({ campaignId: 'camp1', spec: spec('locked-down', { env: { AEVO_SEED: '7', AEVO_SIZE: 'tiny' } }) });
    const [body] = postedJobs();
    expect(body.metadata.labels['aevo.dev/role']).toBe('job');
    const pod = body.spec.template.spec;
    expect(body.spec.template.metadata.labels['aevo.dev/role']).toBe('job'); // what the NetworkPolicy selects
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.enableServiceLinks).toBe(false);
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    // The clean base, what the spec names, the job id: nothing else, and nothing from config maps or secrets.
    expect(Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]))).toEqual({
      ...SANDBOX_BASE_ENV,
      AEVO_SEED: '7',
      AEVO_SIZE: 'tiny',
      AEVO_JOB_ID: 'locked-down',
    });
    expect(c.env.every((e: object) => Object.keys(e).sort().join() === 'name,value')).toBe(true); // no valueFrom
    expect(c.envFrom).toBeUndefined();
    expect(JSON.stringify(body)).not.toMatch(/secret/i);
    expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp', readOnly: false });
    expect(pod.volumes.map((v: { name: string }) => v.name)).toEqual(['aevo-home', 'tmp']);
  });

  it(
    "mounts sub-paths only: the sandbox and the snapshot's pinned paths " +
      'read-only, the outputs writable, the inputs read-only',
    async () => {
      mkdirSync(join(home, 'leaderboard', 'hidden'), { recursive: true });
      writeFileSync(join(home, 'leaderboard', 'hidden', 'prompts.csv'), 'id,prompt\n');
      const { ex, finished } = start();
      await ex.submit({
        campaignId: 'camp1',
        spec: spec('mounted', {
          entrypoint: 'predict',
          isolation: {
            snapshotId: SNAPSHOT,
            outputs: ['out/predictions', join(home, 'runs', 'mounted')],
            inputs: [join(home, 'leaderboard', 'hidden', 'prompts.csv')],
          },
        }),
      });
      const [body] = postedJobs();
      expect(body).toBeDefined();
      const c = body.spec.template.spec.containers[0];
      const sb = '/var/lib/aevo/sandboxes/camp1-r2-c3';
      expect(c.workingDir).toBe(sb);
      const shared = (c.volumeMounts as Mount[]).filter((m) => m.name === 'aevo-home');
      // Never the whole volume: every mount of the shared claim names a sub-path.
      expect(shared.every((m) => typeof m.subPath === 'string' && m.subPath.length > 0)).toBe(true);
      expect(shared.some((m) => m.mountPath === '/var/lib/aevo')).toBe(false);
      const snap = `snapshots/${SNAPSHOT}`;
      expect([...shared].sort((a, b) => a.mountPath.localeCompare(b.mountPath))).toEqual(
        [
          { name: 'aevo-home', mountPath: sb, subPath: 'sandboxes/camp1-r2-c3', readOnly: true },
          // Pinned (non-editable) paths of the fixture, from the snapshot: the editable recipe.yaml and pipeline/ are
          // not.
          { name: 'aevo-home', mountPath: `${sb}/README.md`, subPath: `${snap}/README.md`, readOnly: true },
          { name: 'aevo-home', mountPath: `${sb}/base`, subPath: `${snap}/base`, readOnly: true },
          { name: 'aevo-home', mountPath: `${sb}/harness`, subPath: `${snap}/harness`, readOnly: true },
          { name: 'aevo-home', mountPath: `${sb}/substrate.yaml`, subPath: `${snap}/substrate.yaml`, readOnly: true },
          {
            name: 'aevo-home',
            mountPath: `${sb}/out/predictions`,
            subPath: 'sandboxes/camp1-r2-c3/out/predictions',
            readOnly: false,
          },
          { name: 'aevo-home', mountPath: '/var/lib/aevo/runs/mounted', subPath: 'runs/mounted', readOnly: false },
          {
            name: 'aevo-home',
            mountPath: '/var/lib/aevo/leaderboard/hidden/prompts.csv',
            subPath: 'leaderboard/hidden/prompts.csv',
            readOnly: true,
          },
        ].sort((a, b) => a.mountPath.localeCompare(b.mountPath)),
      );
      expect(
        shared
          .filter((m) => !m.readOnly)
          .map((m) => m.subPath)
          .sort(),
      ).toEqual(['runs/mounted', 'sandboxes/camp1-r2-c3/out/predictions']);
      // Parents before what they hold, so the pinned paths and outputs land on top of the sandbox.
      const at = (p: string) => shared.findIndex((m) => m.mountPath === p);
      expect(at(sb)).toBeLessThan(Math.min(at(`${sb}/harness`), at(`${sb}/out/predictions`)));
      // The outputs exist before the Job does, writable by the job's uid (owned by it, or open to it).
      for (const dir of [join(sandbox, 'out', 'predictions'), join(home, 'runs', 'mounted')]) {
        const st = statSync(dir);
        expect(st.isDirectory()).toBe(true);
        expect(st.uid === 65534 || (st.mode & 0o777) === 0o777).toBe(true);
      }
      fake.admit(kubernetesJobName('mounted'));
      fake.exit(kubernetesJobName('mounted'), 0);
      expect(await finished('mounted')).toMatchObject({ status: 'succeeded' });
    },
  );

  it('takes the uid, gid, fsGroup and /tmp size from its configuration', async () => {
    const { ex } = start({ runAsUser: 1001, runAsGroup: 1002, fsGroup: 1003, tmpSizeLimit: '2Gi' });
    await ex.submit({ campaignId: 'camp1', spec: spec('configured') });
    const pod = postedJobs()[0].spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1001,
      runAsGroup: 1002,
      fsGroup: 1003,
      fsGroupChangePolicy: 'OnRootMismatch',
    });
    expect(pod.containers[0].securityContext).toMatchObject({ runAsUser: 1001, runAsGroup: 1002 });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '2Gi' } });
    const st = statSync(join(sandbox, 'checkpoints'));
    expect(st.uid === 1001 || (st.mode & 0o777) === 0o777).toBe(true);
  });

  const elsewhere = () => realpathSync(mkdtempSync(join(tmpdir(), 'aevo-k8s-elsewhere-')));
  it.each([
    [
      'an output under a pinned path',
      () => ({ isolation: { snapshotId: SNAPSHOT, outputs: ['harness/out'], inputs: [] } }),
      'isolation.outputs.0',
      'harness/out',
    ],
    [
      'an unknown snapshot',
      () => ({ isolation: { snapshotId: 'cd'.repeat(32), outputs: ['checkpoints'], inputs: [] } }),
      'isolation.snapshotId',
      'cd'.repeat(32),
    ],
    ['a sandbox outside AEVO_HOME', () => ({ sandboxPath: elsewhere() }), 'sandboxPath', 'aevo-k8s-elsewhere-'],
    [
      'an output in a private directory of AEVO_HOME',
      () => ({ isolation: { snapshotId: SNAPSHOT, outputs: [join(home, 'logs', 'x')], inputs: [] } }),
      'isolation.outputs.0',
      'logs',
    ],
    [
      'a missing input',
      () => ({ isolation: { snapshotId: SNAPSHOT, outputs: ['checkpoints'], inputs: [join(home, 'nope.csv')] } }),
      'isolation.inputs.0',
      'nope.csv',
    ],
  ])('refuses %s: no Job, a failed outcome naming the field', async (_what, over, field, mentions) => {
    const { ex, finished, errors } = start();
    const s = spec('refused', over());
    const r = await ex.submit({ campaignId: 'camp1', spec: s });
    expect(r.accepted).toBe(true);
    const out = await finished('refused');
    expect(out).toMatchObject({ status: 'failed', reason: 'executor-error', exitCode: null });
    expect(out.message).toContain(field);
    expect(out.message).toContain(mentions);
    expect(fake.requests.some((q) => q.method === 'POST')).toBe(false);
    expect(fake.jobNames()).toEqual([]);
    expect(existsSync(join(sandbox, 'checkpoints'))).toBe(false); // nothing prepared for a refused job
    expect(errors).toEqual([]);
    if (s.sandboxPath !== sandbox) rmSync(s.sandboxPath, { recursive: true, force: true });
  });
});
