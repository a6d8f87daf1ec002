import { contentHash } from '@aevo/contracts';
import type { EventStore, StoredEvent } from '@aevo/eventstore';
import type { AnyProjection } from './projection';
import { defaultRegistry, type ProjectionRegistry } from './registry';

export interface ProjectionHash {
  name: string;
  /** sha256 of the canonical JSON of the projection's snapshot. */
  hash: string;
  /** Events the projection was given. */
  events: number;
}

export interface ReplayOptions {
  registry?: ProjectionRegistry;
  /**
   * Replay up to and including this position (default: the head when replay starts), so two replays of a live log
   * compare.
   */
  toPosition?: number;
  /** Events read per query (default 5000). */
  batchSize?: number;
}

export interface ReplayReport {
  /** Last position folded (0 for an empty log). */
  upTo: number;
  /** Events read from the log. */
  events: number;
  projections: Array<ProjectionHash & { snapshot: unknown; deterministic: boolean }>;
}

/** Folds events into every projection of a registry, in memory. */
export class ProjectionSet {
  private readonly slots: Array<{ p: AnyProjection; state: unknown; events: number; types: Set<string> | null }>;

  constructor(registry: ProjectionRegistry = defaultRegistry()) {
    this.slots = registry
      .list()
      .map((p) => ({ p, state: p.initial(), events: 0, types: p.eventTypes ? new Set(p.eventTypes) : null }));
  }

  apply(e: StoredEvent): void {
    for (const s of this.slots) {
      if (s.types && !s.types.has(e.type)) continue;
      s.state = s.p.apply(s.state, e);
      s.events++;
    }
  }

  applyAll(events: Iterable<StoredEvent>): this {
    for (const e of events) this.apply(e);
    return this;
  }

  results(): ReplayReport['projections'] {
    return this.slots.map((s) => {
      const snapshot = s.p.snapshot(s.state);
      return {
        name: s.p.name,
        hash: contentHash(snapshot),
        events: s.events,
        snapshot,
        deterministic: s.p.deterministic !== false,
      };
    });
  }

  snapshot(name: string): unknown {
    const s = this.slots.find((x) => x.p.name === name);
    if (!s) throw new Error(`no projection "${name}"`);
    return s.p.snapshot(s.state);
  }
}

/** Rebuilds every projection from position 0 and reports each one's content hash. */
export async function replayDetailed(store: EventStore, opts: ReplayOptions = {}): Promise<ReplayReport> {
  const set = new ProjectionSet(opts.registry ?? defaultRegistry());
  const head = opts.toPosition ?? (await store.headPosition());
  const batchSize = opts.batchSize ?? 5000;
  let from = 0;
  let read = 0;
  let upTo = 0;
  while (from < head) {
    const batch = await store.readAll({ fromPosition: from, limit: batchSize });
    if (batch.length === 0) break;
    for (const e of batch) {
      if (e.position > head) break;
      set.apply(e);
      read++;
      upTo = e.position;
    }
    from = batch[batch.length - 1].position;
  }
  return { upTo, events: read, projections: set.results() };
}

/** `{ name, hash, events }` per projection, after folding the log from position 0. */
export async function replay(store: EventStore, opts: ReplayOptions = {}): Promise<ProjectionHash[]> {
  const report = await replayDetailed(store, opts);
  return report.projections.map(({ name, hash, events }) => ({ name, hash, events }));
}
