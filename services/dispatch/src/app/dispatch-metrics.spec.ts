import type { Executor, ExecutorEvent, ExecutorListener, JobOutcome, JobView } from '@aevo/executors';
import { ServiceMetrics } from '@aevo/messaging';
import { registerDispatchMetrics } from './dispatch-metrics';

/** Just enough of the Executor port: views the test sets, listeners the test calls. */
class ViewsOnlyExecutor implements Pick<Executor, 'kind' | 'on' | 'views'> {
  readonly kind = 'local' as const;
  jobs: JobView[] = [];
  private listeners: ExecutorListener[] = [];
  on(l: ExecutorListener) {
    this.listeners.push(l);
    return () => (this.listeners = this.listeners.filter((x) => x !== l));
  }
  views() {
    return this.jobs;
  }
  async emit(e: ExecutorEvent) {
    for (const l of this.listeners) await l(e);
  }
}

const view = (jobId: string, phase: JobView['phase'], slot: string | null): JobView => ({
  jobId,
  campaignId: 'c1',
  phase,
  attempt: 1,
  slot,
  handle: null,
  outcome: null,
  acknowledged: false,
});
const outcome = (gpuSeconds: number): JobOutcome => ({
  status: 'succeeded',
  exitCode: 0,
  reason: null,
  message: 'ok',
  wallSeconds: 10,
  gpuSeconds,
  gpuCount: 1,
  budgetUnit: 'gpu-seconds',
  logTail: '',
  logPath: null,
  startedAt: null,
  finishedAt: new Date(0).toISOString(),
});

describe('dispatch metrics', () => {
  it(
    'reports jobs by phase and busy slots at scrape time, and charges a ' +
      'finished job once however often it is reported',
    async () => {
      const metrics = new ServiceMetrics('dispatch', { processMetrics: false });
      const executor = new ViewsOnlyExecutor();
      registerDispatchMetrics(metrics, executor);
      executor.jobs = [view('j1', 'running', 'slot-0'), view('j2', 'running', 'slot-1'), view('j3', 'queued', null)];
      let text = await metrics.metrics();
      expect(text).toContain('aevo_jobs{phase="running",executor="local",service="dispatch"} 2');
      expect(text).toContain('aevo_jobs{phase="queued",executor="local",service="dispatch"} 1');
      expect(text).toContain('aevo_jobs{phase="preempted",executor="local",service="dispatch"} 0');
      expect(text).toContain('aevo_slots_busy{executor="local",service="dispatch"} 2');

      const finished: ExecutorEvent = { type: 'finished', jobId: 'j1', campaignId: 'c1', outcome: outcome(12.5) };
      await executor.emit(finished);
      await executor.emit(finished); // delivered again (at-least-once)
      await executor.emit({ type: 'finished', jobId: 'j2', campaignId: 'c1', outcome: outcome(7.5) });
      executor.jobs = [view('j3', 'running', 'slot-0')];
      text = await metrics.metrics();
      expect(text).toContain('aevo_budget_spent_total{unit="gpu-seconds",status="succeeded",service="dispatch"} 20');
      expect(text).toContain('aevo_jobs{phase="running",executor="local",service="dispatch"} 1');
      expect(text).toContain('aevo_slots_busy{executor="local",service="dispatch"} 1');
    },
  );
});
