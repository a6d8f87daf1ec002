import type { EventStore } from '@aevo/eventstore';

/** The store every replica gets, recording which streams and event types the worker reads, and in which round. */
export function recording(store: EventStore, round: () => number) {
  const reads: Array<{ round: number; kind: 'stream' | 'all'; what: string }> = [];
  const wrapped: EventStore = Object.create(store);
  wrapped.readStream = (id, from) => {
    reads.push({ round: round(), kind: 'stream', what: id });
    return store.readStream(id, from);
  };
  wrapped.readAll = (opts) => {
    reads.push({ round: round(), kind: 'all', what: (opts?.types ?? ['*']).join(',') });
    return store.readAll(opts);
  };
  wrapped.append = (...args) => store.append(...args);
  return { store: wrapped, reads };
}
