/** The local machine's capacity: GPU indices (one slot per GPU) and a number of CPU-only slots. */
export interface SlotPoolConfig {
  gpus: number[];
  cpuSlots: number;
  /** When true, a job asking for GPUs on a box without GPUs is refused instead of run on a CPU slot. */
  requireGpu?: boolean;
}

export interface Allocation {
  /** 'gpu:0,1' or 'cpu:2'. */
  slot: string;
  kind: 'gpu' | 'cpu';
  gpus: number[];
  cpuIndex: number | null;
}

export type Placement = { kind: 'gpu'; gpus: number } | { kind: 'cpu' } | { kind: 'impossible'; message: string };

/** Where a job asking for `gpu` GPUs runs on this pool (independent of what is free now). */
export function placementFor(pool: SlotPoolConfig, gpu: number): Placement {
  if (gpu > 0 && pool.gpus.length > 0) {
    if (gpu > pool.gpus.length)
      return { kind: 'impossible', message: `job asks for ${gpu} GPUs, this machine has ${pool.gpus.length}` };
    return { kind: 'gpu', gpus: gpu };
  }
  if (gpu > 0 && pool.requireGpu)
    return { kind: 'impossible', message: `job asks for ${gpu} GPUs, this machine has none (requireGpu is set)` };
  if (pool.cpuSlots < 1)
    return { kind: 'impossible', message: 'job needs a CPU slot and the pool has none (AEVO_LOCAL_SLOTS=0)' };
  return { kind: 'cpu' };
}

export function parseSlot(slot: string): Allocation | null {
  const m = /^(gpu|cpu):([0-9,]+)$/.exec(slot);
  if (!m) return null;
  const nums = m[2].split(',').map(Number);
  return m[1] === 'gpu'
    ? { slot, kind: 'gpu', gpus: nums, cpuIndex: null }
    : { slot, kind: 'cpu', gpus: [], cpuIndex: nums[0] };
}

/** Tracks which GPUs and CPU slots are busy. */
export class SlotAllocator {
  private readonly busyGpus = new Set<number>();
  private readonly busyCpu = new Set<number>();

  constructor(readonly pool: SlotPoolConfig) {}

  get capacity(): { gpu: number; cpu: number } {
    return { gpu: this.pool.gpus.length, cpu: this.pool.cpuSlots };
  }

  get busy(): { gpu: number; cpu: number } {
    return { gpu: this.busyGpus.size, cpu: this.busyCpu.size };
  }

  tryAllocate(placement: Placement): Allocation | null {
    if (placement.kind === 'gpu') {
      const free = this.pool.gpus.filter((g) => !this.busyGpus.has(g));
      if (free.length < placement.gpus) return null;
      const gpus = free.slice(0, placement.gpus);
      gpus.forEach((g) => this.busyGpus.add(g));
      return { slot: `gpu:${gpus.join(',')}`, kind: 'gpu', gpus, cpuIndex: null };
    }
    if (placement.kind === 'cpu') {
      for (let i = 0; i < this.pool.cpuSlots; i++)
        if (!this.busyCpu.has(i)) {
          this.busyCpu.add(i);
          return { slot: `cpu:${i}`, kind: 'cpu', gpus: [], cpuIndex: i };
        }
    }
    return null;
  }

  /** Marks a slot busy again after a restart (a reattached job keeps the slot it had). */
  occupy(a: Allocation): void {
    a.gpus.forEach((g) => this.busyGpus.add(g));
    if (a.cpuIndex != null) this.busyCpu.add(a.cpuIndex);
  }

  release(a: Allocation): void {
    a.gpus.forEach((g) => this.busyGpus.delete(g));
    if (a.cpuIndex != null) this.busyCpu.delete(a.cpuIndex);
  }
}

const PRIORITY_RANK = { high: 0, normal: 1, low: 2 } as const;
export type Priority = keyof typeof PRIORITY_RANK;

export interface QueueEntry {
  jobId: string;
  priority: Priority;
  /** Submission order (monotonic, persisted so that a restart keeps FIFO order). */
  seq: number;
  placement: Placement;
}

/** Priority first, then first-in first-out. */
export function queueOrder(a: QueueEntry, b: QueueEntry): number {
  return PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.seq - b.seq;
}

/**
 * Picks the queued jobs to start now, in order. Within one kind of slot no job overtakes an older one that does
 * not fit yet (no starvation of multi-GPU jobs); a blocked GPU job does not hold back CPU jobs.
 */
export function pickRunnable(
  queue: readonly QueueEntry[],
  allocator: SlotAllocator,
): Array<{ entry: QueueEntry; allocation: Allocation }> {
  const started: Array<{ entry: QueueEntry; allocation: Allocation }> = [];
  const blocked = new Set<string>();
  for (const entry of [...queue].sort(queueOrder)) {
    const kind = entry.placement.kind;
    if (kind === 'impossible' || blocked.has(kind)) continue;
    const allocation = allocator.tryAllocate(entry.placement);
    if (allocation) started.push({ entry, allocation });
    else blocked.add(kind);
  }
  return started;
}
