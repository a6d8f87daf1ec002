import type { Executor } from '@aevo/executors';
import type { ServiceMetrics } from '@aevo/messaging';

const PHASES = ['queued', 'running', 'preempted', 'finished'] as const;
/** Jobs remembered as already charged, so that a `finished` report delivered again is not counted twice. */
const CHARGED_MEMORY = 10_000;

/**
 * Dispatch's own series: jobs by phase and busy slots (read from the executor's view when Prometheus scrapes), and
 * the budget charged by finished jobs (counted once per job in this process, in the job's budget unit).
 */
export function registerDispatchMetrics(
  metrics: ServiceMetrics,
  executor: Pick<Executor, 'kind' | 'on' | 'views'>,
): void {
  metrics.sampledGauge('aevo_jobs', "Jobs in this dispatch replica's executor, by phase", ['phase', 'executor'], () => {
    const counts = new Map<string, number>(PHASES.map((p) => [p, 0]));
    for (const v of executor.views()) counts.set(v.phase, (counts.get(v.phase) ?? 0) + 1);
    return [...counts].map(([phase, value]) => ({ labels: { phase, executor: executor.kind }, value }));
  });
  metrics.sampledGauge('aevo_slots_busy', 'Executor slots holding a running job', ['executor'], () => [
    {
      labels: { executor: executor.kind },
      value: executor.views().filter((v) => v.phase === 'running' && v.slot !== null).length,
    },
  ]);
  const spent = metrics.counter(
    'aevo_budget_spent_total',
    'Budget charged by finished jobs, in the unit of each job (gpu-seconds, …)',
    ['unit', 'status'],
  );
  const charged = new Set<string>();
  executor.on((e) => {
    if (e.type !== 'finished' || charged.has(e.jobId)) return;
    charged.add(e.jobId);
    if (charged.size > CHARGED_MEMORY) charged.delete(charged.values().next().value as string);
    // As the budget view charges it (domain/budget.ts): gpuSeconds holds the seconds in the job's budget unit.
    const amount = e.outcome.gpuSeconds;
    if (Number.isFinite(amount) && amount > 0)
      spent.inc({ unit: e.outcome.budgetUnit, status: e.outcome.status }, amount);
  });
}
