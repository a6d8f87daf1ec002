import { eventually } from '@aevo/testkit';
import type { ExecutorEvent, JobOutcome } from '../src/types';
import { LocalExecutor, type LocalExecutorOptions } from '../src/local/local-executor';

/**
 * The local executors a test starts, with the events each reports; `cleanup()` (in afterEach) cancels whatever a
 * test left running and waits for it, so no process outlives the suite.
 */
export class LocalExecutorBench {
  private readonly executors: LocalExecutor[] = [];

  constructor(private readonly defaults: () => LocalExecutorOptions) {}

  start(opts: Partial<LocalExecutorOptions> = {}) {
    const ex = new LocalExecutor({ ...this.defaults(), ...opts });
    this.executors.push(ex);
    const events: ExecutorEvent[] = [];
    ex.on((e) => {
      events.push(e);
    });
    const finished = (jobId: string) =>
      eventually(() => {
        const f = events.find((e) => e.type === 'finished' && e.jobId === jobId);
        return f?.type === 'finished' ? f.outcome : undefined;
      }, 30_000) as Promise<JobOutcome>;
    return { ex, events, finished };
  }

  /** For an executor a test constructs itself. */
  track(ex: LocalExecutor): LocalExecutor {
    this.executors.push(ex);
    return ex;
  }

  async cleanup(): Promise<void> {
    for (const e of this.executors.splice(0)) {
      if (e.isClosed) continue;
      for (const v of e.views()) if (v.phase !== 'finished') await e.cancel(v.jobId, 'test cleanup');
      await eventually(() => e.views().every((v) => v.phase === 'finished'), 30_000).catch(() => undefined);
      await e.close();
    }
  }
}
