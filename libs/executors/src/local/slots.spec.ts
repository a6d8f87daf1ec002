import { parseSlot, pickRunnable, placementFor, SlotAllocator, type QueueEntry } from './slots';
import { rankGpus } from './ranks';

const entry = (
  jobId: string,
  gpu: number,
  seq: number,
  priority: QueueEntry['priority'] = 'normal',
  pool = { gpus: [0, 1], cpuSlots: 1 },
): QueueEntry => ({
  jobId,
  priority,
  seq,
  placement: placementFor(pool, gpu),
});

describe('slot scheduling', () => {
  it('does not let a small GPU job overtake an older one that does not fit yet, but lets CPU jobs through', () => {
    const alloc = new SlotAllocator({ gpus: [0, 1], cpuSlots: 1 });
    alloc.tryAllocate({ kind: 'gpu', gpus: 1 });
    const picked = pickRunnable([entry('needs-2', 2, 1), entry('needs-1', 1, 2), entry('cpu', 0, 3)], alloc);
    expect(picked.map((p) => p.entry.jobId)).toEqual(['cpu']);
  });

  it('starts by priority, then submission order, until the slots are full', () => {
    const alloc = new SlotAllocator({ gpus: [0, 1], cpuSlots: 0 });
    const picked = pickRunnable([entry('a', 1, 1, 'low'), entry('b', 1, 2), entry('c', 1, 3, 'high')], alloc);
    expect(picked.map((p) => [p.entry.jobId, p.allocation.slot])).toEqual([
      ['c', 'gpu:0'],
      ['b', 'gpu:1'],
    ]);
  });

  it('explains what a pool can never run', () => {
    expect(placementFor({ gpus: [], cpuSlots: 0 }, 0)).toEqual({
      kind: 'impossible',
      message: 'job needs a CPU slot and the pool has none (AEVO_LOCAL_SLOTS=0)',
    });
    expect(placementFor({ gpus: [], cpuSlots: 2 }, 1)).toEqual({ kind: 'cpu' });
  });
});

describe('multi-node placement', () => {
  it('holds gpu × nodes GPUs, or one CPU slot per rank, and says when the machine is too small', () => {
    expect(placementFor({ gpus: [0, 1, 2, 3], cpuSlots: 1 }, 2, 2)).toEqual({ kind: 'gpu', gpus: 4 });
    expect(placementFor({ gpus: [0, 1], cpuSlots: 1 }, 2, 2)).toEqual({
      kind: 'impossible',
      message: 'job asks for 4 GPUs (2 on each of 2 nodes), this machine has 2',
    });
    expect(placementFor({ gpus: [], cpuSlots: 3 }, 0, 3)).toEqual({ kind: 'cpu', slots: 3 });
    expect(placementFor({ gpus: [], cpuSlots: 3 }, 0, 1)).toEqual({ kind: 'cpu' });
    expect(placementFor({ gpus: [], cpuSlots: 2 }, 0, 3)).toMatchObject({ kind: 'impossible' });
  });

  it('allocates and releases every CPU slot of a multi-node job, and reads its slot back after a restart', () => {
    const alloc = new SlotAllocator({ gpus: [], cpuSlots: 3 });
    const one = alloc.tryAllocate({ kind: 'cpu' })!;
    expect(alloc.tryAllocate({ kind: 'cpu', slots: 3 })).toBeNull();
    const two = alloc.tryAllocate({ kind: 'cpu', slots: 2 })!;
    expect(two).toEqual({ slot: 'cpu:1,2', kind: 'cpu', gpus: [], cpuIndex: 1, cpuIndices: [1, 2] });
    expect(parseSlot('cpu:1,2')).toEqual(two);
    expect(parseSlot('cpu:0')).toEqual(one); // a one-node slot reads back as before
    expect(alloc.busy).toEqual({ gpu: 0, cpu: 3 });
    alloc.release(two);
    expect(alloc.busy).toEqual({ gpu: 0, cpu: 1 });
    alloc.occupy(parseSlot('cpu:1,2')!);
    expect(alloc.busy).toEqual({ gpu: 0, cpu: 3 });
  });

  it("splits a job's GPUs over its ranks in order", () => {
    expect(rankGpus({ slot: 'gpu:0,1,2,3', kind: 'gpu', gpus: [0, 1, 2, 3], cpuIndex: null }, 2)).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(rankGpus({ slot: 'cpu:0,1', kind: 'cpu', gpus: [], cpuIndex: 0, cpuIndices: [0, 1] }, 2)).toEqual([]);
    expect(() => rankGpus({ slot: 'gpu:0,1,2', kind: 'gpu', gpus: [0, 1, 2], cpuIndex: null }, 2)).toThrow(
      /3 GPUs cannot be split over 2 ranks/,
    );
  });
});
