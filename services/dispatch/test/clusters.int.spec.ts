import { PostgresEventStore } from '@aevo/eventstore';
import type { Executor, ExecutorJob, ExecutorListener, JobView, SubmitResult } from '@aevo/executors';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { DispatchWorkflow } from '../src/app/dispatch-workflow';
import { jobEvents, jobRequested, jobSpec } from './support';

jest.setTimeout(60_000);

/** An executor that only remembers what it was handed: enough to see which cluster would run a job. */
class RecordingExecutor implements Executor {
  readonly kind = 'local' as const;
  readonly submitted: string[] = [];
  private readonly known = new Map<string, JobView>();
  on(_listener: ExecutorListener): () => void {
    return () => undefined;
  }
  async recover(): Promise<JobView[]> {
    return [];
  }
  async submit(job: ExecutorJob): Promise<SubmitResult> {
    this.submitted.push(job.spec.jobId);
    const view: JobView = {
      jobId: job.spec.jobId,
      campaignId: job.campaignId,
      phase: 'queued',
      attempt: 0,
      slot: null,
      handle: null,
      outcome: null,
      acknowledged: false,
    };
    this.known.set(job.spec.jobId, view);
    return { accepted: true, queuePosition: 0, view };
  }
  async cancel(): Promise<'not-found'> {
    return 'not-found';
  }
  async acknowledge(): Promise<void> {}
  view(jobId: string): JobView | undefined {
    return this.known.get(jobId);
  }
  views(): JobView[] {
    return [...this.known.values()];
  }
  async close(): Promise<void> {}
}

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const where = { sandbox: '/aevo/sandboxes/c0', snapshotId: 'a'.repeat(64) };

/**
 * Two compute clusters, each with its own dispatch (AEVO_DISPATCHER / its JetStream domain), both reading every
 * JobRequested: the first JobQueued wins and only that cluster runs, reconciles and cancels the job.
 */
describe('dispatchers of several compute clusters on one record', () => {
  let db: TestDb;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDb('aevo_dispatch_clusters');
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 4 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  /** A JobRequested as the worker records it, stored (what both clusters' consumers receive). */
  const request = async (jobId: string) => {
    const event = jobRequested(jobSpec(jobId, where, 'true'));
    await store.append('candidate-camp-dispatch-r1-c0', 'any', [event]);
    return (await store.readStream('candidate-camp-dispatch-r1-c0')).find((e) => e.id === event.id)!;
  };

  const cluster = (name: string | null) => {
    const executor = new RecordingExecutor();
    return { executor, workflow: new DispatchWorkflow(store, executor, quiet, name) };
  };

  it('runs a job requested in both clusters once, on the cluster whose JobQueued was recorded', async () => {
    const [a, b] = [cluster('c1'), cluster('c2')];
    await Promise.all([a.workflow.start(), b.workflow.start()]);
    const requested = await request('j-both');
    await Promise.all([a.workflow.onJobRequested(requested), b.workflow.onJobRequested(requested)]);
    // Redeliveries to both change nothing.
    await Promise.all([a.workflow.onJobRequested(requested), b.workflow.onJobRequested(requested)]);
    const queued = (await jobEvents(store, 'j-both')).filter((e) => e.type === 'JobQueued');
    expect(queued).toHaveLength(1);
    const winner = (queued[0].data as { dispatcher: string }).dispatcher;
    expect(['c1', 'c2']).toContain(winner);
    const [own, other] = winner === 'c1' ? [a, b] : [b, a];
    expect(own.executor.submitted).toEqual(['j-both', 'j-both']); // the redelivery hands it over again (idempotent)
    expect(other.executor.submitted).toEqual([]);
  });

  it("reconciles only its own jobs after a restart: another cluster's running job is not declared lost", async () => {
    const first = cluster('c1');
    await first.workflow.start();
    const requested = await request('j-c1');
    await first.workflow.onJobRequested(requested);
    // (Restarted dispatchers also hand over the earlier tests' queued jobs they own: only j-c1 is looked at.)
    expect(first.executor.submitted.filter((id) => id === 'j-c1')).toEqual(['j-c1']);

    // c2 restarts with an executor that has no trace of j-c1: it is c1's, so nothing is recorded.
    const c2 = cluster('c2');
    await c2.workflow.start();
    expect(c2.executor.submitted).not.toContain('j-c1');
    expect((await jobEvents(store, 'j-c1')).map((e) => e.type)).toEqual(['JobQueued']);

    // c1 restarts with an executor that lost it: c1 hands it over again (queued, never started).
    const again = cluster('c1');
    await again.workflow.start();
    expect(again.executor.submitted.filter((id) => id === 'j-c1')).toEqual(['j-c1']);
  });

  it("forwards a cancel of another cluster's job through the log; that cluster's dispatcher cancels it", async () => {
    const owner = cluster('c1');
    await owner.workflow.start();
    const requested = await request('j-cancel');
    await owner.workflow.onJobRequested(requested);
    const other = cluster('c2');
    await other.workflow.start();
    await expect(other.workflow.cancel('j-cancel', 'campaign aborted', 'cmd-1')).resolves.toEqual({
      jobId: 'j-cancel',
      status: 'forwarded',
    });
    // Asked twice (a retried command): one request recorded.
    await other.workflow.cancel('j-cancel', 'campaign aborted', 'cmd-1');
    const recorded = await jobEvents(store, 'j-cancel');
    expect(recorded.map((e) => e.type)).toEqual(['JobQueued', 'JobCancellationRequested']);
    expect(recorded[1].data).toEqual({
      jobId: 'j-cancel',
      candidateId: 'camp-dispatch-r1-c0',
      reason: 'campaign aborted',
      dispatcher: 'c1',
      receivedBy: 'c2',
    });
    expect(other.executor.submitted).toEqual([]);
    // Every cluster's dispatch reads the request; only c1's acts (its executor never started it: cancelled here).
    await other.workflow.onCancellationRequested(recorded[1]);
    expect((await jobEvents(store, 'j-cancel')).map((e) => e.type)).toEqual(['JobQueued', 'JobCancellationRequested']);
    await owner.workflow.onCancellationRequested(recorded[1]);
    const after = await jobEvents(store, 'j-cancel');
    expect(after.map((e) => e.type)).toEqual(['JobQueued', 'JobCancellationRequested', 'JobCancelled']);
    expect(after[2].data).toMatchObject({ jobId: 'j-cancel', reason: 'campaign aborted' });
    // Once over, a late cancel anywhere says so and records nothing.
    await expect(other.workflow.cancel('j-cancel', 'again', 'cmd-3')).resolves.toEqual({
      jobId: 'j-cancel',
      status: 'already-finished',
    });
    await owner.workflow.onCancellationRequested(recorded[1]);
    expect(await jobEvents(store, 'j-cancel')).toHaveLength(3);
  });

  it('an unnamed dispatcher (one cluster) writes JobQueued without the field and owns every job', async () => {
    const single = cluster(null);
    await single.workflow.start();
    const requested = await request('j-single');
    await single.workflow.onJobRequested(requested);
    const [queued] = await jobEvents(store, 'j-single');
    expect(queued.data).not.toHaveProperty('dispatcher');
    expect(single.executor.submitted).toEqual(['j-single']);
  });
});
