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
  /** Every CPU slot of a multi-node job (one per rank); absent when the job holds one slot, `cpuIndex`. */
  cpuIndices?: number[];
}

/** `slots`: CPU slots of a multi-node job (one per rank); absent for one. */
export type Placement =
  { kind: 'gpu'; gpus: number } | { kind: 'cpu'; slots?: number } | { kind: 'impossible'; message: string };

/**
 * Where a job asking for `gpu` GPUs per node on `nodes` nodes runs on this pool (independent of what is free now). A
 * multi-node job holds what its ranks need together: `gpu × nodes` GPUs, or one CPU slot per rank.
 */
export function placementFor(pool: SlotPoolConfig, gpu: number, nodes = 1): Placement {
  const ranks = nodes > 1 ? ` (${gpu} on each of ${nodes} nodes)` : '';
  if (gpu > 0 && pool.gpus.length > 0) {
    if (gpu * nodes > pool.gpus.length)
      return {
        kind: 'impossible',
        message: `job asks for ${gpu * nodes} GPUs${ranks}, this machine has ${pool.gpus.length}`,
      };
    return { kind: 'gpu', gpus: gpu * nodes };
  }
  if (gpu > 0 && pool.requireGpu)
    return { kind: 'impossible', message: `job asks for ${gpu} GPUs, this machine has none (requireGpu is set)` };
  if (pool.cpuSlots < 1)
    return { kind: 'impossible', message: 'job needs a CPU slot and the pool has none (AEVO_LOCAL_SLOTS=0)' };
  if (nodes > 1 && nodes > pool.cpuSlots)
    return {
      kind: 'impossible',
      message: `job asks for ${nodes} nodes (a CPU slot each), this machine has ${pool.cpuSlots} CPU slots`,
    };
  return nodes > 1 ? { kind: 'cpu', slots: nodes } : { kind: 'cpu' };
}

export function parseSlot(slot: string): Allocation | null {
  const m = /^(gpu|cpu):([0-9,]+)$/.exec(slot);
  if (!m) return null;
  const nums = m[2].split(',').map(Number);
  if (m[1] === 'gpu') return { slot, kind: 'gpu', gpus: nums, cpuIndex: null };
  return nums.length > 1
    ? { slot, kind: 'cpu', gpus: [], cpuIndex: nums[0], cpuIndices: nums }
    : { slot, kind: 'cpu', gpus: [], cpuIndex: nums[0] };
}

/** The CPU slots an allocation holds. */
export const cpuSlotsOf = (a: Allocation): number[] => a.cpuIndices ?? (a.cpuIndex != null ? [a.cpuIndex] : []);

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
    if (placement.kind === 'cpu' && (placement.slots ?? 1) > 1) {
      const free: number[] = [];
      for (let i = 0; i < this.pool.cpuSlots && free.length < placement.slots!; i++)
        if (!this.busyCpu.has(i)) free.push(i);
      if (free.length < placement.slots!) return null;
      free.forEach((i) => this.busyCpu.add(i));
      return { slot: `cpu:${free.join(',')}`, kind: 'cpu', gpus: [], cpuIndex: free[0], cpuIndices: free };
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
    for (const i of cpuSlotsOf(a)) this.busyCpu.add(i);
  }

  release(a: Allocation): void {
    a.gpus.forEach((g) => this.busyGpus.delete(g));
    for (const i of cpuSlotsOf(a)) this.busyCpu.delete(i);
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
