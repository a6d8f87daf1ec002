import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { contentHash } from '@aevo/contracts';
import { PostgresEventStore, type StoredEvent } from '@aevo/eventstore';
import { policyHistoryProjection } from '@aevo/policy-engine';
import { roundEvidenceProjection } from '@aevo/evidence';
import {
  BUILTIN_PROJECTIONS,
  DETERMINISTIC_EVENT_TYPES,
  ProjectionRegistry,
  replayDetailed,
  type AnyProjection,
} from '@aevo/projections';

/**
 * What a run left behind, reduced to what the chaos cases compare: the replay hash of every deterministic
 * projection, the count of every deterministic event kind, and the consistency of the log with the JetStream stream.
 */

/**
 * The audit's projections: the deterministic built-ins, the collector's round evidence and the meta-policy's history.
 */
export function auditRegistry(): ProjectionRegistry {
  const extra = [roundEvidenceProjection, policyHistoryProjection] as unknown as AnyProjection[];
  return new ProjectionRegistry([...BUILTIN_PROJECTIONS.filter((p) => p.deterministic !== false), ...extra]);
}

export interface RunRecord {
  /** projection name → hash. */
  hashes: Record<string, string>;
  /** contentHash of `hashes`: one value to compare. */
  replayHash: string;
  snapshots: Record<string, unknown>;
  /** Deterministic event kind → count (kinds that never occurred are 0). */
  counts: Record<string, number>;
  /** Every event kind → count (for the report; non-deterministic kinds legitimately differ). */
  allCounts: Record<string, number>;
  events: number;
  /** Event ids appearing more than once in the store. */
  duplicateIds: string[];
  /** The JetStream stream compared with the store. */
  stream: StreamCheck;
}

export interface StreamCheck {
  messages: number;
  /** Store events missing from the stream (ids). */
  missing: string[];
  /** Stream messages that are not store events, or a store event published twice (ids or "seq n: why"). */
  extra: string[];
  /** First place where stream order differs from store position order, if any. */
  orderMismatch: string | null;
}

export async function readLog(store: PostgresEventStore): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let from = 0;
  for (;;) {
    const batch = await store.readAll({ fromPosition: from, limit: 5000 });
    if (batch.length === 0) return out;
    out.push(...batch);
    from = batch[batch.length - 1].position;
  }
}

/**
 * Reads every message of the stream (by sequence) and checks it holds exactly the store's events, once each, in order.
 */
export async function checkStream(
  natsUrl: string,
  stream: string,
  log: readonly StoredEvent[],
  natsAuth: { user?: string; pass?: string } = {},
): Promise<StreamCheck> {
  const nc = await connect({ servers: natsUrl, timeout: 10_000, ...natsAuth });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const seen = new Map<string, number>();
    const streamIds: string[] = [];
    const extra: string[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (!m) {
        extra.push(`seq ${seq}: missing from the stream (deleted?)`);
        continue;
      }
      const id = m.header?.get('ce-id') || (JSON.parse(new TextDecoder().decode(m.data)) as { id?: string }).id || '';
      if (!id) extra.push(`seq ${seq}: no event id`);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      streamIds.push(id);
    }
    const storeIds = new Set(log.map((e) => e.id));
    for (const [id, n] of seen) {
      if (!storeIds.has(id)) extra.push(id);
      else if (n > 1) extra.push(`${id} published ${n} times`);
    }
    const missing = log.filter((e) => !seen.has(e.id)).map((e) => e.id);
    let orderMismatch: string | null = null;
    const storeOrder = log.map((e) => e.id);
    for (let i = 0; i < Math.max(storeOrder.length, streamIds.length); i++) {
      if (storeOrder[i] !== streamIds[i]) {
        orderMismatch =
          `index ${i}: store has ${storeOrder[i] ?? '(end)'} (${log[i]?.type ?? '-'}), stream has ` +
          `${streamIds[i] ?? '(end)'}`;
        break;
      }
    }
    return { messages: info.state.messages, missing, extra, orderMismatch };
  } finally {
    await nc.close();
  }
}

export function countByType(log: readonly StoredEvent[]): Record<string, number> {
  const all: Record<string, number> = {};
  for (const e of log) all[e.type] = (all[e.type] ?? 0) + 1;
  return Object.fromEntries(
    Object.keys(all)
      .sort()
      .map((k) => [k, all[k]]),
  );
}

