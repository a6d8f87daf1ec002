import { execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isProcessAlive, UNSANDBOXED_OPT_IN } from '@aevo/executors';
import { eventually, startServiceHarness, type ServiceHarness } from '@aevo/testkit';
import { jobEvents, jobRequested, jobSpec, prepareJobHome, terminalOf, TERMINAL, type JobHome } from './support';

jest.setTimeout(600_000);

const SERVICE_DIR = path.resolve(__dirname, '..');

/**
 * Acceptance: `kill -9` of the dispatch process (the built service, its own OS process) while 3 local jobs run and a
 * fourth waits, then a restart: every job ends with exactly one terminal event and none runs twice.
 */
describe('dispatch killed with SIGKILL while jobs run', () => {
  let h: ServiceHarness;
  let tmp: string;
  let home: string;
  let sandbox: string;
  let where: JobHome;

  beforeAll(async () => {
    // Processes run the built dist (dependencies are built by nx's ^build before tests).
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: SERVICE_DIR,
      stdio: 'pipe',
    });
    // No module in this process: dispatch runs only as its own process (startDispatch).
    h = await startServiceHarness([], { service: 'dispatch', poolSize: 3 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dispatch-crash-'));
    home = path.join(tmp, 'home');
    where = prepareJobHome(home);
    sandbox = where.sandbox;
  });

  afterAll(async () => {
    for (const c of h?.processes ?? []) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    // Jobs still running after a failure of this test must not outlive it.
    const jobsDir = path.join(home ?? '', 'dispatch', 'local-jobs');
    if (home && fs.existsSync(jobsDir))
      for (const id of fs.readdirSync(jobsDir)) {
        const pidFile = path.join(jobsDir, id, 'pid');
        if (fs.existsSync(pidFile))
          try {
            process.kill(-Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL');
          } catch {
            // already gone
          }
      }
    await h?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  function startDispatch(): ChildProcess {
    return h.spawn('dispatch', {
      AEVO_EXECUTOR: 'local',
      AEVO_HOME: home,
      AEVO_LOCAL_SLOTS: '3',
      AEVO_LOCAL_GPUS: 'none',
      AEVO_LOCAL_KILL_GRACE_MS: '500',
      // This suite is about crash recovery and reads the pids its jobs print, which a sandbox's pid namespace
      // hides; dispatch's sandboxed jobs are covered by service.int.spec.ts and the executor's own tests.
      AEVO_UNSANDBOXED_JOBS: UNSANDBOXED_OPT_IN,
    });
  }

  const gate = (name: string, code: number) =>
    `echo ${name} >> ${tmp}/runs.txt; echo $$ > ${sandbox}/${name}.pid; echo "${name} started"; ` +
    `while [ ! -f ${sandbox}/go-${name} ]; do sleep 0.1; done; echo "${name} done"; exit ${code}`;
  const readyCount = () => h.output('dispatch').split('Nest microservice successfully started').length - 1;
  const open = (name: string) => fs.writeFileSync(path.join(sandbox, `go-${name}`), '');
  const pidOf = (name: string) =>
    eventually(
      () =>
        fs.existsSync(`${sandbox}/${name}.pid`)
          ? Number(fs.readFileSync(`${sandbox}/${name}.pid`, 'utf8')) || null
          : null,
      120_000,
    );

  it('every job ends with exactly one terminal event after a restart', async () => {
    const first = startDispatch();
    const specs = [
      jobSpec('crash-a', where, gate('crash-a', 0)),
      jobSpec('crash-b', where, gate('crash-b', 4)),
      jobSpec('crash-c', where, gate('crash-c', 0)),
      jobSpec('crash-d', where, gate('crash-d', 0)), // 3 slots: this one waits in the queue
    ];
    await h.append(...specs.map(jobRequested));
    const started = async (id: string) => (await jobEvents(h.store, id)).some((e) => e.type === 'JobStarted');
    await eventually(
      async () => (await started('crash-a')) && (await started('crash-b')) && (await started('crash-c')),
      180_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n--- dispatch output ---\n${h.output('dispatch')}`);
    });
    await eventually(async () => (await jobEvents(h.store, 'crash-d')).some((e) => e.type === 'JobQueued'), 60_000);
    expect(await started('crash-d')).toBe(false);
    const pids = { a: await pidOf('crash-a'), b: await pidOf('crash-b'), c: await pidOf('crash-c') };

    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // The jobs are their own process groups: they survive their dispatch.
    expect([pids.a, pids.b, pids.c].every((p) => isProcessAlive(p))).toBe(true);

    // While dispatch is down: b finishes (exit 4) and c's whole process group is killed behind its back.
    open('crash-b');
    await eventually(() => !isProcessAlive(pids.b));
    const cWrapper = Number(fs.readFileSync(path.join(home, 'dispatch', 'local-jobs', 'crash-c', 'pid'), 'utf8'));
    process.kill(-cWrapper, 'SIGKILL');
    await eventually(() => !isProcessAlive(pids.c));
    for (const id of ['crash-a', 'crash-b', 'crash-c', 'crash-d'])
      expect(await terminalOf(h.store, id)).toBeUndefined();

    const second = startDispatch();
    const b = await eventually(() => terminalOf(h.store, 'crash-b'), 180_000);
    expect(b.type).toBe('JobFailed');
    expect(b.data).toMatchObject({ reason: 'exit-code', exitCode: 4, logTail: 'crash-b started\ncrash-b done' });
    const c = await eventually(() => terminalOf(h.store, 'crash-c'), 60_000);
    expect(c.data).toMatchObject({ reason: 'lost', exitCode: null });
    expect(await terminalOf(h.store, 'crash-a')).toBeUndefined(); // still running, reattached
    open('crash-a');
    open('crash-d');
    expect((await eventually(() => terminalOf(h.store, 'crash-a'), 60_000)).type).toBe('JobSucceeded');
    expect((await eventually(() => terminalOf(h.store, 'crash-d'), 120_000)).type).toBe('JobSucceeded');

    // Stop the second dispatch too and let a third come up: nothing is recorded or run again.
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    const third = startDispatch();
    // Up (recovery and reconciliation run before the transport starts), then given a moment to write anything it would.
    await eventually(() => readyCount() >= 3, 120_000);
    await new Promise((r) => setTimeout(r, 1000));
    third.kill('SIGTERM');
    await new Promise((r) => third.once('exit', r));

    for (const id of ['crash-a', 'crash-b', 'crash-c', 'crash-d']) {
      const events = await jobEvents(h.store, id);
      expect(events.filter((e) => TERMINAL.has(e.type))).toHaveLength(1);
      expect(events.filter((e) => e.type === 'JobQueued')).toHaveLength(1);
    }
    expect(fs.readFileSync(path.join(tmp, 'runs.txt'), 'utf8').trim().split('\n').sort()).toEqual([
      'crash-a',
      'crash-b',
      'crash-c',
      'crash-d',
    ]);
  });
});
