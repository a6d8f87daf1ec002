import { IsolationRefused, type IsolationPlan } from '../isolation';
import { podMounts } from './manifest';

const cfg = { sandboxRoot: '/srv/aevo', mountPath: '/var/lib/aevo' };
const snap = 'ef'.repeat(32);
const plan = (over: Partial<IsolationPlan> = {}): IsolationPlan => ({
  home: '/srv/aevo',
  sandbox: '/srv/aevo/sandboxes/c1',
  snapshot: `/srv/aevo/snapshots/${snap}`,
  pinned: ['harness'],
  outputs: ['/srv/aevo/sandboxes/c1/out'],
  inputs: [],
  ...over,
});

describe('podMounts', () => {
  it("does not mount an input inside the sandbox (it would cover a pinned path with the sandbox's own copy)", () => {
    const { volumeMounts } = podMounts(
      cfg,
      '/srv/aevo/sandboxes/c1',
      plan({ inputs: ['/srv/aevo/sandboxes/c1/harness'] }),
    );
    expect(volumeMounts.filter((m) => m.mountPath === '/var/lib/aevo/sandboxes/c1/harness')).toEqual([
      {
        name: 'aevo-home',
        mountPath: '/var/lib/aevo/sandboxes/c1/harness',
        subPath: `snapshots/${snap}/harness`,
        readOnly: true,
      },
    ]);
  });

  it('mounts a path named both output and input once, read-only (the API server rejects duplicate mount paths)', () => {
    const { volumeMounts } = podMounts(
      cfg,
      '/srv/aevo/sandboxes/c1',
      plan({ outputs: ['/srv/aevo/runs/x'], inputs: ['/srv/aevo/runs/x'] }),
    );
    expect(volumeMounts.filter((m) => m.mountPath === '/var/lib/aevo/runs/x')).toEqual([
      { name: 'aevo-home', mountPath: '/var/lib/aevo/runs/x', subPath: 'runs/x', readOnly: true },
    ]);
  });

  it("places the sandbox where the spec's path maps to, mounting its real directory", () => {
    const { workingDir, volumeMounts } = podMounts(
      cfg,
      '/srv/aevo/sandboxes/link',
      plan({ sandbox: '/srv/aevo/sandboxes/real', outputs: ['/srv/aevo/sandboxes/real/out'] }),
    );
    expect(workingDir).toBe('/var/lib/aevo/sandboxes/link');
    expect(volumeMounts).toContainEqual({
      name: 'aevo-home',
      mountPath: '/var/lib/aevo/sandboxes/link',
      subPath: 'sandboxes/real',
      readOnly: true,
    });
    expect(volumeMounts).toContainEqual({
      name: 'aevo-home',
      mountPath: '/var/lib/aevo/sandboxes/link/out',
      subPath: 'sandboxes/real/out',
      readOnly: false,
    });
  });

  it(
    'refuses, naming the field, a snapshot that resolves outside ' + 'AEVO_HOME (no sub-path of the claim reaches it)',
    () => {
      const run = () => podMounts(cfg, '/srv/aevo/sandboxes/c1', plan({ snapshot: `/mnt/elsewhere/${snap}` }));
      expect(run).toThrow(IsolationRefused);
      expect(run).toThrow(/isolation\.snapshotId/);
    },
  );
});
