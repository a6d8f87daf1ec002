import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { seededRandom } from '@aevo/contracts';

/**
 * Where a case disturbs a run: right after the live log holds `occurrence` events of `type` (a point the
 * undisturbed run passed through inside round `round`), plus `delayMs`. Chosen from the undisturbed run's log with a
 * seeded generator, so a case with the same seed disturbs the same point, and the choice is printed and recorded.
 */
export interface TriggerPoint {
  round: number;
  type: string;
  /** 1-based: fire when the log holds at least this many events of `type`. */
  occurrence: number;
  /** Position of that event in the undisturbed run (for the report). */
  baselinePosition: number;
  delayMs: number;
  /**
   * The event of `round` that ends the window (RoundClosed; RoundEvidenceRecorded in the last round, whose close
   * is followed within milliseconds by the final audit and CampaignCompleted). The delay is cut short when it
   * appears, so the disturbance still lands while the campaign runs.
   */
  until: string;
}

/** The control plane's seeded generator (mulberry32, uniform in [0, 1)). */
export { seededRandom };

/** A 32-bit seed for one case, derived from the suite seed and the case name. */
export function caseSeed(suiteSeed: number, caseName: string): number {
  return createHash('sha256').update(`${suiteSeed}:${caseName}`).digest().readUInt32BE(0);
}

/** What the chooser needs of an event. */
export interface LoggedEvent {
  position: number;
  type: string;
  source: string;
  data: unknown;
  /** ISO time of the append (bounds the delay: the disturbance should land before the round ends). */
  time?: string;
}

export interface RoundWindow {
  /** Position of the round's RoundStarted. */
  from: number;
  /** Position of the event that ends the window (see TriggerPoint.until); Infinity while the round is open. */
  to: number;
  until: string;
}

/**
 * Positions strictly inside each round: after its RoundStarted, before its RoundClosed — in the last closed
 * round, before its RoundEvidenceRecorded (what follows it there is the campaign's end).
 */
export function roundWindows(log: readonly LoggedEvent[]): Map<number, RoundWindow> {
  const windows = new Map<number, RoundWindow>();
  const evidence = new Map<number, number>();
  for (const e of log) {
    const round = (e.data as { round?: number }).round;
    if (typeof round !== 'number') continue;
    if (e.type === 'RoundStarted')
      windows.set(round, { from: e.position, to: Number.POSITIVE_INFINITY, until: 'RoundClosed' });
    if (e.type === 'RoundEvidenceRecorded' && !evidence.has(round)) evidence.set(round, e.position);
    if (e.type === 'RoundClosed') {
      const w = windows.get(round);
      if (w) w.to = e.position;
    }
  }
  const closed = [...windows].filter(([, w]) => Number.isFinite(w.to)).map(([r]) => r);
  const last = closed.length ? Math.max(...closed) : null;
  const w = last === null ? undefined : windows.get(last);
  const ev = last === null ? undefined : evidence.get(last);
  if (w && ev !== undefined && ev > w.from) Object.assign(w, { to: ev, until: 'RoundEvidenceRecorded' });
  return windows;
}

export interface ChooseOptions {
  seed: number;
  /** Prefer points where this service is at work: events it emitted (`source`) or consumes. */
  service?: string;
  consumes?: readonly string[];
  /**
   * Upper bound of the seeded extra delay after the trigger event (default 1500 ms); it is also kept under 80 % of
   * the time the undisturbed run took from that event to the end of the window.
   */
  maxDelayMs?: number;
}

/**
 * Picks a round, then an event strictly inside it (among the kinds the service emits or consumes when there are
 * any), and returns it as "the n-th event of its type", which any run of the same campaign passes through. The
 * pick goes by (kind, rank within the round) in name order, never by log position, so it does not depend on how
 * concurrent streams happened to interleave in the undisturbed run: the same seed gives the same point.
 */
