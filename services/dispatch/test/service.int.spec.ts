import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelJob } from '@aevo/contracts';
import { LocalExecutor, processesWithCommandLine } from '@aevo/executors';
import { eventually, startServiceHarness, type ServiceHarness } from '@aevo/testkit';
import { DispatchModule } from '../src/dispatch.module';
import { foldBudget } from '../src/domain/budget';
import { jobEvents, jobRequested, jobSpec, prepareJobHome, terminalOf, TERMINAL, type JobHome } from './support';

jest.setTimeout(180_000);

/**
 * The Nest service on the real transport (JobRequested relayed from PostgreSQL to JetStream) with the local
 * executor.
 */
describe('dispatch service on nats-server and PostgreSQL (local executor)', () => {
  let h: ServiceHarness;
  let tmp: string;
  let where: JobHome;
  let out: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dispatch-int-'));
    where = prepareJobHome(path.join(tmp, 'home'));
    out = where.out;
    const executor = new LocalExecutor({ home: where.home, cpuSlots: 3, pollMs: 100, killGraceMs: 500 });
    h = await startServiceHarness(DispatchModule.forRoot({ executor }), {
      service: 'dispatch',
      server: { nakDelayMs: 200, maxNakDelayMs: 2000 },
    });
  });

  afterAll(async () => {
    await h?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const request = (...specs: ReturnType<typeof jobSpec>[]) => h.append(...specs.map(jobRequested));
  const terminal = (jobId: string) => eventually(() => terminalOf(h.store, jobId), 90_000);

  it('JobRequested in → JobQueued, JobStarted and JobSucceeded with the log tail out', async () => {
    await request(jobSpec('svc-ok', where, 'echo hello from the job; echo second line'));
    const done = await terminal('svc-ok');
    expect(done.type).toBe('JobSucceeded');
    expect(done.source).toBe('dispatch');
    expect(done.data).toMatchObject({
      jobId: 'svc-ok',
      exitCode: 0,
      logTail: 'hello from the job\nsecond line',
      executor: 'local',
      budgetUnit: 'cpu-slot-seconds',
    });
    const events = await jobEvents(h.store, 'svc-ok');
    expect(events.map((e) => e.type)).toEqual(['JobQueued', 'JobStarted', 'JobSucceeded']);
    expect(events[0].causationId).not.toBeNull();
    expect(events[1].causationId).toBe(events[0].id);
  });

  it('runs a jobId requested twice exactly once', async () => {
    const s = jobSpec('svc-dup', where, `echo ran >> ${out}/svc-dup.runs`);
    await request(s, s);
    await terminal('svc-dup');
    await request(s); // and once more after it finished
    // JobRequested is handled in stream order (one at a time): once a later job is queued, every request before it
    // was handled.
    await request(jobSpec('svc-dup-marker', where, 'true'));
    await terminal('svc-dup-marker');
    expect(fs.readFileSync(path.join(out, 'svc-dup.runs'), 'utf8')).toBe('ran\n');
    const events = await jobEvents(h.store, 'svc-dup');
    expect(events.filter((e) => e.type === 'JobQueued')).toHaveLength(1);
    expect(events.filter((e) => TERMINAL.has(e.type))).toHaveLength(1);
  });

  it('kills an overrunning job with its children and records a timeout', async () => {
    // Inside its sandbox a job sees its own pid namespace: its processes are found from outside by command line.
    const marker = `sleep 30${Math.floor(Math.random() * 1e5)}`;
    await request(jobSpec('svc-slow', where, `${marker} & echo working; wait`, { timeoutSeconds: 1 }));
    await eventually(() => processesWithCommandLine(marker).length > 0 || undefined);
    const done = await terminal('svc-slow');
    expect(done.type).toBe('JobFailed');
    expect(done.data).toMatchObject({ reason: 'timeout', logTail: 'working' });
    await eventually(() => processesWithCommandLine(marker).length === 0 || undefined);
  });

  it('records divergence (DIVERGED line / exit code 3)', async () => {
    await request(jobSpec('svc-div', where, 'echo "DIVERGED at step 40"; exit 3'));
    expect((await terminal('svc-div')).data).toMatchObject({ reason: 'diverged', exitCode: 3 });
  });

  it(
    'cancels a running job over NATS; a second cancel is answered, ' +
      'an unknown job and bad input are refused by field',
    async () => {
      const marker = `sleep 31${Math.floor(Math.random() * 1e5)}`;
      await request(jobSpec('svc-cancel', where, marker));
      await eventually(async () => (await jobEvents(h.store, 'svc-cancel')).some((e) => e.type === 'JobStarted'));
      await eventually(() => processesWithCommandLine(marker).length > 0 || undefined);
      const reply = await h.send(CancelJob, {
        campaignId: 'camp-dispatch',
        jobId: 'svc-cancel',
        reason: 'superseded by a better recipe',
      });
      expect(reply).toMatchObject({ ok: true, result: { jobId: 'svc-cancel', status: 'cancelling' } });
      const done = await terminal('svc-cancel');
      expect(done.type).toBe('JobCancelled');
      expect(done.data).toMatchObject({ reason: 'superseded by a better recipe' });
      await eventually(() => processesWithCommandLine(marker).length === 0 || undefined);

      const again = await h.send(CancelJob, { campaignId: 'camp-dispatch', jobId: 'svc-cancel', reason: 'again' });
      expect(again).toMatchObject({ ok: true, result: { status: 'already-finished' } });
      const unknown = await h.send(CancelJob, { campaignId: 'camp-dispatch', jobId: 'no-such-job', reason: 'x' });
      expect(!unknown.ok && unknown.error).toMatchObject({ code: 'JOB_NOT_FOUND', issues: [{ path: 'jobId' }] });
      const bad = await h.send(CancelJob, { campaignId: 'camp-dispatch', jobId: 'has.dots', reason: '' } as never);
      expect(bad.ok).toBe(false);
      if (!bad.ok) expect(bad.error.issues.map((i) => i.path).sort()).toEqual(['payload.jobId', 'payload.reason']);
      expect((await jobEvents(h.store, 'svc-cancel')).filter((e) => TERMINAL.has(e.type))).toHaveLength(1);
    },
  );

  it('accounts budget per job, candidate and round from the terminal events', async () => {
    const terminals = await h.store.readAll({ types: [...TERMINAL] });
    const budget = foldBudget(terminals);
    const ids = Object.keys(budget.jobs).sort();
    expect(ids).toEqual(['svc-cancel', 'svc-div', 'svc-dup', 'svc-dup-marker', 'svc-ok', 'svc-slow']);
    const round = budget.rounds['camp-dispatch/1'];
    const sum = terminals.reduce((s, e) => s + (e.data as { gpuSeconds: number }).gpuSeconds, 0);
    expect(round.cpuSlotSeconds).toBeCloseTo(sum, 2);
    expect(round.gpuSeconds).toBe(0);
    expect(round.jobs).toBe(6);
  });
});
