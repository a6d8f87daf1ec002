/**
 * Budget accounting: a pure fold over dispatch's terminal events. Each finished job is charged once (by jobId);
 * GPU-seconds (gpu count × wall seconds on GPUs) and CPU-slot-seconds (a CPU-only slot's wall seconds × its
 * configured weight, see the local executor) are kept apart, never added together.
 */

export interface Charge {
  gpuSeconds: number;
  cpuSlotSeconds: number;
  wallSeconds: number;
  jobs: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

export interface JobCharge {
  campaignId: string;
  candidateId: string;
  round: number;
  status: 'succeeded' | 'failed' | 'cancelled';
  unit: 'gpu-seconds' | 'cpu-slot-seconds';
  seconds: number;
  wallSeconds: number;
}

export interface BudgetView {
  jobs: Record<string, JobCharge>;
  /** By candidateId. */
  candidates: Record<string, Charge & { campaignId: string; round: number }>;
  /** By `<campaignId>/<round>`. */
  rounds: Record<string, Charge & { campaignId: string; round: number }>;
  /** By campaignId. */
  campaigns: Record<string, Charge>;
}

export interface TerminalEventLike {
  type: string;
  campaignId: string;
  data: unknown;
}

const TERMINAL: Record<string, JobCharge['status']> = {
  JobSucceeded: 'succeeded',
  JobFailed: 'failed',
  JobCancelled: 'cancelled',
};

export const emptyBudget = (): BudgetView => ({ jobs: {}, candidates: {}, rounds: {}, campaigns: {} });

const zero = (): Charge => ({
  gpuSeconds: 0,
  cpuSlotSeconds: 0,
  wallSeconds: 0,
  jobs: 0,
  succeeded: 0,
  failed: 0,
  cancelled: 0,
});

function add(c: Charge, j: JobCharge): void {
  if (j.unit === 'gpu-seconds') c.gpuSeconds = round3(c.gpuSeconds + j.seconds);
  else c.cpuSlotSeconds = round3(c.cpuSlotSeconds + j.seconds);
  c.wallSeconds = round3(c.wallSeconds + j.wallSeconds);
  c.jobs += 1;
  c[j.status] += 1;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Applies one event (other types pass through unchanged). Mutates and returns `view`. */
export function applyBudget(view: BudgetView, e: TerminalEventLike): BudgetView {
  const status = TERMINAL[e.type];
  if (!status) return view;
  const d = e.data as {
    jobId: string;
    candidateId: string;
    round: number;
    gpuSeconds: number;
    wallSeconds: number;
    budgetUnit?: JobCharge['unit'];
  };
  if (view.jobs[d.jobId]) return view; // charged once, whatever is replayed
  const charge: JobCharge = {
    campaignId: e.campaignId,
    candidateId: d.candidateId,
    round: d.round,
    status,
    unit: d.budgetUnit ?? 'gpu-seconds',
    seconds: d.gpuSeconds,
    wallSeconds: d.wallSeconds,
  };
  view.jobs[d.jobId] = charge;
  add((view.candidates[d.candidateId] ??= { ...zero(), campaignId: e.campaignId, round: d.round }), charge);
  add((view.rounds[`${e.campaignId}/${d.round}`] ??= { ...zero(), campaignId: e.campaignId, round: d.round }), charge);
  add((view.campaigns[e.campaignId] ??= zero()), charge);
  return view;
}

export function foldBudget(events: readonly TerminalEventLike[]): BudgetView {
  return events.reduce(applyBudget, emptyBudget());
}