export function chooseTrigger(log: readonly LoggedEvent[], opts: ChooseOptions): TriggerPoint {
  const random = seededRandom(opts.seed);
  const windows = [...roundWindows(log)].filter(([, w]) => Number.isFinite(w.to)).sort((a, b) => a[0] - b[0]);
  if (windows.length === 0) throw new Error('the undisturbed log has no closed round to disturb');
  const [round, w] = windows[Math.floor(random() * windows.length)];
  const inside = log.filter((e) => e.position > w.from && e.position < w.to);
  if (inside.length === 0) throw new Error(`round ${round} has no event between RoundStarted and ${w.until}`);
  const consumes = new Set(opts.consumes ?? []);
  const ownKinds = new Set(
    opts.service ? inside.filter((e) => e.source === opts.service || consumes.has(e.type)).map((e) => e.type) : [],
  );
  const pool = ownKinds.size > 0 ? inside.filter((e) => ownKinds.has(e.type)) : inside;
  const byKind = new Map<string, LoggedEvent[]>();
  for (const e of pool) byKind.set(e.type, [...(byKind.get(e.type) ?? []), e]);
  const choices = [...byKind.keys()]
    .sort()
    .flatMap((type) => byKind.get(type)!.map((e, i) => ({ type, rank: i + 1, e })));
  const chosen = choices[Math.floor(random() * choices.length)];
  const before = log.filter((e) => e.type === chosen.type && e.position <= w.from).length;
  const end = log.find((e) => e.position === w.to);
  const left = chosen.e.time && end?.time ? Date.parse(end.time) - Date.parse(chosen.e.time) : Number.POSITIVE_INFINITY;
  const delayMs = Math.floor(random() * Math.max(0, Math.min(opts.maxDelayMs ?? 1500, 0.8 * left)));
  return {
    round,
    type: chosen.type,
    occurrence: before + chosen.rank,
    baselinePosition: chosen.e.position,
    delayMs,
    until: w.until,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls the live log until it holds `occurrence` events of `type`, then waits `delayMs` — less if the window's end
 * (`until` of the trigger's round) appears meanwhile, so the disturbance still lands while the campaign runs.
 * One connection, opened again after any error (the server may be restarting elsewhere). Throws on the deadline.
 */
export async function waitForTrigger(
  db: { url: string; schema: string },
  point: TriggerPoint,
  opts: { timeoutMs: number; pollMs?: number },
): Promise<{ reachedAt: number; count: number; cutShort: boolean }> {
  const deadline = Date.now() + opts.timeoutMs;
  const pollMs = opts.pollMs ?? 25;
  const sql = `SELECT count(*) FILTER (WHERE type = $1)::int AS n,
                      count(*) FILTER (WHERE type = $3 AND (data->>'round')::int = $2)::int AS ended
                 FROM "${db.schema}".events WHERE type IN ($1, $3)`;
  let client: Client | null = null;
  const poll = async (): Promise<{ n: number; ended: number } | null> => {
    try {
      if (!client) {
        const c = new Client({ connectionString: db.url, connectionTimeoutMillis: 3000 });
        c.on('error', () => undefined);
        client = c;
        await c.connect();
      }
      return (await client.query<{ n: number; ended: number }>(sql, [point.type, point.round, point.until])).rows[0];
    } catch {
      // table not created yet, or the server is away: reconnect on the next poll
      const broken = client;
      client = null;
      await broken?.end().catch(() => undefined);
      await sleep(200);
      return null;
    }
  };
  try {
    while (Date.now() < deadline) {
      const seen = await poll();
      if (seen && seen.n >= point.occurrence) {
        const reachedAt = Date.now();
        const fireAt = reachedAt + point.delayMs;
        while (Date.now() < fireAt) {
          if (((await poll())?.ended ?? 0) > 0) return { reachedAt, count: seen.n, cutShort: true };
          await sleep(Math.max(0, Math.min(pollMs, fireAt - Date.now())));
        }
        return { reachedAt, count: seen.n, cutShort: false };
      }
      await sleep(pollMs);
    }
  } finally {
    await (client as Client | null)?.end().catch(() => undefined);
  }
  throw new Error(`trigger ${point.type} #${point.occurrence} not reached within ${opts.timeoutMs} ms`);
}
