import {
  DomainError,
  JobCancelled,
  JobFailed,
  JobQueued,
  JobStarted,
  JobSucceeded,
  JobPreempted,
  type JobSpec,
} from '@aevo/contracts';
import { DeciderSpecification } from '@aevo/testkit';
import { cancelDecision, jobDecider, ownsJob, type JobEvent, type JobOutcomeReport, type KnownJob } from './job';
import { foldBudget } from './budget';

const spec: JobSpec = {
  jobId: 'c1-r1-c0-train-0',
  candidateId: 'c1-r1-c0',
  round: 1,
  entrypoint: 'train',
  sandboxPath: '/aevo/sandboxes/c1-r1-c0',
  argv: ['python', 'train.py'],
  env: {},
  resources: { cpu: 2, memoryMiB: 1024, gpu: 1 },
  timeoutSeconds: 600,
  priority: 'normal',
  isolation: { snapshotId: 'a'.repeat(64), outputs: ['runs/r0'], inputs: [] },
};

const queued: JobEvent = {
  type: 'JobQueued',
  data: { jobId: spec.jobId, candidateId: spec.candidateId, round: 1, executor: 'local', queuePosition: 0, spec },
};
const started = (attempt = 1): JobEvent => ({
  type: 'JobStarted',
  data: {
    jobId: spec.jobId,
    candidateId: spec.candidateId,
    executor: 'local',
    slot: 'gpu:0',
    handle: 'pid:42',
    attempt,
    isolation: 'bubblewrap',
  },
});
const outcome = (over: Partial<JobOutcomeReport> = {}): JobOutcomeReport => ({
  status: 'succeeded',
  exitCode: 0,
  reason: null,
  message: 'exited with code 0',
  wallSeconds: 10,
  gpuSeconds: 10,
  gpuCount: 1,
  budgetUnit: 'gpu-seconds',
  logTail: 'done',
  logPath: '/aevo/logs/c1-r1-c0-train-0.log',
  ...over,
});
const finished = (o: JobOutcomeReport = outcome()) => ({
  type: 'RecordJobFinished' as const,
  jobId: spec.jobId,
  outcome: o,
});
const terminalCommon = {
  jobId: spec.jobId,
  candidateId: spec.candidateId,
  round: 1,
  gpuSeconds: 10,
  wallSeconds: 10,
  logTail: 'done',
  logPath: '/aevo/logs/c1-r1-c0-train-0.log',
  executor: 'local',
  gpuCount: 1,
  budgetUnit: 'gpu-seconds',
};

const spec_ = DeciderSpecification(jobDecider);