export async function recordRun(opts: {
  databaseUrl: string;
  schema: string;
  natsUrl: string;
  natsAuth?: { user?: string; pass?: string };
  stream: string;
}): Promise<RunRecord> {
  const store = await PostgresEventStore.open({
    connectionString: opts.databaseUrl,
    schema: opts.schema,
    applicationName: 'aevo-chaos-verdict',
  });
  try {
    const log = await readLog(store);
    const report = await replayDetailed(store, {
      registry: auditRegistry(),
      toPosition: log.length ? log[log.length - 1].position : 0,
    });
    const hashes = Object.fromEntries(report.projections.map((p) => [p.name, p.hash]));
    const snapshots = Object.fromEntries(report.projections.map((p) => [p.name, p.snapshot]));
    const allCounts = countByType(log);
    const counts = Object.fromEntries([...DETERMINISTIC_EVENT_TYPES].sort().map((t) => [t, allCounts[t] ?? 0]));
    const ids = new Map<string, number>();
    for (const e of log) ids.set(e.id, (ids.get(e.id) ?? 0) + 1);
    const duplicateIds = [...ids].filter(([, n]) => n > 1).map(([id]) => id);
    const stream = await checkStream(opts.natsUrl, opts.stream, log, opts.natsAuth);
    return {
      hashes,
      replayHash: contentHash(hashes),
      snapshots,
      counts,
      allCounts,
      events: log.length,
      duplicateIds,
      stream,
    };
  } finally {
    await store.close();
  }
}

/** Where two JSON values differ: up to `limit` paths with both sides (shortened). */
export function jsonDiff(a: unknown, b: unknown, limit = 12, at = '$', out: string[] = []): string[] {
  if (out.length >= limit) return out;
  if (a === b) return out;
  const short = (v: unknown) => {
    const s = JSON.stringify(v);
    return s === undefined ? 'undefined' : s.length > 160 ? `${s.slice(0, 157)}...` : s;
  };
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = Array.isArray(a)
      ? [...Array(Math.max(a.length, (b as unknown[]).length)).keys()].map(String)
      : [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys)
      jsonDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], limit, `${at}.${k}`, out);
    return out;
  }
  out.push(`${at}: ${short(a)} ≠ ${short(b)}`);
  return out;
}

/**
 * Everything that makes a disturbed run differ from the undisturbed one, as readable lines (empty = same
 * campaign): projection hashes (with the first differing paths), deterministic counts, duplicate ids, stream
 * consistency.
 */
export function compareRuns(baseline: RunRecord, run: RunRecord): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(baseline.hashes)) {
    if (baseline.hashes[name] === run.hashes[name]) continue;
    problems.push(
      `projection ${name}: hash ${run.hashes[name]?.slice(0, 12)} ≠ undisturbed ${baseline.hashes[name].slice(0, 12)}`,
    );
    for (const d of jsonDiff(baseline.snapshots[name], run.snapshots[name], 8))
      problems.push(`  ${d} (undisturbed ≠ this run)`);
  }
  for (const [type, n] of Object.entries(baseline.counts)) {
    if (run.counts[type] !== n)
      problems.push(
        `${type}: ${run.counts[type]} event(s), undisturbed run had ${n} (` +
          `${run.counts[type] < n ? 'lost' : 'duplicated'})`,
      );
  }
  // A disturbance is no reason to give up on a message: the outage must not count against its deliveries.
  const deadLetters = run.allCounts.MessageDeadLettered ?? 0;
  if (deadLetters > (baseline.allCounts.MessageDeadLettered ?? 0))
    problems.push(
      `${deadLetters} message(s) dead-lettered (MessageDeadLettered), the undisturbed run had ` +
        `${baseline.allCounts.MessageDeadLettered ?? 0}`,
    );
  problems.push(...streamProblems(run));
  return problems;
}

/** A run's own consistency: unique ids, and the stream holding exactly the store's events. */
export function streamProblems(run: RunRecord): string[] {
  const problems: string[] = [];
  if (run.duplicateIds.length)
    problems.push(`event ids stored more than once: ${run.duplicateIds.slice(0, 5).join(', ')}`);
  if (run.stream.messages !== run.events)
    problems.push(`JetStream holds ${run.stream.messages} message(s), the store ${run.events} event(s)`);
  if (run.stream.missing.length)
    problems.push(
      `store events missing from JetStream: ${run.stream.missing.length} (` +
        `${run.stream.missing.slice(0, 3).join(', ')})`,
    );
  if (run.stream.extra.length)
    problems.push(`JetStream messages not matching the store once: ${run.stream.extra.slice(0, 5).join('; ')}`);
  if (run.stream.orderMismatch) problems.push(`JetStream order differs from the store: ${run.stream.orderMismatch}`);
  return problems;
}
