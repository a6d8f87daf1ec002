// The KEDA triggers name the durable consumers the services bind, and those names come from one declaration:
// ACCESS in libs/messaging/src/auth/permissions.ts (checked against every @OnEvent by test/nats-auth.int.spec.ts),
// named by consumerName(). tools/gen-deploy.js generates the ScaledObjects (and the Deployments, and the NATS users
// for the Helm chart) from it; this suite fails when the checked-in files drift from what it would write, and reads
// the declaration from the TypeScript sources, not from the build the tool uses, so a stale build cannot hide drift.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { declaredDurables } from '../../libs/messaging/src/auth/permissions';

const ROOT = path.resolve(__dirname, '..', '..');
const TOOL = path.join(ROOT, 'tools/gen-deploy.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const gen = require(TOOL) as {
  SERVICES: Record<string, { cluster: string; scale?: { on: string[] | 'every consumer' } }>;
  render: (decl: { durables: ReturnType<typeof declaredDurables>; permissions: unknown }) => Record<string, string>;
};
const permissions = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/nats/permissions.json'), 'utf8')) as unknown;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const scaledObjects = (text: string): Any[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Any)
    .filter((o) => o?.kind === 'ScaledObject');

describe('generated deployment files (tools/gen-deploy.js)', () => {
  it('are up to date (gen-deploy --check)', () => {
    expect(() => execFileSync(process.execPath, [TOOL, '--check'], { cwd: ROOT, stdio: 'pipe' })).not.toThrow();
  });

  it('are exactly what the declaration in the sources yields', () => {
    const files = gen.render({ durables: declaredDurables(), permissions });
    for (const [file, text] of Object.entries(files))
      expect({ file, text: fs.readFileSync(path.join(ROOT, file), 'utf8') }).toEqual({ file, text });
  });

  it('scale worker, evaluation, dispatch and collector on lag of durable consumers those services declare', () => {
    const durables = declaredDurables();
    const all = ['control', 'compute'].flatMap((c) =>
      scaledObjects(fs.readFileSync(path.join(ROOT, `deploy/k8s/overlays/${c}/scaled-objects.yaml`), 'utf8')),
    );
    expect(all.map((o) => o.metadata.name).sort()).toEqual([
      'aevo-collector',
      'aevo-dispatch',
      'aevo-evaluation',
      'aevo-worker',
    ]);
    for (const o of all) {
      const service = o.metadata.name.replace(/^aevo-/, '');
      expect(o.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(o.spec.maxReplicaCount).toBeGreaterThanOrEqual(o.spec.minReplicaCount);
      expect(o.metadata.annotations['aevo.dev/scales-on']).toBeTruthy();
      expect(o.spec.triggers.length).toBeGreaterThan(0);
      for (const t of o.spec.triggers) {
        expect(t.type).toBe('nats-jetstream');
        expect(durables).toContainEqual(expect.objectContaining({ service, durable: t.metadata.consumer }));
        expect(t.metadata.stream).toBe('AEVO_EVENTS');
      }
    }
    const worker = all.find((o) => o.metadata.name === 'aevo-worker');
    expect(worker.spec.triggers.map((t: Any) => t.metadata.consumer)).toEqual(['worker__CandidateForked']);
  });

  it(
    'fails on drift: a renamed consumer changes the output, ' +
      'and scaling on a consumer the service lacks is refused',
    () => {
      const renamed = declaredDurables().map((d) =>
        d.durable === 'worker__CandidateForked'
          ? { ...d, type: 'CandidateForkedV2', durable: 'worker__CandidateForkedV2' }
          : d,
      );
      expect(() => gen.render({ durables: renamed, permissions })).toThrow(
        /SERVICES\.worker\.scale\.on names CandidateForked, which worker does not consume/,
      );

      const extra = [
        ...declaredDurables(),
        { service: 'collector', type: 'RoundClosed', durable: 'collector__RoundClosed' },
      ] as ReturnType<typeof declaredDurables>;
      const files = gen.render({ durables: extra, permissions });
      const file = 'deploy/k8s/overlays/control/scaled-objects.yaml';
      expect(files[file]).not.toEqual(fs.readFileSync(path.join(ROOT, file), 'utf8'));
      expect(scaledObjects(files[file])[0].spec.triggers.map((t: Any) => t.metadata.consumer)).toContain(
        'collector__RoundClosed',
      );
    },
  );
});