describe('job aggregate', () => {
  describe('QueueJob (from JobRequested)', () => {
    it('queues a job the first time its id is requested', () => {
      spec_.given([]).when({ type: 'QueueJob', spec, executor: 'local', queuePosition: 0 }).then([queued]);
    });
    it.each([
      ['queued', [queued]],
      ['running', [queued, started()]],
      ['finished', [queued, started(), { type: 'JobSucceeded', data: { ...terminalCommon, exitCode: 0 } } as JobEvent]],
    ])('ignores the same jobId requested again while %s: it runs once', (_n, given) => {
      spec_
        .given(given as JobEvent[])
        .when({ type: 'QueueJob', spec, executor: 'local', queuePosition: 3 })
        .thenNothing();
    });
    it('writes events that validate against the published schemas', () => {
      const [e] = jobDecider.decide(
        { type: 'QueueJob', spec, executor: 'kubernetes', queuePosition: 2 },
        jobDecider.initialState(),
      );
      expect(JobQueued.data.safeParse(e.data).success).toBe(true);
    });
    it('records the dispatcher that accepted it when dispatch is named (one per compute cluster)', () => {
      spec_
        .given([])
        .when({ type: 'QueueJob', spec, executor: 'local', queuePosition: 0, dispatcher: 'c2' })
        .then([{ ...queued, data: { ...queued.data, dispatcher: 'c2' } } as JobEvent]);
      // Unnamed (a single cluster): the event is what it always was, without the field.
      spec_
        .given([])
        .when({ type: 'QueueJob', spec, executor: 'local', queuePosition: 0, dispatcher: null })
        .then([queued]);
    });
    it('lets the first dispatcher win: a second cluster requesting the same job adds nothing', () => {
      spec_
        .given([{ ...queued, data: { ...queued.data, dispatcher: 'c1' } } as JobEvent])
        .when({ type: 'QueueJob', spec, executor: 'local', queuePosition: 0, dispatcher: 'c2' })
        .thenNothing();
    });
    it('refuses a dispatcher name the schema cannot hold', () => {
      const [e] = jobDecider.decide(
        { type: 'QueueJob', spec, executor: 'local', queuePosition: 0, dispatcher: 'c 1' },
        jobDecider.initialState(),
      );
      expect(JobQueued.data.safeParse(e.data).error?.issues[0].path).toEqual(['dispatcher']);
    });
  });

  describe('ownership across clusters', () => {
    const state = (events: JobEvent[]) => events.reduce(jobDecider.evolve, jobDecider.initialState()) as KnownJob;
    const queuedBy = (d: string) => ({ ...queued, data: { ...queued.data, dispatcher: d } }) as JobEvent;
    it('belongs to the dispatcher that queued it, or to any when none was named', () => {
      expect(ownsJob(state([queuedBy('c1')]), 'c1')).toBe(true);
      expect(ownsJob(state([queuedBy('c1')]), 'c2')).toBe(false);
      expect(ownsJob(state([queuedBy('c1')]), null)).toBe(false);
      expect(ownsJob(state([queued]), 'c2')).toBe(true);
      expect(ownsJob(state([queued]), null)).toBe(true);
    });
    it("forwards a cancel of another cluster's job instead of cancelling it", () => {
      expect(cancelDecision(state([queuedBy('c1'), started()]), spec.jobId, 'c2')).toBe('forward');
      expect(cancelDecision(state([queuedBy('c1'), started()]), spec.jobId, 'c1')).toBe('cancel');
      expect(cancelDecision(state([queued, started()]), spec.jobId, 'c2')).toBe('cancel');
      expect(() => cancelDecision(jobDecider.initialState(), spec.jobId, 'c2')).toThrow(DomainError);
    });
  });

  describe('RequestCancellation (a CancelJob received by a dispatcher that does not run the job)', () => {
    const queuedBy = (d: string) => ({ ...queued, data: { ...queued.data, dispatcher: d } }) as JobEvent;
    const request = (receivedBy: string | null) =>
      ({ type: 'RequestCancellation', jobId: spec.jobId, reason: 'campaign aborted', receivedBy }) as const;
    const requested: JobEvent = {
      type: 'JobCancellationRequested',
      data: {
        jobId: spec.jobId,
        candidateId: spec.candidateId,
        reason: 'campaign aborted',
        dispatcher: 'c1',
        receivedBy: 'c2',
      },
    };
    it('records the request for the dispatcher that accepted the job', () => {
      spec_
        .given([queuedBy('c1'), started()])
        .when(request('c2'))
        .then([requested]);
    });
    it('records it once, not for a job that is over, and not where the job runs (that dispatcher cancels it)', () => {
      spec_
        .given([queuedBy('c1'), started(), requested])
        .when(request('c2'))
        .then([]);
      spec_
        .given([
          queuedBy('c1'),
          started(),
          { type: 'JobSucceeded', data: { ...terminalCommon, exitCode: 0 } } as JobEvent,
        ])
        .when(request('c2'))
        .then([]);
      spec_
        .given([queuedBy('c1')])
        .when(request('c1'))
        .then([]);
      spec_.given([queued]).when(request('c2')).then([]);
    });
    it('refuses a job never queued', () => {
      spec_
        .given([])
        .when(request('c2'))
        .thenThrows(/never queued/);
    });
  });

  describe('RecordJobStarted', () => {
    it('starts a queued job as attempt 1', () => {
      spec_
        .given([queued])
        .when({ type: 'RecordJobStarted', jobId: spec.jobId, slot: 'gpu:0', handle: 'pid:42', isolation: 'bubblewrap' })
        .then([started(1)]);
    });
    it('ignores a repeated start report', () => {
      spec_
        .given([queued, started()])
        .when({ type: 'RecordJobStarted', jobId: spec.jobId, slot: 'gpu:0', handle: 'pid:42', isolation: 'bubblewrap' })
        .thenNothing();
    });
    it('counts a resume after preemption as the next attempt', () => {
      const preempted: JobEvent = {
        type: 'JobPreempted',
        data: { jobId: spec.jobId, candidateId: spec.candidateId, reason: 'kueue' },
      };
      spec_
        .given([queued, started(1), preempted])
        .when({
          type: 'RecordJobStarted',
          jobId: spec.jobId,
          slot: null,
          handle: 'job:ns/x',
          isolation: 'kubernetes-pod',
        })
        .then((events) => {
          expect(events).toHaveLength(1);
          expect(events[0]).toMatchObject({ type: 'JobStarted', data: { attempt: 2, slot: null } });
          expect(JobStarted.data.safeParse(events[0].data).success).toBe(true);
        });
    });
    it('ignores a start reported after the job ended', () => {
      spec_
        .given([queued, { type: 'JobCancelled', data: { ...terminalCommon, reason: 'x' } } as JobEvent])
        .when({ type: 'RecordJobStarted', jobId: spec.jobId, slot: null, handle: 'h', isolation: 'bubblewrap' })
        .thenNothing();
    });
    it('refuses a report for a job dispatch never queued, naming the field', () => {
      spec_
        .given([])
        .when({ type: 'RecordJobStarted', jobId: 'ghost', slot: null, handle: 'h', isolation: 'bubblewrap' })
        .thenThrows(
          (err) => err instanceof DomainError && err.code === 'JOB_NOT_FOUND' && err.issues[0].path === 'jobId',
        );
    });
  });

  describe('RecordJobPreempted (Kueue suspension)', () => {
    it('sends a running job back to the queue, not to failure', () => {
      spec_
        .given([queued, started()])
        .when({ type: 'RecordJobPreempted', jobId: spec.jobId, reason: 'Kueue suspended the Job' })
        .then((events) => {
          expect(events).toEqual([
            {
              type: 'JobPreempted',
              data: { jobId: spec.jobId, candidateId: spec.candidateId, reason: 'Kueue suspended the Job' },
            },
          ]);
          expect(JobPreempted.data.safeParse(events[0].data).success).toBe(true);
        });
    });
    it('ignores a suspension of a job that never started (Kueue has not admitted it yet)', () => {
      spec_.given([queued]).when({ type: 'RecordJobPreempted', jobId: spec.jobId, reason: 'kueue' }).thenNothing();
    });
  });

  describe('RecordJobFinished', () => {
    it('records success with the budget and log tail', () => {
      spec_
        .given([queued, started()])
        .when(finished())
        .then((events) => {
          expect(events).toEqual([{ type: 'JobSucceeded', data: { ...terminalCommon, exitCode: 0 } }]);
          expect(JobSucceeded.data.safeParse(events[0].data).success).toBe(true);
        });
    });
    it.each(['exit-code', 'timeout', 'diverged', 'lost', 'executor-error', 'deadline-exceeded'] as const)(
      'records a failure with reason %s',
      (reason) => {
        spec_
          .given([queued, started()])
          .when(
            finished(outcome({ status: 'failed', exitCode: reason === 'diverged' ? 3 : null, reason, message: 'why' })),
          )
          .then((events) => {
            expect(events).toHaveLength(1);
            expect(events[0]).toMatchObject({ type: 'JobFailed', data: { reason, message: 'why' } });
            expect(JobFailed.data.safeParse(events[0].data).success).toBe(true);
          });
      },
    );
    it('records a cancellation with its reason, also for a job that never started', () => {
      spec_
        .given([queued])
        .when(
          finished(
            outcome({ status: 'cancelled', exitCode: null, message: 'operator asked', wallSeconds: 0, gpuSeconds: 0 }),
          ),
        )
        .then((events) => {
          expect(events).toMatchObject([{ type: 'JobCancelled', data: { reason: 'operator asked', gpuSeconds: 0 } }]);
          expect(JobCancelled.data.safeParse(events[0].data).success).toBe(true);
        });
    });
    it.each([
      ['succeeded', { type: 'JobSucceeded', data: { ...terminalCommon, exitCode: 0 } }],
      ['failed', { type: 'JobFailed', data: { ...terminalCommon, exitCode: 1, reason: 'exit-code', message: 'x' } }],
      ['cancelled', { type: 'JobCancelled', data: { ...terminalCommon, reason: 'x' } }],
    ])('writes nothing once the job has %s: exactly one terminal event', (_n, terminal) => {
      spec_
        .given([queued, started(), terminal as JobEvent])
        .when(finished(outcome({ status: 'failed', reason: 'lost', exitCode: null })))
        .thenNothing();
    });
    it('refuses an inconsistent outcome with the field at fault', () => {
      spec_
        .given([queued, started()])
        .when(finished(outcome({ status: 'succeeded', exitCode: 2 })))
        .thenThrows((err) => err instanceof DomainError && err.issues[0].path === 'outcome.exitCode');
      spec_
        .given([queued, started()])
        .when(finished(outcome({ status: 'failed', exitCode: 2, reason: null })))
        .thenThrows((err) => err instanceof DomainError && err.issues[0].path === 'outcome.reason');
    });
  });

  describe('cancelDecision', () => {
    const state = (events: JobEvent[]) => events.reduce(jobDecider.evolve, jobDecider.initialState());
    it('cancels a queued, running or preempted job and reports a finished one as such', () => {
      expect(cancelDecision(state([queued]), spec.jobId)).toBe('cancel');
      expect(cancelDecision(state([queued, started()]), spec.jobId)).toBe('cancel');
      expect(
        cancelDecision(
          state([queued, started(), { type: 'JobSucceeded', data: { ...terminalCommon, exitCode: 0 } } as JobEvent]),
          spec.jobId,
        ),
      ).toBe('already-finished');
    });
    it('refuses an unknown job', () => {
      expect(() => cancelDecision(state([]), 'nope')).toThrow(/never queued/);
    });
  });
});

