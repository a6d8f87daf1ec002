import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobSpec } from '@aevo/contracts';
import { eventually } from '@aevo/testkit';
import type { LocalExecutorOptions } from '../src/local/local-executor';
import { forkJobSandbox, writeJobSnapshot } from '../src/testing/job-home';
import { LocalExecutorBench } from './local-harness';

export interface LocalJobHomePaths {
  root: string;
  sandbox: string;
  /** The jobs' one writable directory (the sandbox itself is read-only to a sandboxed job). */
  out: string;
  snapshotId: string;
}

/**
 * The local executor specs' set-up: before each test a fresh AEVO_HOME with a snapshot and a sandbox forked from it;
 * after it, every executor the test started is cleaned up and the home removed.
 */
export function useLocalJobHome() {
  let paths: LocalJobHomePaths = { root: '', sandbox: '', out: '', snapshotId: '' };
  const bench = new LocalExecutorBench(() => ({ home: paths.root, cpuSlots: 2, pollMs: 100, killGraceMs: 1000 }));

  beforeEach(() => {
    const root = mkdtempSync(join(tmpdir(), 'aevo-local-exec-'));
    const snap = writeJobSnapshot(root);
    const sandbox = forkJobSandbox(snap.snapshotPath, join(root, 'sandbox'));
    paths = { root, sandbox, out: join(sandbox, 'out'), snapshotId: snap.snapshotId };
    mkdirSync(paths.out);
  });

  afterEach(async () => {
    await bench.cleanup();
    rmSync(paths.root, { recursive: true, force: true });
  });

  const spec = (jobId: string, script: string, over: Partial<JobSpec> = {}): JobSpec => ({
    jobId,
    candidateId: 'c1-r1-c0',
    round: 1,
    entrypoint: 'train',
    sandboxPath: paths.sandbox,
    argv: ['sh', '-c', script],
    env: {},
    resources: { cpu: 1, memoryMiB: 256, gpu: 0 },
    timeoutSeconds: 60,
    priority: 'normal',
    isolation: { snapshotId: paths.snapshotId, outputs: ['out'], inputs: [] },
    ...over,
  });

  return {
    bench,
    paths: () => paths,
    spec,
    start: (opts: Partial<LocalExecutorOptions> = {}) => bench.start(opts),
    readPid: (path: string) =>
      eventually(() => (existsSync(path) ? Number(readFileSync(path, 'utf8').trim()) || undefined : undefined)),
  };
}
