import { pickRunnable, placementFor, SlotAllocator, type QueueEntry } from './slots';

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