describe('budget projection', () => {
  const ev = (type: string, campaignId: string, data: Record<string, unknown>) => ({ type, campaignId, data });
  const t = (jobId: string, candidateId: string, round: number, gpuSeconds: number, budgetUnit = 'gpu-seconds') => ({
    jobId,
    candidateId,
    round,
    gpuSeconds,
    wallSeconds: gpuSeconds,
    budgetUnit,
  });

  it(
    'charges each job once and sums per candidate, per round and per ' +
      'campaign, keeping GPU and CPU-slot seconds apart',
    () => {
      const view = foldBudget([
        ev('JobQueued', 'c1', { jobId: 'j0' }),
        ev('JobSucceeded', 'c1', t('j1', 'c1-r1-c0', 1, 20)),
        ev('JobFailed', 'c1', t('j2', 'c1-r1-c0', 1, 5)),
        ev('JobSucceeded', 'c1', t('j3', 'c1-r1-c1', 1, 7, 'cpu-slot-seconds')),
        ev('JobCancelled', 'c1', t('j4', 'c1-r2-c0', 2, 1.5)),
        ev('JobSucceeded', 'c1', t('j1', 'c1-r1-c0', 1, 20)), // replayed duplicate: not charged again
        ev('JobSucceeded', 'c2', t('k1', 'c2-r1-c0', 1, 100)),
      ]);
      expect(view.candidates['c1-r1-c0']).toMatchObject({
        gpuSeconds: 25,
        cpuSlotSeconds: 0,
        jobs: 2,
        succeeded: 1,
        failed: 1,
      });
      expect(view.candidates['c1-r1-c1']).toMatchObject({ gpuSeconds: 0, cpuSlotSeconds: 7, jobs: 1 });
      expect(view.rounds['c1/1']).toMatchObject({ gpuSeconds: 25, cpuSlotSeconds: 7, jobs: 3 });
      expect(view.rounds['c1/2']).toMatchObject({ gpuSeconds: 1.5, cancelled: 1 });
      expect(view.campaigns.c1).toMatchObject({ gpuSeconds: 26.5, cpuSlotSeconds: 7, jobs: 4 });
      expect(view.campaigns.c2.gpuSeconds).toBe(100);
      expect(Object.keys(view.jobs).sort()).toEqual(['j1', 'j2', 'j3', 'j4', 'k1']);
    },
  );
});
